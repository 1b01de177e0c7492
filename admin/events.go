package admin

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/scopehook/webhook/internal/htmlview"
)

// The events page: every synced event with its static info. One query.

type eventView struct {
	Code, Name, Description, Info string
	AttemptsLink, DeliveriesLink  string
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) error {
	evs, err := h.client.Events(r.Context())
	if err != nil {
		return htmlview.Failed("list the events", err)
	}
	var rows []eventView
	for _, e := range evs {
		filter := url.Values{"event": {e.Code}}
		v := eventView{Code: e.Code, Name: e.Name, Description: e.Description,
			AttemptsLink: h.link("/attempts", filter), DeliveriesLink: h.link("/deliveries", filter)}
		if len(e.Info) > 0 {
			if b, err := json.MarshalIndent(e.Info, "", "  "); err == nil {
				v.Info = string(b)
			}
		}
		rows = append(rows, v)
	}
	return h.render(w, r, "events", "Events", "events", rows)
}
