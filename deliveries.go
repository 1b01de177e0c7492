package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Delivery is one event sent to one webhook, under a delivery id that
// stays the same across its attempts (the webhook-id header and the
// payload's "delivery_id"). History lists the attempts of a delivery.
//
// A delivery made by Enqueue, EnqueueTx or Redeliver is queued: it waits in
// the outbox (the webhook_delivery table) for the workers, which retry it
// over hours. A delivery made by Broadcast (or by the Python package) is
// sent at once by the caller and known from its attempts in history alone.
// Deliveries lists both.
type Delivery struct {
	// ID is the outbox row's id; 0 for a delivery that was not queued.
	ID          int64  `json:"id,omitempty"`
	DeliveryID  string `json:"delivery_id"`
	EventCode   string `json:"event_code"`
	ScopeType   string `json:"scope_type"`
	ScopeCode   string `json:"scope_code"`
	WebhookCode string `json:"webhook_code"`
	// Queued reports whether the delivery went through the outbox.
	Queued bool `json:"queued"`
	// Status is StatusPending, StatusSucceeded, StatusFailed or
	// StatusCancelled; a delivery that was not queued is StatusSucceeded
	// or StatusFailed, as its last attempt.
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	// NextAttemptAt is when a pending delivery is due; zero otherwise.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// Leased reports whether a worker holds the delivery at the moment.
	Leased         bool   `json:"leased,omitempty"`
	LastStatusCode int    `json:"last_status_code,omitempty"`
	LastError      string `json:"last_error,omitempty"`
	// LastDuration is how long the last attempt's request took; zero
	// before the first attempt or when none reached the network. Encoded
	// in JSON as last_duration_us, microseconds.
	LastDuration time.Duration `json:"-"`
	CreatedAt    time.Time     `json:"created_at"`
	FinishedAt   *time.Time    `json:"finished_at,omitempty"`
	// Cursor is the delivery's place in the listing: pass the Cursor of a
	// page's last delivery as DeliveryQuery.Cursor to get the next page.
	Cursor string `json:"cursor"`

	historyID int64 // not queued: the id of the first attempt's history row
}

// MarshalJSON encodes LastDuration as last_duration_us, in microseconds.
func (d Delivery) MarshalJSON() ([]byte, error) {
	type plain Delivery
	return json.Marshal(struct {
		plain
		LastDurationUS int64 `json:"last_duration_us,omitempty"`
	}{plain(d), d.LastDuration.Microseconds()})
}

// DeliveryQuery filters Deliveries. Zero fields do not filter.
type DeliveryQuery struct {
	DeliveryID  string
	ScopeType   string
	ScopeCode   string
	WebhookCode string
	EventCode   string
	Status      string
	// QueuedOnly leaves out the deliveries that were not queued: the
	// outbox alone.
	QueuedOnly bool
	// Since and Until bound the creation time: Since <= created < Until.
	Since time.Time
	Until time.Time
	// Cursor returns the deliveries after the one it is the Cursor of:
	// the next page (keyset pagination). Empty starts with the newest.
	Cursor string
	// Limit defaults to DefaultHistoryLimit, at most MaxHistoryLimit.
	Limit int
}

// Deliveries lists deliveries, queued or not, newest first (by creation
// time), one page at a time. An invalid Cursor or Status is
// ErrInvalidArgument.
func (c *Client) Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error) {
	limit, err := pageLimit("deliveries", q.Limit)
	if err != nil {
		return nil, err
	}
	switch q.Status {
	case "", StatusPending, StatusSucceeded, StatusFailed, StatusCancelled:
	default:
		return nil, fmt.Errorf("%w: unknown delivery status %q: want %s, %s, %s or %s",
			ErrInvalidArgument, q.Status, StatusPending, StatusSucceeded, StatusFailed, StatusCancelled)
	}
	var cur *deliveryCursor
	if q.Cursor != "" {
		dc, err := parseDeliveryCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		cur = &dc
	}
	queued, err := c.queuedDeliveries(ctx, q, cur, limit)
	if err != nil {
		return nil, err
	}
	var sent []Delivery
	if !q.QueuedOnly && q.Status != StatusPending && q.Status != StatusCancelled {
		if sent, err = c.sentDeliveries(ctx, q, cur, limit); err != nil {
			return nil, err
		}
	}
	out := append(queued, sent...)
	sort.SliceStable(out, func(i, j int) bool { return deliveryBefore(out[i], out[j]) })
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Cursor = cursorOf(out[i]).String()
	}
	return out, nil
}

