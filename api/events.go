package api

import (
	_ "embed"
	"net/http"
)

// eventJSON is one event of the catalog.
type eventJSON struct {
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (h *handler) listEvents(r *http.Request, c *call) (reply, error) {
	events, err := h.client.Events(r.Context())
	if err != nil {
		return reply{}, err
	}
	out := listJSON[eventJSON]{Data: make([]eventJSON, len(events))}
	for i, e := range events {
		out.Data[i] = eventJSON{Code: e.Code, Name: e.Name, Description: e.Description}
	}
	return jsonReply(http.StatusOK, out)
}

// openAPIDocument is the OpenAPI 3.1 description of the API, served at
// /openapi.json.
//
// Its paths are relative to Options.Prefix.
//
//go:embed openapi.json
var openAPIDocument string

func (h *handler) openAPI(r *http.Request, c *call) (reply, error) {
	return reply{status: http.StatusOK, body: []byte(openAPIDocument)}, nil
}
