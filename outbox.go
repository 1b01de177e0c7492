package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// The durable path: Enqueue (or EnqueueTx, inside the caller's transaction)
// writes one row per resolved webhook to the webhook_delivery table, the
// outbox; the workers started by Start claim due rows, send them with the
// same code as Broadcast, record history, and schedule retries. A delivery is
// sent at least once once its row is committed, whatever happens to the
// process.

// Delivery statuses in webhook_delivery.status.
const (
	// StatusPending deliveries wait for their next attempt (or are in flight
	// under a lease).
	StatusPending = "pending"
	// StatusSucceeded deliveries got a 2xx answer.
	StatusSucceeded = "succeeded"
	// StatusFailed deliveries exhausted their retries (or met 410 Gone, or
	// cannot be sent as configured); they are kept for Redeliver.
	StatusFailed = "failed"
	// StatusCancelled deliveries were not sent because their webhook was
	// deleted or disabled before their turn.
	StatusCancelled = "cancelled"
)

// deliveryRow is one delivery of the outbox: an event snapshot bound for one
// webhook, identified by its scope and code.
type deliveryRow struct {
	ID             int64      `gorm:"column:id;primaryKey;autoIncrement;index:webhook_delivery_order,priority:5;index:webhook_delivery_created,priority:2"`
	DeliveryID     string     `gorm:"column:delivery_id;type:varchar(64);not null;index:webhook_delivery_delivery_id"`
	EventCode      string     `gorm:"column:event_code;type:varchar(255);not null"`
	ScopeType      string     `gorm:"column:scope_type;type:varchar(64);not null;index:webhook_delivery_queue,priority:1;index:webhook_delivery_order,priority:1"`
	ScopeCode      string     `gorm:"column:scope_code;type:varchar(64);not null;index:webhook_delivery_queue,priority:2;index:webhook_delivery_order,priority:2"`
	WebhookCode    string     `gorm:"column:webhook_code;type:varchar(255);not null;index:webhook_delivery_queue,priority:3;index:webhook_delivery_order,priority:3"`
	Payload        []byte     `gorm:"column:payload;type:text;not null"` // the "event" object, byte for byte (text, not jsonb, which would reorder keys)
	Status         string     `gorm:"column:status;type:varchar(16);not null;index:webhook_delivery_due,priority:1;index:webhook_delivery_queue,priority:4;index:webhook_delivery_order,priority:4"`
	Attempts       int        `gorm:"column:attempts;type:integer;not null;default:0"`
	NextAttemptAt  time.Time  `gorm:"column:next_attempt_at;not null;index:webhook_delivery_due,priority:2;index:webhook_delivery_queue,priority:5"` // of a finished delivery: when it finished (for pruning through the same index)
	LeaseOwner     *string    `gorm:"column:lease_owner;type:varchar(32)"`
	LeaseUntil     *time.Time `gorm:"column:lease_until"`
	LastStatusCode *int       `gorm:"column:last_status_code;type:integer"`
	LastError      *string    `gorm:"column:last_error;type:text"`
	CreatedAt      time.Time  `gorm:"column:created_at;not null;autoCreateTime:false;index:webhook_delivery_created,priority:1"`
	FinishedAt     *time.Time `gorm:"column:finished_at"`
	// TraceParent is the W3C traceparent of the span that enqueued the
	// delivery, which the attempts' spans link to.
	TraceParent *string `gorm:"column:trace_parent;type:varchar(64)"`
}

func (deliveryRow) TableName() string { return "webhook_delivery" }

// Enqueue resolves the webhooks that subscribe to the event in the scopes,
// as Broadcast does, and persists one delivery per webhook in the outbox; it
// returns their delivery ids, in the order of the webhooks. The workers
// started by Start send them, retrying over hours (see RetryPolicy). Like
// Broadcast, a "delivery_id" key of extraInfo is used for every delivery;
// otherwise each gets a fresh one. An unknown event is ErrEventNotFound and
// nothing is written.
func (c *Client) Enqueue(ctx context.Context, eventCode string, scopes []Scope, extraInfo map[string]any) ([]string, error) {
	ctx, span := c.startEnqueueSpan(ctx, "webhook.Enqueue", eventCode, scopes)
	unlock := c.lockWrites()
	ids, err := c.enqueue(ctx, c.db, eventCode, scopes, extraInfo)
	unlock()
	c.endEnqueueSpan(span, len(ids), err)
	if err == nil && len(ids) > 0 {
		c.wakeWorker()
	}
	return ids, err
}

