package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
)

// The deliveries of a scope (Client.Deliveries, paged by its keyset
// cursor), one with its attempts (Client.History), and redelivery
// (Client.Redeliver, Client.RedeliverFailed).

const (
	// maxDeliveryIDLen bounds the {delivery_id} of a path.
	maxDeliveryIDLen = 255
	// maxAttempts bounds the attempts GET …/deliveries/{delivery_id}
	// answers, newest first.
	maxAttempts = 500
	// maxDeliveriesOfID bounds the deliveries of one delivery id it
	// answers (one per webhook a broadcast given the id reached).
	maxDeliveriesOfID = 100
)

// deliveryID reads and checks the {delivery_id} of a path.
func deliveryID(r *http.Request) (string, error) {
	id := r.PathValue("delivery_id")
	if id == "" || len(id) > maxDeliveryIDLen {
		return "", badArg("delivery_id", fmt.Sprintf("a delivery id is 1 to %d bytes long", maxDeliveryIDLen))
	}
	return id, nil
}

// timeParam reads an RFC 3339 time of the query.
func timeParam(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badArg(name, fmt.Sprintf("%s must be an RFC 3339 time such as 2025-01-02T15:04:05Z", name))
	}
	return t, nil
}

func (h *handler) listDeliveries(r *http.Request, c *call) (reply, error) {
	q := r.URL.Query()
	limit, err := pageSize(q)
	if err != nil {
		return reply{}, err
	}
	dq := webhook.DeliveryQuery{ScopeType: c.scope.Type, ScopeCode: c.scope.Code, WebhookCode: q.Get("webhook"),
		EventCode: q.Get("event"), Status: q.Get("status"), Cursor: q.Get("cursor"), Limit: limit + 1}
	switch dq.Status {
	case "", webhook.StatusPending, webhook.StatusSucceeded, webhook.StatusFailed, webhook.StatusCancelled:
	default:
		return reply{}, badArg("status", "status must be pending, succeeded, failed or cancelled")
	}
	switch q.Get("queued") {
	case "", "false":
	case "true":
		dq.QueuedOnly = true
	default:
		return reply{}, badArg("queued", "queued must be true (the outbox alone) or false (every delivery, the default)")
	}
	if dq.Since, err = timeParam(q, "since"); err != nil {
		return reply{}, err
	}
	if dq.Until, err = timeParam(q, "until"); err != nil {
		return reply{}, err
	}
	list, err := h.client.Deliveries(r.Context(), dq)
	if err != nil {
		return reply{}, err
	}
	out := pageJSON[deliveryJSON]{Data: []deliveryJSON{}}
	if len(list) > limit {
		list = list[:limit]
		next := list[limit-1].Cursor
		out.NextCursor = &next
	}
	for _, d := range list {
		out.Data = append(out.Data, deliveryOf(d))
	}
	return jsonReply(http.StatusOK, out)
}

// deliveryDetailJSON is a delivery id with its deliveries (usually one; a
// broadcast given a delivery id sends it to each of its webhooks under it)
// and their attempts.
type deliveryDetailJSON struct {
	DeliveryID        string         `json:"delivery_id"`
	Deliveries        []deliveryJSON `json:"deliveries"`
	Attempts          []attemptJSON  `json:"attempts"`
	AttemptsTruncated bool           `json:"attempts_truncated"`
}

func (h *handler) getDelivery(r *http.Request, c *call) (reply, error) {
	id, err := deliveryID(r)
	if err != nil {
		return reply{}, err
	}
	ctx := r.Context()
	list, err := h.client.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id, ScopeType: c.scope.Type, ScopeCode: c.scope.Code, Limit: maxDeliveriesOfID})
	if err != nil {
		return reply{}, err
	}
	hist, err := h.client.History(ctx, webhook.HistoryQuery{DeliveryID: id, ScopeType: c.scope.Type, ScopeCode: c.scope.Code, Limit: maxAttempts + 1})
	if err != nil {
		return reply{}, err
	}
	if len(list) == 0 && len(hist) == 0 {
		return reply{}, deliveryMissing(id, c.scope)
	}
	out := deliveryDetailJSON{DeliveryID: id, Deliveries: []deliveryJSON{}, Attempts: []attemptJSON{}}
	if len(hist) > maxAttempts {
		hist, out.AttemptsTruncated = hist[:maxAttempts], true
	}
	for _, d := range list {
		out.Deliveries = append(out.Deliveries, deliveryOf(d))
	}
	for _, a := range hist {
		out.Attempts = append(out.Attempts, attemptOf(a))
	}
	return jsonReply(http.StatusOK, out)
}

// deliveryMissing is the 404 of a delivery id the scope does not have,
// whether or not another scope has it.
func deliveryMissing(id string, s webhook.Scope) error {
	return newError(http.StatusNotFound, CodeDeliveryNotFound,
		fmt.Sprintf("scope %s has no delivery %s: check the id in GET …/deliveries (history may have been pruned)", s, strconv.Quote(truncate(id, 80))))
}

// redeliverJSON is the answer of POST …/redeliver.
type redeliverJSON struct {
	DeliveryID string `json:"delivery_id"`
}

func (h *handler) redeliver(r *http.Request, c *call) (reply, error) {
	id, err := deliveryID(r)
	if err != nil {
		return reply{}, err
	}
	// In this scope only: other scopes' deliveries that share the id (a
	// broadcast over several scopes given one id) are left alone.
	if err := h.client.RedeliverIn(r.Context(), c.scope, id); err != nil {
		if errors.Is(err, webhook.ErrDeliveryNotFound) {
			return reply{}, deliveryMissing(id, c.scope)
		}
		return reply{}, err
	}
	return jsonReply(http.StatusAccepted, redeliverJSON{DeliveryID: id})
}

// redeliverFailedInput is the body of POST …/deliveries/redeliver-failed.
type redeliverFailedInput struct {
	Webhook string `json:"webhook"`
	Event   string `json:"event"`
	Since   string `json:"since"`
}

// redeliverFailedJSON is its answer.
type redeliverFailedJSON struct {
	Rescheduled int64 `json:"rescheduled"`
}

func (h *handler) redeliverFailed(r *http.Request, c *call) (reply, error) {
	var in redeliverFailedInput
	if c.body != nil {
		if err := decodeJSON(c.body, &in); err != nil {
			return reply{}, err
		}
	}
	f := webhook.RedeliverFilter{ScopeType: c.scope.Type, ScopeCode: c.scope.Code, WebhookCode: in.Webhook, EventCode: in.Event}
	if in.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, in.Since)
		if err != nil {
			return reply{}, badArg("since", "since must be an RFC 3339 time such as 2025-01-02T15:04:05Z")
		}
		f.Since = t
	}
	n, err := h.client.RedeliverFailed(r.Context(), f)
	if err != nil {
		return reply{}, err
	}
	return jsonReply(http.StatusOK, redeliverFailedJSON{Rescheduled: n})
}
