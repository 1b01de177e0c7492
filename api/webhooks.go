package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
)

// The webhooks of a scope, one at a time, on the library's one-webhook
// calls (Webhook, CreateWebhook, UpdateWebhook, SetWebhookEvents,
// DeleteWebhook, SendTestEvent, RotateWebhookSecret, WebhookChanges).

// webhookCode reads and checks the {webhook_code} of a path.
func webhookCode(r *http.Request) (string, error) {
	code := r.PathValue("webhook_code")
	if code == "" || utf8.RuneCountInString(code) > 255 || !utf8.ValidString(code) {
		return "", badArg("webhook_code", "a webhook code is 1 to 255 characters of UTF-8")
	}
	return code, nil
}

// webhookLocation is the path of a webhook under the mount prefix.
func (h *handler) webhookLocation(s webhook.Scope, code string) string {
	return h.prefix + "/scopes/" + url.PathEscape(s.Type) + "/" + url.PathEscape(s.Code) + "/webhooks/" + url.PathEscape(code)
}

// webhookReply answers a webhook with its ETag.
func webhookReply(status int, info webhook.WebhookInfo) (reply, error) {
	rp, err := jsonReply(status, webhookOf(info))
	rp.etag = info.ETag
	return rp, err
}

func (h *handler) listAllWebhooks(r *http.Request, c *call) (reply, error) {
	q := r.URL.Query()
	list, err := h.client.Webhooks(r.Context(), webhook.WebhookQuery{ScopeType: q.Get("scope_type"), ScopeCode: q.Get("scope_code")})
	if err != nil {
		return reply{}, err
	}
	out := listJSON[webhookJSON]{Data: make([]webhookJSON, len(list))}
	for i, info := range list {
		out.Data[i] = webhookOf(info)
	}
	return jsonReply(http.StatusOK, out)
}

func (h *handler) listWebhooks(r *http.Request, c *call) (reply, error) {
	ctx := r.Context()
	list, err := h.client.Webhooks(ctx, webhook.WebhookQuery{ScopeType: c.scope.Type, ScopeCode: c.scope.Code})
	if err != nil {
		return reply{}, err
	}
	subs, err := h.client.ScopeSubscriptions(ctx, c.scope.Type, c.scope.Code)
	if err != nil {
		return reply{}, err
	}
	out := listJSON[webhookJSON]{Data: make([]webhookJSON, 0, len(list))}
	for _, info := range list {
		if info.Scope != c.scope {
			continue // WebhookQuery matches each field alone; keep the scope exactly
		}
		info.Events = subs[info.Code]
		if info.Events == nil {
			info.Events = []string{}
		}
		out.Data = append(out.Data, webhookOf(info))
	}
	return jsonReply(http.StatusOK, out)
}

func (h *handler) createWebhook(r *http.Request, c *call) (reply, error) {
	var in createInput
	if err := decodeJSON(c.body, &in); err != nil {
		return reply{}, err
	}
	info, err := h.client.CreateWebhook(r.Context(), c.scope, in.config(), in.Events, webhook.ChangeOptions{Actor: c.principal.actor()})
	if err != nil {
		return reply{}, err
	}
	rp, err := webhookReply(http.StatusCreated, info)
	rp.location = h.webhookLocation(c.scope, info.Code)
	return rp, err
}

func (h *handler) getWebhook(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	info, err := h.client.Webhook(r.Context(), c.scope, code)
	if err != nil {
		return reply{}, err
	}
	return webhookReply(http.StatusOK, info)
}

func (h *handler) updateWebhook(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	patch, err := parsePatch(c.body, code)
	if err != nil {
		return reply{}, err
	}
	opts, err := h.changeOptions(r, c, code)
	if err != nil {
		return reply{}, err
	}
	info, err := h.client.UpdateWebhook(r.Context(), c.scope, code, patch, opts)
	if err != nil {
		return reply{}, err
	}
	return webhookReply(http.StatusOK, info)
}

func (h *handler) deleteWebhook(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	opts, err := h.changeOptions(r, c, code)
	if err != nil {
		return reply{}, err
	}
	if err := h.client.DeleteWebhook(r.Context(), c.scope, code, opts); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusNoContent}, nil
}

// eventsInput is the body of PUT …/events.
type eventsInput struct {
	Events *[]string `json:"events"`
}

func (h *handler) setEvents(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	var in eventsInput
	if err := decodeJSON(c.body, &in); err != nil {
		return reply{}, err
	}
	if in.Events == nil {
		return reply{}, badArg("events", `the body needs "events": an array of event codes ([] for none, ["*"] for all)`)
	}
	opts, err := h.changeOptions(r, c, code)
	if err != nil {
		return reply{}, err
	}
	info, err := h.client.SetWebhookEvents(r.Context(), c.scope, code, *in.Events, opts)
	if err != nil {
		return reply{}, err
	}
	return webhookReply(http.StatusOK, info)
}