// EnqueueTx is Enqueue inside the caller's transaction tx: the deliveries
// commit or roll back with the caller's own writes. If the transaction rolls
// back, nothing is sent; once it commits, the deliveries are sent at least
// once even if the process dies right after. Workers find them at their next
// poll (Config.PollInterval).
func (c *Client) EnqueueTx(ctx context.Context, tx *gorm.DB, eventCode string, scopes []Scope, extraInfo map[string]any) ([]string, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: tx is nil: pass the *gorm.DB of the caller's transaction", ErrInvalidArgument)
	}
	ctx, span := c.startEnqueueSpan(ctx, "webhook.EnqueueTx", eventCode, scopes)
	ids, err := c.enqueue(ctx, tx, eventCode, scopes, extraInfo)
	c.endEnqueueSpan(span, len(ids), err)
	return ids, err
}

// startEnqueueSpan starts the span of an Enqueue call; the deliveries store
// its trace context, and their attempts' spans link to it.
func (c *Client) startEnqueueSpan(ctx context.Context, name, eventCode string, scopes []Scope) (context.Context, trace.Span) {
	ctx, span := c.tel.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(attrEvent.String(eventCode), attribute.Int("webhook.scopes", len(scopes)))
	}
	return ctx, span
}

// endEnqueueSpan ends the span of an Enqueue call that wrote n deliveries.
func (c *Client) endEnqueueSpan(span trace.Span, n int, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attrErrorType.String(errorClass(err)))
	}
	span.SetAttributes(attrDeliveries.Int(n))
	span.End()
}

func (c *Client) enqueue(ctx context.Context, db *gorm.DB, eventCode string, scopes []Scope, extraInfo map[string]any) ([]string, error) {
	if eventCode == "" {
		return nil, fmt.Errorf("%w: event code is empty", ErrInvalidArgument)
	}
	deliveryID, info, err := splitExtraInfo(extraInfo)
	if err != nil {
		return nil, err
	}
	pool := db.Statement.ConnPool
	ev, targets, err := c.resolveOn(ctx, pool, eventCode, scopes, false)
	if err != nil {
		return nil, err
	}
	eventJSON, err := eventPayloadJSON(ev, info)
	if err != nil {
		return nil, err
	}
	if len(eventJSON) > c.cfg.MaxPayloadBytes {
		return nil, fmt.Errorf("%w: the event is %d bytes, more than MaxPayloadBytes (%d); nothing was enqueued", ErrPayloadTooLarge, len(eventJSON), c.cfg.MaxPayloadBytes)
	}
	if len(targets) == 0 {
		return []string{}, nil
	}
	now := c.now().UTC()
	var tp *string
	if v := c.tel.traceParent(ctx); v != "" {
		tp = &v
	}
	ids := make([]string, len(targets))
	rows := make([][]any, len(targets))
	for i, t := range targets {
		ids[i] = deliveryID
		if ids[i] == "" {
			ids[i] = newDeliveryID()
		}
		rows[i] = []any{ids[i], ev.Code, t.row.ScopeType, t.row.ScopeCode, t.row.Code, string(eventJSON), StatusPending, 0, now, now, tp}
	}
	if err := c.insertDeliveries(ctx, pool, rows); err != nil {
		return nil, err
	}
	if c.tel.enqueued.Enabled(ctx) {
		for _, t := range targets {
			c.tel.enqueued.Add(ctx, 1, c.tel.deliveryAttrs(ev.Code, t.row.ScopeType, t.row.ScopeCode, t.row.Code, true, ""))
		}
	}
	return ids, nil
}

// deliveryInsertColumns are the columns insertDeliveries writes, in order.
const deliveryInsertColumns = "delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, created_at, trace_parent"

// deliveriesPerInsert is the number of rows of one INSERT of
// insertDeliveries (11 parameters each).
const deliveriesPerInsert = 500

func (c *Client) insertDeliveries(ctx context.Context, pool gorm.ConnPool, rows [][]any) error {
	for len(rows) > 0 {
		n := min(len(rows), deliveriesPerInsert)
		var sb strings.Builder
		sb.WriteString("INSERT INTO webhook_delivery (" + deliveryInsertColumns + ") VALUES ")
		args := make([]any, 0, n*11)
		for i, r := range rows[:n] {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, r...)
		}
		if _, err := unprepared(pool).ExecContext(ctx, c.ph.rebind(sb.String()), args...); err != nil {
			return fmt.Errorf("webhook: enqueueing %d deliveries: %w", n, err)
		}
		rows = rows[n:]
	}
	return nil
}

// eventPayloadJSON encodes the "event" object of a body: the event with its
// stored info overlaid by the broadcast's extra info.
func eventPayloadJSON(ev Event, info map[string]any) ([]byte, error) {
	merged := make(map[string]any, len(ev.Info)+len(info))
	for k, v := range ev.Info {
		merged[k] = v
	}
	for k, v := range info {
		merged[k] = v
	}
	b, err := marshalJSON(eventPayload{Code: ev.Code, Name: ev.Name, Description: ev.Description, Info: merged})
	if err != nil {
		return nil, fmt.Errorf("%w: extra info cannot be encoded as JSON: %v", ErrInvalidArgument, err)
	}
	return b, nil
}