// The listing's order: newest first, queued before not queued at the same
// instant, then by id, newest first.
func deliveryBefore(a, b Delivery) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	if a.Queued != b.Queued {
		return a.Queued
	}
	return cursorOf(a).id > cursorOf(b).id
}

// deliveryCursor is a place in the listing: a creation time, a kind
// (queued or not) and a row id (the outbox row, or the first attempt's
// history row).
type deliveryCursor struct {
	at     time.Time
	queued bool
	id     int64
}

func cursorOf(d Delivery) deliveryCursor {
	dc := deliveryCursor{at: d.CreatedAt.UTC(), queued: d.Queued, id: d.ID}
	if !d.Queued {
		dc.id = d.historyID
	}
	return dc
}

// String encodes the cursor as URL-safe text.
func (dc deliveryCursor) String() string {
	kind := "b"
	if dc.queued {
		kind = "q"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(dc.at.UnixNano(), 10) + "." + kind + "." + strconv.FormatInt(dc.id, 10)))
}

func parseDeliveryCursor(s string) (deliveryCursor, error) {
	bad := fmt.Errorf("%w: delivery cursor %q is not one Deliveries returned: pass a Delivery's Cursor unchanged, or none for the first page", ErrInvalidArgument, truncate(s, 40))
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return deliveryCursor{}, bad
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || (parts[1] != "q" && parts[1] != "b") {
		return deliveryCursor{}, bad
	}
	at, err1 := strconv.ParseInt(parts[0], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id < 0 {
		return deliveryCursor{}, bad
	}
	return deliveryCursor{at: time.Unix(0, at).UTC(), queued: parts[1] == "q", id: id}, nil
}

// after returns the condition selecting the rows of one kind (queued or
// not) that come after cur in the listing, with its arguments; created is
// the expression of the creation time (created_at, or unindexed).
func (dc *deliveryCursor) after(queued bool, created string) (string, []any) {
	switch {
	case dc.queued == queued:
		// The bound on created_at alone makes it a range of the indexes
		// ending in (created_at, id), read from there on.
		return created + " <= ? AND (created_at < ? OR id < ?)", []any{dc.at, dc.at, dc.id}
	case dc.queued: // rows not queued follow the queued ones of the same instant
		return created + " <= ?", []any{dc.at}
	default:
		return created + " < ?", []any{dc.at}
	}
}

// queuedDeliveries reads a page of the outbox.
func (c *Client) queuedDeliveries(ctx context.Context, q DeliveryQuery, cur *deliveryCursor, limit int) ([]Delivery, error) {
	db := whereEqual(c.dbCtx(ctx).Model(&deliveryRow{}),
		eq{"delivery_id", q.DeliveryID}, eq{"scope_type", q.ScopeType}, eq{"scope_code", q.ScopeCode},
		eq{"webhook_code", q.WebhookCode}, eq{"event_code", q.EventCode}, eq{"status", q.Status})
	sorted, err := c.sortQueued(ctx, q)
	if err != nil {
		return nil, err
	}
	order, created := "created_at DESC, id DESC", "created_at"
	if sorted { // no index for the order, nor for a range of created_at
		order, created = unindexed(c.db, "created_at")+" DESC, "+unindexed(c.db, "id")+" DESC", unindexed(c.db, "created_at")
	}
	db = createdBetween(db, created, q.Since, q.Until)
	if cur != nil {
		cond, args := cur.after(true, created)
		db = db.Where(cond, args...)
	}
	var rows []deliveryRow
	if err := db.Order(order).Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		d := Delivery{
			ID: r.ID, DeliveryID: r.DeliveryID, EventCode: r.EventCode, ScopeType: r.ScopeType, ScopeCode: r.ScopeCode,
			WebhookCode: r.WebhookCode, Queued: true, Status: r.Status, Attempts: r.Attempts,
			Leased: r.LeaseOwner != nil, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt,
		}
		if r.Status == StatusPending {
			d.NextAttemptAt = r.NextAttemptAt
		}
		if r.LastStatusCode != nil {
			d.LastStatusCode = *r.LastStatusCode
		}
		if r.LastError != nil {
			d.LastError = *r.LastError
		}
		out[i] = d
	}
	if err := c.lastDurations(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// sortAtMost is the number of rows up to which sortQueued has SQLite sort
// one webhook's deliveries in a status rather than read them in order.
const sortAtMost = 1000

// sortQueued reports whether a page of the outbox is best read unordered,
// then sorted. The indexes ending in (created_at, id) read a page in order
// and stop after it, which is quick while the rows read match the other
// filters. One webhook's deliveries in a status other than succeeded (a
// few, usually) are the exception: in order of creation, through the index
// of its scope or of its status, a page may read the whole scope to find
// none. On SQLite, whose planner cannot know, when an index range of them
// holds under sortAtMost rows they are read through that range
// (webhook_delivery_order: scope, webhook, status) and sorted.
// PostgreSQL's planner decides by its statistics.
func (c *Client) sortQueued(ctx context.Context, q DeliveryQuery) (bool, error) {
	if c.db.Dialector.Name() != dialectSQLite || q.ScopeType == "" || q.ScopeCode == "" || q.WebhookCode == "" ||
		q.Status == "" || q.Status == StatusSucceeded || q.DeliveryID != "" {
		return false, nil
	}
	var n int64
	if err := c.dbCtx(ctx).Raw(`SELECT COUNT(*) FROM (SELECT 1 FROM webhook_delivery
		WHERE scope_type = ? AND scope_code = ? AND webhook_code = ? AND status = ? LIMIT ?) AS s`,
		q.ScopeType, q.ScopeCode, q.WebhookCode, q.Status, sortAtMost).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("webhook: loading deliveries: %w", err)
	}
	return n < sortAtMost, nil
}

// lastDurations sets the LastDuration of queued deliveries that were
// attempted, from their history rows (one query per page).
func (c *Client) lastDurations(ctx context.Context, ds []Delivery) error {
	var ids []string
	for _, d := range ds {
		if d.Attempts > 0 {
			ids = append(ids, d.DeliveryID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var rows []historyRow
	if err := c.dbCtx(ctx).Model(&historyRow{}).Select("id, delivery_id, scope_type, scope_code, webhook_code, duration_us").
		Where("delivery_id IN ? AND queued", ids).Order("id").Find(&rows).Error; err != nil {
		return fmt.Errorf("webhook: loading the last attempts of %d deliveries: %w", len(ids), err)
	}
	last := map[deliveryKey]time.Duration{}
	for _, r := range rows {
		if r.DurationUS != nil {
			last[deliveryKey{r.DeliveryID, r.ScopeType, r.ScopeCode, r.WebhookCode}] = time.Duration(*r.DurationUS) * time.Microsecond
		}
	}
	for i := range ds {
		ds[i].LastDuration = last[deliveryKey{ds[i].DeliveryID, ds[i].ScopeType, ds[i].ScopeCode, ds[i].WebhookCode}]
	}
	return nil
}

// sentDeliveries reads a page of the deliveries that were not queued, from
// their first attempts in history (through the partial indexes
// webhook_history_sent*), and completes each from its later attempts. One
// that was redelivered through the outbox since is listed there instead.
func (c *Client) sentDeliveries(ctx context.Context, q DeliveryQuery, cur *deliveryCursor, limit int) ([]Delivery, error) {
	var out []Delivery
	seen := map[deliveryKey]bool{}
	// A Status filter is applied to each delivery's last attempt, after the
	// read: read on until the page is full or history is exhausted.
	for {
		db := whereEqual(c.dbCtx(ctx).Model(&historyRow{}).Where(sentFirstAttempts),
			eq{"delivery_id", q.DeliveryID}, eq{"scope_type", q.ScopeType}, eq{"scope_code", q.ScopeCode},
			eq{"webhook_code", q.WebhookCode}, eq{"event_code", q.EventCode})
		if q.Status == StatusFailed {
			// A failed delivery's first attempt failed: the one attempt of
			// a delivery that succeeded at once is not worth reading. (Of
			// the Python package's rows, all attempt 1, the newest row of
			// a failed delivery, the one listed, failed.)
			db = db.Where("NOT success")
		}
		db = createdBetween(db, "created_at", q.Since, q.Until)
		if cur != nil {
			cond, args := cur.after(false, "created_at")
			db = db.Where(cond, args...)
		}
		var firsts []historyRow
		err := db.Select("id, delivery_id, event_code, scope_type, scope_code, webhook_code, created_at").
			Order("created_at DESC, id DESC").Limit(limit).Find(&firsts).Error
		if err != nil {
			return nil, fmt.Errorf("webhook: loading deliveries: %w", err)
		}
		page, err := c.completeSent(ctx, firsts, seen)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			if q.Status == "" || d.Status == q.Status {
				out = append(out, d)
			}
		}
		if len(out) >= limit || len(firsts) < limit {
			return out, nil
		}
		last := firsts[len(firsts)-1]
		cur = &deliveryCursor{at: last.CreatedAt.UTC(), id: last.ID}
	}
}

// sentFirstAttempts selects the first attempts of the deliveries that were
// not queued; Migrate creates the partial index webhook_history_sent on the
// same condition.
const sentFirstAttempts = "attempt = 1 AND NOT queued"

type deliveryKey struct{ id, scopeType, scopeCode, webhook string }

// completeSent turns first attempts into deliveries, with the status, the
// attempt count and the last error from all their attempts (one query).
// Keys in seen are skipped (rows of the Python package repeat attempt 1),
// and so are the deliveries the outbox holds.
func (c *Client) completeSent(ctx context.Context, firsts []historyRow, seen map[deliveryKey]bool) ([]Delivery, error) {
	if len(firsts) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(firsts))
	for _, f := range firsts {
		ids = append(ids, f.DeliveryID)
	}
	var attempts []historyRow
	err := c.dbCtx(ctx).Model(&historyRow{}).
		Select("id, delivery_id, scope_type, scope_code, webhook_code, created_at, success, status_code, error_message, duration_us").
		Where("delivery_id IN ?", ids).Order("id").Find(&attempts).Error
	if err != nil {
		return nil, fmt.Errorf("webhook: loading the attempts of %d deliveries: %w", len(ids), err)
	}
	// Those redelivered through the outbox since are listed there. Looked
	// up by delivery id alone, in a query of its own: as a correlated NOT
	// EXISTS, SQLite's planner (without ANALYZE statistics) preferred an
	// index on the webhook and read all its outbox rows for each one.
	var requeued []deliveryRow
	if err := c.dbCtx(ctx).Model(&deliveryRow{}).Select("delivery_id, scope_type, scope_code, webhook_code").
		Where("delivery_id IN ?", ids).Find(&requeued).Error; err != nil {
		return nil, fmt.Errorf("webhook: loading the outbox rows of %d deliveries: %w", len(ids), err)
	}
	for _, r := range requeued {
		seen[deliveryKey{r.DeliveryID, r.ScopeType, r.ScopeCode, r.WebhookCode}] = true
	}
	byKey := map[deliveryKey][]*historyRow{}
	for i := range attempts {
		a := &attempts[i]
		k := deliveryKey{a.DeliveryID, a.ScopeType, a.ScopeCode, a.WebhookCode}
		byKey[k] = append(byKey[k], a)
	}
	out := make([]Delivery, 0, len(firsts))
	for _, f := range firsts {
		k := deliveryKey{f.DeliveryID, f.ScopeType, f.ScopeCode, f.WebhookCode}
		rows := byKey[k]
		if seen[k] || len(rows) == 0 {
			continue
		}
		seen[k] = true
		last := rows[len(rows)-1]
		d := Delivery{
			DeliveryID: f.DeliveryID, EventCode: f.EventCode, ScopeType: f.ScopeType, ScopeCode: f.ScopeCode,
			WebhookCode: f.WebhookCode, Status: StatusFailed, Attempts: len(rows), CreatedAt: f.CreatedAt,
			historyID: f.ID,
		}
		if last.Success {
			d.Status = StatusSucceeded
		}
		finished := last.CreatedAt
		if last.DurationUS != nil {
			d.LastDuration = time.Duration(*last.DurationUS) * time.Microsecond
			finished = finished.Add(d.LastDuration)
		}
		d.FinishedAt = &finished
		if last.StatusCode != nil {
			d.LastStatusCode = *last.StatusCode
		}
		if last.ErrorMessage != nil && !last.Success {
			d.LastError = *last.ErrorMessage
		}
		out = append(out, d)
	}
	return out, nil
}

// createdBetween bounds the creation time, expression created (created_at,
// or unindexed): since <= created_at < until (zero times do not bound).
func createdBetween(db *gorm.DB, created string, since, until time.Time) *gorm.DB {
	if !since.IsZero() {
		db = db.Where(created+" >= ?", since.UTC())
	}
	if !until.IsZero() {
		db = db.Where(created+" < ?", until.UTC())
	}
	return db
}
