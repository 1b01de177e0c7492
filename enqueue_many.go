package webhook

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Batch enqueue: many events in one call, resolved with two queries (the
// events, then the webhooks and subscriptions of every scope named) and
// written with one INSERT on PostgreSQL (arrays unnested server-side, so the
// statement does not grow with the batch) or multi-row INSERTs on SQLite.

// EnqueueEvent is one element of a batch given to EnqueueMany or
// EnqueueManyTx: the arguments of one Enqueue call.
type EnqueueEvent struct {
	// Event is the code of the event, one defined by SyncEvents; required.
	Event string
	// Scopes are the scopes whose enabled webhooks that subscribe to Event
	// (or to AllEvents) receive it, each webhook once. With none, no
	// webhook is resolved, but Event must still exist.
	Scopes []Scope
	// ExtraInfo overlays the event's stored info in the body, as Enqueue's
	// extraInfo does. A "delivery_id" key in it is the delivery id of every
	// delivery of this element; otherwise each gets a fresh one.
	ExtraInfo map[string]any
}

// EnqueueMany is Enqueue for many events at once, in one transaction of its
// own: for each element, in the order given, it returns the delivery ids of
// its deliveries (in the order of its webhooks; empty when no webhook
// subscribes). Each element has the semantics of Enqueue. It is all or
// nothing: every element is checked before anything is written, and an
// invalid element (ErrInvalidArgument), an unknown event (ErrEventNotFound)
// or an oversized one (ErrPayloadTooLarge) fails the call with an error that
// names its index ("events[3]: ...") and writes nothing. An empty batch
// writes nothing and is no error. The workers of this process are woken.
func (c *Client) EnqueueMany(ctx context.Context, events []EnqueueEvent) ([][]string, error) {
	ctx, span := c.tel.tracer.Start(ctx, "webhook.EnqueueMany", trace.WithSpanKind(trace.SpanKindProducer))
	if len(events) == 0 {
		c.endEnqueueManySpan(span, events, nil, nil)
		return [][]string{}, nil
	}
	var b *enqueueBatch
	unlock := c.lockWrites()
	err := c.transaction(ctx, func(tx *gorm.DB) error {
		var err error
		b, err = c.enqueueMany(ctx, tx, events)
		return err
	})
	unlock()
	if err != nil {
		b = nil
	}
	c.endEnqueueManySpan(span, events, b, err)
	if err != nil {
		return nil, err
	}
	c.countEnqueued(ctx, b)
	if b.rows() > 0 {
		c.wakeWorker()
	}
	return b.ids, nil
}

// EnqueueManyTx is EnqueueMany inside the caller's transaction tx, as
// EnqueueTx is Enqueue: the deliveries commit or roll back with the
// caller's own writes, and workers find them at their next poll.
func (c *Client) EnqueueManyTx(ctx context.Context, tx *gorm.DB, events []EnqueueEvent) ([][]string, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: tx is nil: pass the *gorm.DB of the caller's transaction", ErrInvalidArgument)
	}
	ctx, span := c.tel.tracer.Start(ctx, "webhook.EnqueueManyTx", trace.WithSpanKind(trace.SpanKindProducer))
	if len(events) == 0 {
		c.endEnqueueManySpan(span, events, nil, nil)
		return [][]string{}, nil
	}
	b, err := c.enqueueMany(ctx, tx, events)
	c.endEnqueueManySpan(span, events, b, err)
	if err != nil {
		return nil, err
	}
	c.countEnqueued(ctx, b)
	return b.ids, nil
}

// endEnqueueManySpan sets the attributes of a batch's span, as Enqueue's
// (webhook.event when every element has the same event, webhook.scopes
// counting the distinct scopes, webhook.deliveries) plus webhook.events,
// the number of elements, and ends it.
func (c *Client) endEnqueueManySpan(span trace.Span, events []EnqueueEvent, b *enqueueBatch, err error) {
	if span.IsRecording() {
		kv := []attribute.KeyValue{attribute.Int("webhook.events", len(events))}
		if len(events) > 0 {
			same := true
			for _, e := range events[1:] {
				same = same && e.Event == events[0].Event
			}
			if same {
				kv = append(kv, attrEvent.String(events[0].Event))
			}
		}
		scopes := map[Scope]bool{}
		for _, e := range events {
			for _, s := range e.Scopes {
				scopes[s] = true
			}
		}
		span.SetAttributes(append(kv, attribute.Int("webhook.scopes", len(scopes)))...)
	}
	n := 0
	if b != nil {
		n = b.rows()
	}
	c.endEnqueueSpan(span, n, err)
}

