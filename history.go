package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"gorm.io/gorm"
)

// History is one delivery attempt as recorded in webhook_history: what was
// sent, what came back. Credentials are redacted in everything recorded.
// Rows written by the Python package have Attempt 1 and no duration or
// error text.
type History struct {
	ID          int64     `json:"id"`
	DeliveryID  string    `json:"delivery_id"`
	WebhookCode string    `json:"webhook_code"`
	EventCode   string    `json:"event_code"`
	ScopeType   string    `json:"scope_type"`
	ScopeCode   string    `json:"scope_code"`
	CreatedAt   time.Time `json:"created_at"`
	Success     bool      `json:"success"`
	// StatusCode is 0 when no response arrived.
	StatusCode int `json:"status_code"`
	// Attempt is 1 for the first request of a delivery.
	Attempt int `json:"attempt"`
	// Queued reports whether the delivery went through the outbox
	// (Enqueue); false for Broadcast's and the Python package's.
	Queued bool `json:"queued"`
	// Duration of the attempt; encoded in JSON as duration_us, microseconds.
	Duration time.Duration `json:"-"`
	// Error says why the attempt failed; empty on success.
	Error    string          `json:"error,omitempty"`
	Request  HistoryRequest  `json:"request"`
	Response HistoryResponse `json:"response"`
	// ExtraInfo is the extra_info column (request and response as stored,
	// credentials redacted).
	ExtraInfo json.RawMessage `json:"-"`
}

// MarshalJSON encodes the row with snake_case keys and the duration in
// microseconds, as the columns are named.
func (h History) MarshalJSON() ([]byte, error) {
	type plain History
	return json.Marshal(struct {
		plain
		DurationUS int64 `json:"duration_us"`
	}{plain(h), h.Duration.Microseconds()})
}

// HistoryRequest is the request part of a history row.
type HistoryRequest struct {
	URL    string            `json:"url"`
	Method string            `json:"method"`
	Params map[string]any    `json:"params,omitempty"`
	Header map[string]string `json:"headers,omitempty"`
	// JSON is the body when it was JSON (the Python package's "json" key).
	JSON json.RawMessage `json:"json,omitempty"`
	// Form is the body when it was form-encoded.
	Form    string   `json:"data,omitempty"`
	Timeout *float64 `json:"timeout"`
	Verify  bool     `json:"verify"`
}

// HistoryResponse is the response part of a history row. Rows written by the
// Python package keep only the parsed response body, in Body.
type HistoryResponse struct {
	StatusCode int               `json:"status_code,omitempty"`
	Header     map[string]string `json:"headers,omitempty"`
	// HeaderTruncated reports that Header leaves out headers of the
	// response: together they were over Config.MaxResponseHeaderBytes.
	HeaderTruncated bool   `json:"headers_truncated,omitempty"`
	Body            string `json:"body"`
	BodyTruncated   bool   `json:"body_truncated,omitempty"`
}

type historyExtra struct {
	Request  HistoryRequest   `json:"request"`
	Response *HistoryResponse `json:"response"`
}

// HistoryQuery filters History. Zero fields do not filter.
type HistoryQuery struct {
	DeliveryID  string
	WebhookCode string
	EventCode   string
	ScopeType   string
	ScopeCode   string
	Success     *bool
	StatusCode  int
	// Since and Until bound created_at: Since <= created_at < Until.
	Since time.Time
	Until time.Time
	// BeforeID returns only rows with a smaller id: pass the last ID of a
	// page to get the next (older) one (keyset pagination).
	BeforeID int64
	// AfterID returns only rows with a larger id, the ones just above it:
	// pass the first ID of a page to get the previous (newer) one. Rows
	// still come newest first.
	AfterID int64
	// Limit is the maximum number of rows. Zero means DefaultHistoryLimit;
	// at most MaxHistoryLimit.
	Limit int
}