// testResultJSON is the outcome of POST …/test.
type testResultJSON struct {
	DeliveryID   string `json:"delivery_id"`
	Success      bool   `json:"success"`
	StatusCode   int    `json:"status_code"`
	Duration     string `json:"duration"`
	Error        string `json:"error,omitempty"`
	ResponseBody string `json:"response_body"`
}

func (h *handler) testWebhook(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	res, err := h.client.SendTestEvent(r.Context(), c.scope, code, webhook.ChangeOptions{Actor: c.principal.actor()})
	if err != nil && res.DeliveryID == "" {
		return reply{}, err
	}
	if err != nil { // sent, but not recorded: the result still stands
		h.log.Warn("api: a test event was sent but not recorded", "scope", c.scope.String(), "webhook", code, "err", err)
	}
	out := testResultJSON{DeliveryID: res.DeliveryID, Success: res.Success, StatusCode: res.StatusCode,
		Duration: formatDuration(res.Duration), ResponseBody: string(res.ResponseBody)}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	return jsonReply(http.StatusOK, out)
}

// rotateInput is the body of POST …/rotate-secret.
type rotateInput struct {
	Grace *duration `json:"grace"`
}

// rotateJSON is the answer of POST …/rotate-secret: the new secret, once.
type rotateJSON struct {
	SigningSecret string       `json:"signing_secret"`
	Grace         string       `json:"grace"`
	Webhook       *webhookJSON `json:"webhook"`
}

func (h *handler) rotateSecret(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	in := rotateInput{}
	if c.body != nil {
		if err := decodeJSON(c.body, &in); err != nil {
			return reply{}, err
		}
	}
	grace := DefaultRotationGrace
	if in.Grace != nil {
		grace = time.Duration(*in.Grace)
	}
	opts, err := h.changeOptions(r, c, code)
	if err != nil {
		return reply{}, err
	}
	secret, err := h.client.RotateWebhookSecret(r.Context(), c.scope, code, grace, opts)
	if err != nil {
		return reply{}, err
	}
	out := rotateJSON{SigningSecret: secret, Grace: formatDuration(grace)}
	info, err := h.client.Webhook(r.Context(), c.scope, code)
	if err != nil { // rotated all the same: the secret must reach the caller
		h.log.Warn("api: a signing secret was rotated but the webhook could not be read again", "scope", c.scope.String(), "webhook", code, "err", err)
	} else {
		j := webhookOf(info)
		out.Webhook = &j
	}
	rp, err := jsonReply(http.StatusOK, out)
	rp.etag = info.ETag
	return rp, err
}