// enqueueBatch is a checked batch: the delivery ids per element and the
// columns of its rows, in insertion order.
type enqueueBatch struct {
	ids                                                    [][]string
	deliveryID, event, scopeType, scopeCode, hook, payload []string
}

func (b *enqueueBatch) rows() int { return len(b.deliveryID) }

// countEnqueued adds the batch's deliveries to the webhook.enqueued counter,
// with the attributes Enqueue gives each.
func (c *Client) countEnqueued(ctx context.Context, b *enqueueBatch) {
	if !c.tel.enqueued.Enabled(ctx) {
		return
	}
	type key struct{ event, scopeType, scopeCode, hook string }
	counts := map[key]int64{}
	var order []key
	for i := range b.deliveryID {
		k := key{b.event[i], b.scopeType[i], b.scopeCode[i], b.hook[i]}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	for _, k := range order {
		c.tel.enqueued.Add(ctx, counts[k], c.tel.deliveryAttrs(k.event, k.scopeType, k.scopeCode, k.hook, true, ""))
	}
}

// enqueueMany checks and resolves every element, then writes all the
// deliveries on db; on any error nothing is written.
func (c *Client) enqueueMany(ctx context.Context, db *gorm.DB, events []EnqueueEvent) (*enqueueBatch, error) {
	type element struct {
		deliveryID string
		info       map[string]any
		err        error
	}
	elems := make([]element, len(events))
	codeSet := map[string]bool{}
	scopeSet := map[Scope]bool{}
	var codes []string
	var scopes []Scope
	for i, e := range events {
		if e.Event == "" {
			elems[i].err = fmt.Errorf("%w: event code is empty", ErrInvalidArgument)
			continue
		}
		elems[i].deliveryID, elems[i].info, elems[i].err = splitExtraInfo(e.ExtraInfo)
		if elems[i].err != nil {
			continue
		}
		if !codeSet[e.Event] {
			codeSet[e.Event] = true
			codes = append(codes, e.Event)
		}
		for _, s := range e.Scopes {
			if !scopeSet[s] {
				scopeSet[s] = true
				scopes = append(scopes, s)
			}
		}
	}
	pool := db.Statement.ConnPool
	evs, hooks, err := c.resolveMany(ctx, pool, codes, scopes)
	if err != nil {
		return nil, err
	}
	b := &enqueueBatch{ids: make([][]string, len(events))}
	resolved := map[string][]*batchHook{} // by event and scopes
	for i, e := range events {
		el := &elems[i]
		if el.err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, el.err)
		}
		ev, ok := evs[e.Event]
		if !ok {
			return nil, fmt.Errorf("events[%d]: %w: %q: define it in the events YAML and run SyncEvents", i, ErrEventNotFound, e.Event)
		}
		if ev.err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, ev.err)
		}
		key := resolutionKey(e.Event, e.Scopes)
		targets, ok := resolved[key]
		if !ok {
			targets = hooks.targets(e.Event, e.Scopes)
			resolved[key] = targets
		}
		eventJSON, err := eventPayloadJSON(ev.Event, el.info)
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
		if len(eventJSON) > c.cfg.MaxPayloadBytes {
			return nil, fmt.Errorf("events[%d]: %w: the event is %d bytes, more than MaxPayloadBytes (%d); nothing was enqueued", i, ErrPayloadTooLarge, len(eventJSON), c.cfg.MaxPayloadBytes)
		}
		ids := make([]string, len(targets))
		payload := string(eventJSON)
		for j, t := range targets {
			ids[j] = el.deliveryID
			if ids[j] == "" {
				ids[j] = newDeliveryID()
			}
			b.deliveryID = append(b.deliveryID, ids[j])
			b.event = append(b.event, ev.Code)
			b.scopeType = append(b.scopeType, t.scopeType)
			b.scopeCode = append(b.scopeCode, t.scopeCode)
			b.hook = append(b.hook, t.code)
			b.payload = append(b.payload, payload)
		}
		b.ids[i] = ids
	}
	if b.rows() == 0 {
		return b, nil
	}
	now := c.now().UTC()
	var tp *string
	if v := c.tel.traceParent(ctx); v != "" {
		tp = &v
	}
	if err := c.insertBatch(ctx, db, b, now, tp); err != nil {
		return nil, err
	}
	return b, nil
}