// History returns recorded attempts, newest first.
func (c *Client) History(ctx context.Context, q HistoryQuery) ([]History, error) {
	limit, err := pageLimit("history", q.Limit)
	if err != nil {
		return nil, err
	}
	db := whereEqual(c.dbCtx(ctx).Model(&historyRow{}),
		eq{"delivery_id", q.DeliveryID}, eq{"webhook_code", q.WebhookCode}, eq{"event_code", q.EventCode},
		eq{"scope_type", q.ScopeType}, eq{"scope_code", q.ScopeCode})
	if q.Success != nil {
		db = db.Where("success = ?", *q.Success)
	}
	if q.StatusCode != 0 {
		db = db.Where("status_code = ?", q.StatusCode)
	}
	db = createdBetween(db, "created_at", q.Since, q.Until)
	if q.BeforeID > 0 {
		db = db.Where("id < ?", q.BeforeID)
	}
	order := "id DESC"
	if q.AfterID > 0 {
		db = db.Where("id > ?", q.AfterID)
		order = "id ASC" // the rows just above AfterID, turned around below
	}
	var rows []historyRow
	if err := db.Order(order).Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading history: %w", err)
	}
	if q.AfterID > 0 {
		slices.Reverse(rows)
	}
	out := make([]History, len(rows))
	for i := range rows {
		out[i] = rows[i].history()
	}
	return out, nil
}

// pageLimit is the number of rows a list call reads for a requested limit:
// zero means DefaultHistoryLimit, at most MaxHistoryLimit.
func pageLimit(what string, n int) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("%w: %s limit %d is negative: pass 0 for the default (%d) or up to %d", ErrInvalidArgument, what, n, DefaultHistoryLimit, MaxHistoryLimit)
	}
	if n == 0 {
		return DefaultHistoryLimit, nil
	}
	return min(n, MaxHistoryLimit), nil
}