// Redeliver sends a delivery again, with the same delivery id so that its
// receiver can recognise it, under the webhook's current configuration.
// A delivery of the outbox is made due now with a fresh retry schedule,
// whatever its status (one in flight is left to its worker). A delivery
// known only from history (sent by Broadcast, or pruned from the outbox) is
// rebuilt from the event recorded there and enqueued. Either way the workers
// started by Start send it. It returns ErrDeliveryNotFound when the id is
// unknown.
func (c *Client) Redeliver(ctx context.Context, deliveryID string) error {
	return c.redeliver(ctx, nil, deliveryID)
}

// RedeliverIn is Redeliver limited to the webhooks of one scope: a
// delivery id that other scopes' deliveries share (a caller's own id given
// to a broadcast over several scopes) is redelivered in scope only, and
// one the scope never had is ErrDeliveryNotFound. Tenant-facing code (the
// api and portal packages) uses it.
func (c *Client) RedeliverIn(ctx context.Context, scope Scope, deliveryID string) error {
	if err := validateScope(scope.Type, scope.Code); err != nil {
		return err
	}
	return c.redeliver(ctx, &scope, deliveryID)
}

func (c *Client) redeliver(ctx context.Context, scope *Scope, deliveryID string) error {
	if deliveryID == "" {
		return fmt.Errorf("%w: delivery id is empty", ErrInvalidArgument)
	}
	inScope, scopeArgs := "", []any{}
	if scope != nil {
		inScope, scopeArgs = " AND scope_type = ? AND scope_code = ?", []any{scope.Type, scope.Code}
	}
	now := c.now().UTC()
	// The attempts link to the span of this call from now on.
	var tp *string
	if v := c.tel.traceParent(ctx); v != "" {
		tp = &v
	}
	res := c.dbCtx(ctx).Exec(`UPDATE webhook_delivery SET status = ?, attempts = 0, next_attempt_at = ?,
			finished_at = NULL, last_error = NULL, last_status_code = NULL, trace_parent = COALESCE(?, trace_parent)
		WHERE delivery_id = ? AND lease_owner IS NULL`+inScope, append([]any{StatusPending, now, tp, deliveryID}, scopeArgs...)...)
	if res.Error != nil {
		return fmt.Errorf("webhook: redelivering %s: %w", deliveryID, res.Error)
	}
	if res.RowsAffected > 0 {
		c.tel.enqueued.Add(ctx, res.RowsAffected)
		c.wakeWorker()
		return nil
	}
	var inFlight int64
	if err := c.dbCtx(ctx).Model(&deliveryRow{}).Where("delivery_id = ?"+inScope, append([]any{deliveryID}, scopeArgs...)...).Count(&inFlight).Error; err != nil {
		return fmt.Errorf("webhook: redelivering %s: %w", deliveryID, err)
	}
	if inFlight > 0 {
		return nil // held by a worker right now: it is being sent
	}
	return c.redeliverFromHistory(ctx, scope, deliveryID)
}

// redeliverFromHistory enqueues again, for each webhook that a history row
// of the delivery names, the event its last request carried.
func (c *Client) redeliverFromHistory(ctx context.Context, scope *Scope, deliveryID string) error {
	var rows []historyRow
	db := c.dbCtx(ctx).Where("delivery_id = ?", deliveryID)
	if scope != nil {
		db = db.Where("scope_type = ? AND scope_code = ?", scope.Type, scope.Code)
	}
	if err := db.Order("id DESC").Find(&rows).Error; err != nil {
		return fmt.Errorf("webhook: redelivering %s: %w", deliveryID, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("%w: %q is neither in the outbox nor in history", ErrDeliveryNotFound, deliveryID)
	}
	type key struct{ scopeType, scopeCode, code string }
	seen := map[key]bool{}
	now := c.now().UTC()
	var tp *string
	if v := c.tel.traceParent(ctx); v != "" {
		tp = &v
	}
	var inserts [][]any
	var problems []string
	for _, r := range rows {
		k := key{r.ScopeType, r.ScopeCode, r.WebhookCode}
		if seen[k] {
			continue
		}
		seen[k] = true
		var extra struct {
			Request struct {
				JSON json.RawMessage `json:"json"`
			} `json:"request"`
		}
		var body struct {
			Event json.RawMessage `json:"event"`
		}
		var ev eventPayload
		if json.Unmarshal(r.ExtraInfo, &extra) != nil || json.Unmarshal(extra.Request.JSON, &body) != nil || json.Unmarshal(body.Event, &ev) != nil || ev.Code == "" {
			problems = append(problems, fmt.Sprintf("%s/%s %s: history does not keep the event (not a JSON body)", r.ScopeType, r.ScopeCode, r.WebhookCode))
			continue
		}
		// Encoded again: a jsonb column (PostgreSQL) reorders the keys.
		payload, err := marshalJSON(ev)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/%s %s: %v", r.ScopeType, r.ScopeCode, r.WebhookCode, err))
			continue
		}
		inserts = append(inserts, []any{deliveryID, r.EventCode, r.ScopeType, r.ScopeCode, r.WebhookCode, string(payload), StatusPending, 0, now, now, tp})
	}
	if len(inserts) == 0 {
		return fmt.Errorf("%w: %q cannot be rebuilt: %s", ErrDeliveryNotFound, deliveryID, strings.Join(problems, "; "))
	}
	if err := c.insertDeliveries(ctx, c.db.Statement.ConnPool, inserts); err != nil {
		return err
	}
	c.tel.enqueued.Add(ctx, int64(len(inserts)))
	c.wakeWorker()
	if len(problems) > 0 {
		return fmt.Errorf("webhook: redelivered %q to %d webhook(s), not to: %s", deliveryID, len(inserts), strings.Join(problems, "; "))
	}
	return nil
}

