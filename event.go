package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Event is a kind of thing that happens in the service, such as
// "template_update". Events are defined in YAML and synced into the database
// with SyncEvents; a broadcast names one by its code.
type Event struct {
	// Code identifies the event (at most 255 characters).
	Code string
	// Name is a human-readable name.
	Name string
	// Description is optional prose.
	Description string
	// Info is static information sent with every broadcast of the event,
	// overlaid by the broadcast's own extra info. May be nil.
	Info map[string]any
}

func (r *eventRow) event() (Event, error) {
	ev := Event{Code: r.Code, Name: r.Name}
	if r.Description != nil {
		ev.Description = *r.Description
	}
	if len(r.Info) > 0 && string(r.Info) != "null" {
		var info any
		if err := json.Unmarshal(r.Info, &info); err != nil {
			return ev, fmt.Errorf("webhook: event %q: info is not valid JSON: %w", r.Code, err)
		}
		m, ok := info.(map[string]any)
		if !ok {
			return ev, fmt.Errorf("webhook: event %q: info is %s, want a JSON object", r.Code, jsonKind(info))
		}
		ev.Info = m
	}
	return ev, nil
}

// Event returns the event with the given code, or ErrEventNotFound.
func (c *Client) Event(ctx context.Context, code string) (Event, error) {
	var row eventRow
	err := c.dbCtx(ctx).Where("code = ?", code).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Event{}, fmt.Errorf("%w: %q: define it in the events YAML and run SyncEvents", ErrEventNotFound, code)
	}
	if err != nil {
		return Event{}, fmt.Errorf("webhook: loading event %q: %w", code, err)
	}
	return row.event()
}

// Events returns every event, ordered by code.
func (c *Client) Events(ctx context.Context) ([]Event, error) {
	var rows []eventRow
	if err := c.dbCtx(ctx).Order("code").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading events: %w", err)
	}
	out := make([]Event, 0, len(rows))
	for i := range rows {
		ev, err := rows[i].event()
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