func (r *historyRow) history() History {
	h := History{
		ID: r.ID, DeliveryID: r.DeliveryID, WebhookCode: r.WebhookCode, EventCode: r.EventCode,
		ScopeType: r.ScopeType, ScopeCode: r.ScopeCode, CreatedAt: r.CreatedAt, Success: r.Success,
		Attempt: max(r.Attempt, 1), Queued: r.Queued,
	}
	switch raw := bytes.TrimSpace(r.ExtraInfo); {
	case len(raw) == 0:
	case json.Valid(raw):
		h.ExtraInfo = json.RawMessage(raw)
	default: // not JSON (written by hand or another tool): keep it as a string
		h.ExtraInfo, _ = json.Marshal(string(raw))
	}
	if r.StatusCode != nil {
		h.StatusCode = *r.StatusCode
	}
	if r.DurationUS != nil {
		h.Duration = time.Duration(*r.DurationUS) * time.Microsecond
	}
	if r.ErrorMessage != nil {
		h.Error = *r.ErrorMessage
	}
	h.ExtraInfo = redactLegacyHistory(h.ExtraInfo)
	var raw struct {
		Request  json.RawMessage `json:"request"`
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(h.ExtraInfo, &raw) != nil {
		return h
	}
	_ = json.Unmarshal(raw.Request, &h.Request)
	resp := bytes.TrimSpace(raw.Response)
	if len(resp) == 0 || string(resp) == "null" {
		return h
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(resp, &probe) == nil {
		if _, ours := probe["status_code"]; ours {
			if _, hasBody := probe["body"]; hasBody && json.Unmarshal(resp, &h.Response) == nil {
				return h
			}
		}
	}
	h.Response = HistoryResponse{StatusCode: h.StatusCode, Body: string(resp)} // a Python row: the parsed body
	return h
}

// historyColumns are the columns the library writes, in insertHistory's order.
const historyColumns = "webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt, duration_us, error_message, queued"

// historyPreparedRows is the largest number of rows whose INSERT keeps its
// prepared statement (one per size): Broadcast's, one row or a few, which
// SQLite would otherwise parse again every time.
const historyPreparedRows = 4

// historyBatchRows bounds the rows of one INSERT statement (13 parameters
// each, well under every database's limit).
const historyBatchRows = 400

// historyCommitter records history rows with group commit: rows that arrive
// while a write is in flight are written together by one of their callers in
// the next statement, so that concurrent deliveries share the cost of a
// commit instead of queueing for one each. No goroutine runs in the
// background; a caller returns once its rows are written.
type historyCommitter struct {
	mu   sync.Mutex
	busy bool          // a write is in flight
	next *historyBatch // rows waiting for the next write
}

type historyBatch struct {
	outcomes []*attemptOutcome
	done     chan struct{} // closed when written
	lead     chan struct{} // receives one token: that waiter writes the batch
	err      error
}

// recordAttempts records the outcomes of Broadcast's attempts in two steps
// under one write turn: their history rows, then what they say about their
// webhooks (trackHealth: failure counts, circuit breaker, auto-disable). It
// returns once the rows are committed, whatever happened to ctx: what was
// sent is recorded even if the caller gave up.
func (c *Client) recordAttempts(ctx context.Context, outcomes ...*attemptOutcome) error {
	g := &c.history
	g.mu.Lock()
	b := g.next
	if b == nil {
		b = &historyBatch{done: make(chan struct{}), lead: make(chan struct{}, 1)}
		g.next = b
	}
	b.outcomes = append(b.outcomes, outcomes...)
	if g.busy {
		g.mu.Unlock()
		select {
		case <-b.done:
			return b.err
		case <-b.lead:
		}
	} else {
		g.busy = true
		g.next = nil
		g.mu.Unlock()
	}
	// This caller writes batch b.
	unlock := c.lockWrites()
	ctx = context.WithoutCancel(ctx)
	b.err = c.insertHistory(ctx, historyRows(b.outcomes))
	var ev healthEvents
	if b.err == nil {
		var err error
		ev, err = c.trackHealth(ctx, c.db.Statement.ConnPool, b.outcomes)
		if err != nil {
			c.log.Error("webhook: tracking webhook failures failed", "err", err)
		}
	}
	unlock()
	close(b.done)
	c.notifyHealth(ctx, ev)
	g.mu.Lock()
	if n := g.next; n != nil {
		g.next = nil
		n.lead <- struct{}{} // one waiter of the next batch writes it
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	if b.err == nil {
		c.histRows.Add(int64(len(b.outcomes)))
	} else {
		c.histFailures.Add(int64(len(b.outcomes)))
		c.tel.historyFailures.Add(ctx, int64(len(b.outcomes)), metric.WithAttributes(attrQueued.Bool(false)))
		c.log.Error("webhook: recording history failed", "rows", len(b.outcomes), "err", b.err)
	}
	return b.err
}

// insertHistory writes rows with multi-row INSERT statements.
// ctx should not be cancellable: the caller passes context.WithoutCancel, so
// that what was sent is recorded (and SQLite drivers run the statement
// without a watcher goroutine).
func (c *Client) insertHistory(ctx context.Context, rows []*historyRow) error {
	return c.insertHistoryOn(ctx, c.db.Statement.ConnPool, rows)
}

// insertHistoryOn is insertHistory on a given pool or transaction.
func (c *Client) insertHistoryOn(ctx context.Context, pool gorm.ConnPool, rows []*historyRow) error {
	if len(rows) > historyPreparedRows {
		// A statement text per batch size: not worth keeping prepared.
		pool = unprepared(pool)
	}
	if c.db.Dialector.Name() == dialectPostgres && len(rows) > 1 {
		if _, err := pool.ExecContext(ctx, pgHistoryInsert, historyRecordset(rows)); err != nil {
			return fmt.Errorf("webhook: recording %d history rows: %w", len(rows), err)
		}
		return nil
	}
	for len(rows) > 0 {
		n := min(len(rows), historyBatchRows)
		var sb strings.Builder
		sb.Grow(64 + n*28)
		sb.WriteString("INSERT INTO webhook_history (" + historyColumns + ") VALUES ")
		args := make([]any, 0, n*13)
		for i, r := range rows[:n] {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			var extra any
			if len(r.ExtraInfo) > 0 {
				extra = string(r.ExtraInfo)
			}
			args = append(args, r.WebhookCode, r.EventCode, r.CreatedAt, r.Success, r.StatusCode, r.DeliveryID,
				r.ScopeType, r.ScopeCode, extra, max(r.Attempt, 1), r.DurationUS, r.ErrorMessage, r.Queued)
		}
		if _, err := pool.ExecContext(ctx, c.ph.rebind(sb.String()), args...); err != nil {
			return fmt.Errorf("webhook: recording %d history row(s): %w", n, err)
		}
		rows = rows[n:]
	}
	return nil
}

// pgHistoryInsert inserts the rows of a JSON array (historyRecordset) on
// PostgreSQL: one parameter and one statement text whatever the number of
// rows, which the driver prepares once per connection, where a multi-row
// VALUES list is a new statement of 13 parameters a row for each size. The
// array is parsed once, as jsonb, whose extra_info values then go to the
// jsonb column as they are (as json, each was parsed twice more).
const pgHistoryInsert = `INSERT INTO webhook_history (` + historyColumns + `)
	SELECT ` + historyColumns + ` FROM jsonb_to_recordset($1::jsonb) AS r(webhook_code text, event_code text, created_at timestamptz,
		success boolean, status_code integer, delivery_id text, scope_type text, scope_code text, extra_info jsonb,
		attempt integer, duration_us bigint, error_message text, queued boolean)`

// appendJSONString appends s to b as marshalJSON writes it (invalid UTF-8
// becomes U+FFFD, which PostgreSQL accepts where it refuses the bytes). A
// plain string (codes, delivery ids) is appended as it stands, without a
// slice of its own: historyRecordset writes six or seven a row.
func appendJSONString(b []byte, s string) []byte {
	if plainJSONString(s) {
		return append(append(append(b, '"'), s...), '"')
	}
	q, _ := marshalJSON(s) // a string always encodes
	return append(b, q...)
}

// historyRecordset encodes rows as the JSON array pgHistoryInsert reads.
// Times are in UTC to the microsecond, PostgreSQL's precision, as the
// driver sends them.
func historyRecordset(rows []*historyRow) string {
	b := make([]byte, 0, len(rows)*(256+len(rows[0].ExtraInfo)))
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"webhook_code":`...)
		b = appendJSONString(b, r.WebhookCode)
		b = append(b, `,"event_code":`...)
		b = appendJSONString(b, r.EventCode)
		b = append(b, `,"created_at":"`...)
		b = r.CreatedAt.UTC().Truncate(time.Microsecond).AppendFormat(b, "2006-01-02T15:04:05.999999Z07:00")
		b = append(b, `","success":`...)
		b = strconv.AppendBool(b, r.Success)
		b = append(b, `,"status_code":`...)
		if r.StatusCode != nil {
			b = strconv.AppendInt(b, int64(*r.StatusCode), 10)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"delivery_id":`...)
		b = appendJSONString(b, r.DeliveryID)
		b = append(b, `,"scope_type":`...)
		b = appendJSONString(b, r.ScopeType)
		b = append(b, `,"scope_code":`...)
		b = appendJSONString(b, r.ScopeCode)
		b = append(b, `,"extra_info":`...)
		if len(r.ExtraInfo) > 0 {
			b = append(b, r.ExtraInfo...)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(max(r.Attempt, 1)), 10)
		b = append(b, `,"duration_us":`...)
		if r.DurationUS != nil {
			b = strconv.AppendInt(b, *r.DurationUS, 10)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"error_message":`...)
		if r.ErrorMessage != nil {
			b = appendJSONString(b, *r.ErrorMessage)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"queued":`...)
		b = strconv.AppendBool(b, r.Queued)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// redactLegacyHistory redacts the request headers of a history row written
// by the Python package, which stored the Authorization header and the
// (otherwise encrypted) custom header values in clear text. Rows the library
// wrote are already redacted and come back unchanged.
func redactLegacyHistory(extra json.RawMessage) json.RawMessage {
	if !bytes.Contains(extra, []byte(`"headers"`)) {
		return extra
	}
	var m map[string]any
	if json.Unmarshal(extra, &m) != nil {
		return extra
	}
	req, _ := m["request"].(map[string]any)
	headers, _ := req["headers"].(map[string]any)
	changed := false
	for k, v := range headers {
		s, _ := v.(string)
		switch {
		case strings.EqualFold(k, "Content-Type"), strings.EqualFold(k, "User-Agent"),
			// The signature headers: never credentials (a webhook cannot set
			// them), and what debugging "invalid signature" needs.
			strings.EqualFold(k, HeaderWebhookID), strings.EqualFold(k, HeaderWebhookTimestamp), strings.EqualFold(k, HeaderWebhookSignature):
			continue
		case strings.EqualFold(k, "Authorization"):
			scheme, _, _ := strings.Cut(s, " ")
			if s != scheme+" "+redacted {
				headers[k] = scheme + " " + redacted
				changed = true
			}
		case s != redacted:
			headers[k] = redacted
			changed = true
		}
	}
	if !changed {
		return extra
	}
	out, err := marshalJSON(m)
	if err != nil {
		return extra
	}
	return out
}