// changeJSON is one entry of a webhook's change log.
type changeJSON struct {
	ID      int64           `json:"id"`
	At      string          `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Changes json.RawMessage `json:"changes"`
}

func (h *handler) listChanges(r *http.Request, c *call) (reply, error) {
	code, err := webhookCode(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	limit, err := pageSize(q)
	if err != nil {
		return reply{}, err
	}
	var before int64
	if cur := q.Get("cursor"); cur != "" {
		n, err := strconv.ParseInt(cur, 10, 64)
		if err != nil || n <= 0 || strconv.FormatInt(n, 10) != cur {
			return reply{}, badArg("cursor", "cursor is not one this list returned: pass next_cursor unchanged, or none for the first page")
		}
		before = n
	}
	list, err := h.client.WebhookChanges(r.Context(), webhook.WebhookChangeQuery{Scope: c.scope, WebhookCode: code, BeforeID: before, Limit: limit + 1})
	if err != nil {
		return reply{}, err
	}
	out := pageJSON[changeJSON]{Data: []changeJSON{}}
	if len(list) > limit {
		list = list[:limit]
		next := strconv.FormatInt(list[limit-1].ID, 10)
		out.NextCursor = &next
	}
	for _, ch := range list {
		changes := ch.Changes
		if len(bytes.TrimSpace(changes)) == 0 {
			changes = json.RawMessage("{}")
		}
		out.Data = append(out.Data, changeJSON{ID: ch.ID, At: stamp(ch.At), Actor: ch.Actor, Action: ch.Action, Changes: changes})
	}
	return jsonReply(http.StatusOK, out)
}

// pageSize reads the limit of a paged list.
func pageSize(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPageSize || strconv.Itoa(n) != s {
		return 0, badArg("limit", fmt.Sprintf("limit must be a whole number from 1 to %d (default %d)", MaxPageSize, DefaultPageSize))
	}
	return n, nil
}

// readOnly reports whether a field of the webhook GET answers cannot be
// set.
func readOnly(k string) bool {
	switch k {
	case "scope", "header_keys", "signing_secrets", "health", "etag", "config_error":
		return true
	}
	return false
}

// parsePatch reads a PATCH body, in the manner of a JSON merge patch
// (RFC 7396): a field left out is kept, null resets it to its default (or
// removes the authentication), an array replaces the whole list.
func parsePatch(body []byte, code string) (webhook.WebhookPatch, error) {
	var p webhook.WebhookPatch
	var fields map[string]json.RawMessage
	if err := decodeJSON(body, &fields); err != nil {
		return p, err
	}
	if fields == nil {
		return p, badArg("", "the body must be a JSON object of the fields to change")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		raw := fields[k]
		null := string(bytes.TrimSpace(raw)) == "null"
		var err error
		switch k {
		case "code":
			var s string
			if err = field(k, raw, &s, "a string"); err == nil && s != code {
				err = badArg(k, "code cannot change: create a webhook with the new code, then delete this one")
			}
		case "name":
			p.Name, err = stringField(k, raw, false)
		case "endpoint":
			p.Endpoint, err = stringField(k, raw, false)
		case "method":
			p.Method, err = stringField(k, raw, true)
			if p.Method != nil {
				*p.Method = strings.ToUpper(*p.Method)
			}
		case "content_type":
			p.ContentType, err = stringField(k, raw, true)
		case "enabled":
			p.Enabled, err = boolField(k, raw, false)
		case "insecure_skip_verify":
			p.InsecureSkipVerify, err = boolField(k, raw, true)
		case "ordered":
			p.Ordered, err = boolField(k, raw, true)
		case "auth":
			if null {
				p.ClearAuth = true
				break
			}
			var a authInput
			if err = decodeField(k, raw, &a); err == nil {
				p.Auth = a.auth()
			}
		case "headers":
			hs := []webhook.Header{}
			if !null {
				var in []headerInput
				if err = decodeField(k, raw, &in); err == nil {
					hs = headersOf(in)
				}
			}
			p.Headers = &hs
		case "events":
			ev := []string{}
			if !null {
				err = field(k, raw, &ev, "an array of event codes")
			}
			p.Events = &ev
		case "timeout":
			var d time.Duration
			if !null {
				var v duration
				if err = field(k, raw, &v, `a duration such as "10s"`); err == nil {
					d = time.Duration(v)
				}
			}
			p.Timeout = &d
		case "retry_times":
			p.RetryTimes, err = intField(k, raw)
		case "max_in_flight":
			p.MaxInFlight, err = intField(k, raw)
		case "rate_limit":
			var f float64
			if !null {
				err = field(k, raw, &f, "a number of requests per second")
			}
			p.RateLimit = &f
		default:
			if readOnly(k) {
				err = badArg(k, k+" is read-only: leave it out of the patch")
			} else {
				err = unknownField(k)
			}
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// field decodes one value of a patch, saying what it should be.
func field(name string, raw json.RawMessage, v any, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		if ae, ok := err.(*apiError); ok {
			ae.details = map[string]any{"field": name}
			ae.msg = name + ": " + ae.msg
			return ae
		}
		return badArg(name, fmt.Sprintf("%s must be %s", name, want))
	}
	return nil
}

// decodeField decodes an object or array of a patch strictly, like a body.
func decodeField(name string, raw json.RawMessage, v any) error {
	if err := decodeJSON(raw, v); err != nil {
		if ae, ok := err.(*apiError); ok {
			ae.msg = name + ": " + ae.msg
			if ae.details == nil {
				ae.details = map[string]any{"field": name}
			}
			return ae
		}
		return err
	}
	return nil
}

func stringField(name string, raw json.RawMessage, nullable bool) (*string, error) {
	s := ""
	if string(bytes.TrimSpace(raw)) == "null" {
		if !nullable {
			return nil, badArg(name, name+" cannot be null: leave it out to keep it")
		}
		return &s, nil
	}
	if err := field(name, raw, &s, "a string"); err != nil {
		return nil, err
	}
	return &s, nil
}

func boolField(name string, raw json.RawMessage, nullable bool) (*bool, error) {
	b := false
	if string(bytes.TrimSpace(raw)) == "null" {
		if !nullable {
			return nil, badArg(name, name+" cannot be null: send true or false, or leave it out to keep it")
		}
		return &b, nil
	}
	if err := field(name, raw, &b, "true or false"); err != nil {
		return nil, err
	}
	return &b, nil
}

func intField(name string, raw json.RawMessage) (*int, error) {
	n := 0
	if string(bytes.TrimSpace(raw)) == "null" {
		return &n, nil
	}
	if err := field(name, raw, &n, "a whole number"); err != nil {
		return nil, err
	}
	return &n, nil
}