// RedeliverFilter selects failed deliveries for RedeliverFailed. Zero fields
// do not filter.
type RedeliverFilter struct {
	ScopeType   string
	ScopeCode   string
	WebhookCode string
	EventCode   string
	// Since selects deliveries created at or after it.
	Since time.Time
}

// RedeliverFailed makes every failed delivery of the outbox that matches f
// due now, with a fresh retry schedule and its original delivery id, in
// batches of 1,000, and returns how many it rescheduled.
func (c *Client) RedeliverFailed(ctx context.Context, f RedeliverFilter) (int64, error) {
	where, args := equalities(eq{"status", StatusFailed}, eq{"scope_type", f.ScopeType}, eq{"scope_code", f.ScopeCode},
		eq{"webhook_code", f.WebhookCode}, eq{"event_code", f.EventCode})
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, f.Since.UTC())
	}
	var total int64
	for {
		now := c.now().UTC()
		q := `UPDATE webhook_delivery SET status = ?, attempts = 0, next_attempt_at = ?, finished_at = NULL,
				last_error = NULL, last_status_code = NULL
			WHERE id IN (SELECT id FROM webhook_delivery WHERE ` + strings.Join(where, " AND ") + ` ORDER BY id LIMIT 1000)`
		res := c.dbCtx(ctx).Exec(q, append([]any{StatusPending, now}, args...)...)
		if res.Error != nil {
			return total, fmt.Errorf("webhook: redelivering failed deliveries: %w", res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected == 0 {
			break
		}
		c.wakeWorker()
	}
	return total, nil
}

// CountDeliveries returns the number of outbox deliveries per status. The
// pending, failed and cancelled counts are exact: ranges of the index on
// status, which stay small while the workers keep up. Succeeded is the
// outbox's row count minus those. On SQLite the row count is exact. On
// PostgreSQL, where counting the rows of a large table reads all of it,
// a table the statistics (pg_class.reltuples, which autovacuum and ANALYZE
// keep) put at over countExactRows rows is taken at that estimate, and
// succeeded may then be off by the rows written or pruned since.
func (c *Client) CountDeliveries(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	db := c.dbCtx(ctx)
	if err := db.Model(&deliveryRow{}).Select("status, COUNT(*) AS n").Where("status IN ?", []string{StatusPending, StatusFailed, StatusCancelled}).
		Group("status").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: counting deliveries: %w", err)
	}
	out := map[string]int64{StatusPending: 0, StatusSucceeded: 0, StatusFailed: 0, StatusCancelled: 0}
	var others int64
	for _, r := range rows {
		out[r.Status] = r.N
		others += r.N
	}
	total := int64(-1)
	if c.db.Dialector.Name() == dialectPostgres {
		var estimate float64
		if err := db.Raw("SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", "webhook_delivery").Scan(&estimate).Error; err != nil {
			return nil, fmt.Errorf("webhook: counting deliveries: %w", err)
		}
		if estimate > countExactRows {
			total = int64(estimate)
		}
	}
	if total < 0 {
		if err := db.Model(&deliveryRow{}).Count(&total).Error; err != nil {
			return nil, fmt.Errorf("webhook: counting deliveries: %w", err)
		}
	}
	out[StatusSucceeded] = max(total-others, 0)
	return out, nil
}

// countExactRows is the size, by PostgreSQL's statistics, up to which
// CountDeliveries counts the outbox's rows instead of taking the estimate.
const countExactRows = 100_000