// resolutionKey identifies an event and a list of scopes.
func resolutionKey(event string, scopes []Scope) string {
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(len(event)))
	sb.WriteByte(':')
	sb.WriteString(event)
	for _, s := range scopes {
		sb.WriteString(strconv.Itoa(len(s.Type)))
		sb.WriteByte(':')
		sb.WriteString(s.Type)
		sb.WriteString(strconv.Itoa(len(s.Code)))
		sb.WriteByte(':')
		sb.WriteString(s.Code)
	}
	return sb.String()
}

// batchEvent is an event resolved for a batch, or why its row is unusable.
type batchEvent struct {
	Event
	err error
}

// batchHook is an enabled webhook of a batch's scopes with the events it
// subscribes to among the batch's (AllEvents included).
type batchHook struct {
	id                         int64
	code, scopeType, scopeCode string
	events                     map[string]bool
}

// batchHooks are the webhooks of a batch's scopes, by scope.
type batchHooks map[Scope][]*batchHook

// targets returns the webhooks of scopes that subscribe to event or to
// AllEvents, each once, in creation order: what resolveOn finds.
func (h batchHooks) targets(event string, scopes []Scope) []*batchHook {
	var out []*batchHook
	seen := make(map[Scope]bool, len(scopes))
	for _, s := range scopes {
		if seen[s] {
			continue
		}
		seen[s] = true
		for _, w := range h[s] {
			if w.events[event] || w.events[AllEvents] {
				out = append(out, w)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Chunks of the resolution queries on SQLite, whose statements hold at
// most 32,766 variables: scopes take two each, events one.
const (
	batchScopesPerQuery = 4000
	batchEventsPerQuery = 1000
)

// resolveMany loads the events of codes and the enabled webhooks of scopes
// with their subscriptions to those events or to AllEvents: one query each
// on PostgreSQL (array parameters), chunked on SQLite.
func (c *Client) resolveMany(ctx context.Context, pool gorm.ConnPool, codes []string, scopes []Scope) (map[string]batchEvent, batchHooks, error) {
	evs := make(map[string]batchEvent, len(codes))
	hooks := batchHooks{}
	if len(codes) == 0 {
		return evs, hooks, nil
	}
	pg := c.db.Dialector.Name() == dialectPostgres
	if !pg {
		pool = unprepared(pool) // the statements' text varies with the batch
	}
	scan := func(q string, args []any, each func(rows *sql.Rows) error) error {
		rows, err := pool.QueryContext(ctx, c.ph.rebind(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	scanEvent := func(rows *sql.Rows) error {
		var r eventRow
		if err := rows.Scan(&r.Code, &r.Name, &r.Description, &r.Info); err != nil {
			return err
		}
		ev, err := r.event()
		evs[r.Code] = batchEvent{Event: ev, err: err}
		return nil
	}
	const eventSQL = "SELECT code, name, description, info FROM webhook_event WHERE code "
	if pg {
		if err := scan(eventSQL+"= ANY(?::text[])", []any{pgTextArray(codes)}, scanEvent); err != nil {
			return nil, nil, fmt.Errorf("webhook: resolving %d events: %w", len(codes), err)
		}
	} else {
		for rest := codes; len(rest) > 0; {
			chunk := rest[:min(len(rest), batchEventsPerQuery)]
			rest = rest[len(chunk):]
			if err := scan(eventSQL+"IN ("+marks(len(chunk))+")", anys(chunk), scanEvent); err != nil {
				return nil, nil, fmt.Errorf("webhook: resolving %d events: %w", len(codes), err)
			}
		}
	}
	if len(scopes) == 0 {
		return evs, hooks, nil
	}
	byID := map[int64]*batchHook{}
	scanHook := func(rows *sql.Rows) error {
		var (
			id                                  int64
			code, scopeType, scopeCode, evtCode string
		)
		if err := rows.Scan(&id, &code, &scopeType, &scopeCode, &evtCode); err != nil {
			return err
		}
		h := byID[id]
		if h == nil {
			h = &batchHook{id: id, code: code, scopeType: scopeType, scopeCode: scopeCode, events: map[string]bool{}}
			byID[id] = h
			s := Scope{scopeType, scopeCode}
			hooks[s] = append(hooks[s], h)
		}
		h.events[evtCode] = true
		return nil
	}
	const join = ` JOIN webhook_webhook w ON w.scope_type = k.t AND w.scope_code = k.c AND w.enable_webhook = ?
		JOIN webhook_subscription s ON s.scope_type = w.scope_type AND s.scope_code = w.scope_code AND s.webhook_code = w.code`
	const cols = "SELECT w.id, w.code, w.scope_type, w.scope_code, s.event_code FROM "
	if pg {
		types, codesOfScopes := make([]string, len(scopes)), make([]string, len(scopes))
		for i, s := range scopes {
			types[i], codesOfScopes[i] = s.Type, s.Code
		}
		q := cols + "unnest(?::text[], ?::text[]) AS k(t, c)" + join + " WHERE s.event_code = ANY(?::text[])"
		if err := scan(q, []any{pgTextArray(types), pgTextArray(codesOfScopes), true, pgTextArray(append([]string{AllEvents}, codes...))}, scanHook); err != nil {
			return nil, nil, fmt.Errorf("webhook: resolving the webhooks of %d scopes: %w", len(scopes), err)
		}
		return evs, hooks, nil
	}
	// SQLite: the scopes as a VALUES list, the events as an IN list unless
	// there are too many (then the subscriptions are filtered here: hooks
	// keeps the events it is asked about only).
	var evFilter string
	var evArgs []any
	if len(codes) < batchEventsPerQuery {
		evFilter = " WHERE s.event_code IN (" + marks(len(codes)+1) + ")"
		evArgs = append([]any{AllEvents}, anys(codes)...)
	}
	for rest := scopes; len(rest) > 0; {
		chunk := rest[:min(len(rest), batchScopesPerQuery)]
		rest = rest[len(chunk):]
		var sb strings.Builder
		args := make([]any, 0, 2*len(chunk)+1+len(evArgs))
		sb.WriteString("WITH k(t, c) AS (VALUES ")
		for i, s := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?, ?)")
			args = append(args, s.Type, s.Code)
		}
		sb.WriteString(") " + cols + "k" + join + evFilter)
		args = append(append(args, true), evArgs...)
		if err := scan(sb.String(), args, scanHook); err != nil {
			return nil, nil, fmt.Errorf("webhook: resolving the webhooks of %d scopes: %w", len(scopes), err)
		}
	}
	return evs, hooks, nil
}

// insertBatchPostgres writes a batch in one statement whatever its size:
// the varying columns travel as six text arrays that unnest turns back
// into rows, in order (WITH ORDINALITY), so that ids follow the batch.
const insertBatchPostgres = `INSERT INTO webhook_delivery (` + deliveryInsertColumns + `)
	SELECT u.delivery_id, u.event_code, u.scope_type, u.scope_code, u.webhook_code, u.payload, $7::text, 0, $8::timestamptz, $8::timestamptz, $9::text
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
		WITH ORDINALITY AS u(delivery_id, event_code, scope_type, scope_code, webhook_code, payload, n)
	ORDER BY u.n`

// insertBatch writes the rows of a batch on db: one statement on
// PostgreSQL, multi-row INSERTs elsewhere, under a savepoint (or a
// transaction) of their own when there are several, so that a failure
// leaves none of them.
func (c *Client) insertBatch(ctx context.Context, db *gorm.DB, b *enqueueBatch, now time.Time, tp *string) error {
	pool := db.Statement.ConnPool
	if c.db.Dialector.Name() == dialectPostgres {
		if _, err := pool.ExecContext(ctx, insertBatchPostgres,
			pgTextArray(b.deliveryID), pgTextArray(b.event), pgTextArray(b.scopeType), pgTextArray(b.scopeCode), pgTextArray(b.hook), pgTextArray(b.payload),
			StatusPending, now, tp); err != nil {
			return fmt.Errorf("webhook: enqueueing %d deliveries: %w", b.rows(), err)
		}
		return nil
	}
	rows := make([][]any, b.rows())
	for i := range rows {
		rows[i] = []any{b.deliveryID[i], b.event[i], b.scopeType[i], b.scopeCode[i], b.hook[i], b.payload[i], StatusPending, 0, now, now, tp}
	}
	if len(rows) <= deliveriesPerInsert {
		return c.insertDeliveries(ctx, pool, rows)
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return c.insertDeliveries(ctx, tx.Statement.ConnPool, rows)
	})
}
