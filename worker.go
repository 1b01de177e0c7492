package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// ErrWorkersRunning is returned by Start when the workers of this client
// already run.
var ErrWorkersRunning = errors.New("webhook: workers already started")

// worker claims due deliveries of the outbox, sends them and records the
// outcome. One claimer goroutine leases batches of due rows, Config.Workers
// sender goroutines send them, and one completer goroutine writes the
// outcomes of many deliveries (history rows, new statuses, retry times) in
// one transaction.
type worker struct {
	c     *Client
	owner string // lease owner: unique per Start

	ctx    context.Context // cancelled to abort requests in flight
	cancel context.CancelFunc

	slots   chan struct{} // one token per delivery claimed and not yet sent
	jobs    chan *job
	results chan *jobResult
	stop    chan struct{} // closed by Stop: claim no more
	done    chan struct{} // closed when every goroutine returned

	stopOnce sync.Once
	pending  []*jobResult // an outcome received while waiting; written next
}

type job struct {
	claimed time.Time // when it was claimed, by the local clock
	row     deliveryRow
	target  *target // nil when the webhook is gone or disabled
	reason  string  // why target is nil
}

type outcome int

const (
	outcomeSucceeded outcome = iota
	outcomeRetry
	outcomeFailed
	outcomeCancelled
	outcomeAborted // the worker stopped mid-request: release, do not count
)

type jobResult struct {
	job     *job
	outcome outcome
	next    time.Time   // outcomeRetry
	status  int         // last status code, 0 for none
	errText string      // last error
	hist    *historyRow // nil when nothing was attempted
}

// Start starts the delivery workers of the durable path: they send what
// Enqueue and EnqueueTx persisted, retry on the schedule of
// Config.RetryPolicy, and record history. Any number of instances may run
// workers on one PostgreSQL database: deliveries are claimed with FOR UPDATE
// SKIP LOCKED under a lease, so none is sent twice while its lease holds. On
// SQLite, run workers in one process (claims are atomic there too, but
// SQLite serves one node). The workers run until Stop is called or ctx is
// cancelled (which aborts requests in flight and releases them).
//
// Deliveries are not ordered: two deliveries to one endpoint may arrive in
// either order, and a retried one after later ones.
func (c *Client) Start(ctx context.Context) error {
	switch c.db.Dialector.Name() {
	case dialectSQLite, dialectPostgres:
	default:
		return fmt.Errorf("%w: durable delivery needs SQLite or PostgreSQL, not %s", ErrInvalidConfig, c.db.Dialector.Name())
	}
	c.workerMu.Lock()
	defer c.workerMu.Unlock()
	if c.worker != nil {
		return ErrWorkersRunning
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	w := &worker{
		c:     c,
		owner: hex.EncodeToString(b[:]),
		// Up to Workers requests in flight and a claim's worth waiting for
		// a sender, so that a sender never waits for a claim.
		slots: make(chan struct{}, c.cfg.Workers+c.cfg.ClaimBatch),
		jobs:  make(chan *job, c.cfg.Workers+c.cfg.ClaimBatch),
		// Outcomes wait here while the previous batch is written, so that
		// one transaction records many deliveries.
		results: make(chan *jobResult, 2*(c.cfg.Workers+c.cfg.ClaimBatch)),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.worker = w
	var senders sync.WaitGroup
	for range c.cfg.Workers {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for j := range w.jobs {
				r := w.send(j)
				<-w.slots // the delivery stays leased until its outcome is written
				c.wakeWorker()
				w.results <- r
			}
		}()
	}
	go func() {
		w.run()
		close(w.jobs)
		senders.Wait()
		w.release()
		w.cancel()
		close(w.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			w.cancel() // abort requests in flight
			w.halt()
		case <-w.done:
		}
	}()
	c.log.Info("webhook: workers started", "workers", c.cfg.Workers, "owner", w.owner)
	return nil
}

// Stop stops the workers gracefully: no more deliveries are claimed, and
// those in flight finish and are recorded. If ctx ends first, requests in
// flight are aborted and their deliveries released for another attempt
// (they are not counted as attempts), and Stop returns ctx's error once
// that is done. Stop on a client whose workers do not run returns nil.
func (c *Client) Stop(ctx context.Context) error {
	c.workerMu.Lock()
	w := c.worker
	c.workerMu.Unlock()
	if w == nil {
		return nil
	}
	w.halt()
	var err error
	select {
	case <-w.done:
	case <-ctx.Done():
		err = ctx.Err()
		w.cancel()
		<-w.done
	}
	c.workerMu.Lock()
	if c.worker == w {
		c.worker = nil
	}
	c.workerMu.Unlock()
	c.log.Info("webhook: workers stopped", "owner", w.owner)
	return err
}

func (w *worker) halt() { w.stopOnce.Do(func() { close(w.stop) }) }

// wakeWorker makes idle workers of this process look for due deliveries now.
func (c *Client) wakeWorker() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is the worker's only database writer: in one transaction at a time it
// records the outcomes that came back from the senders and claims as many
// due deliveries as there are free slots, so that one commit serves many
// deliveries and the worker's writes never wait for each other.
func (w *worker) run() {
	c := w.c
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastPrune time.Time
	outstanding := 0 // deliveries claimed whose outcome is not written yet
	for {
		stopping := false
		select {
		case <-w.stop:
			stopping = true
		default:
		}
		if stopping && outstanding == 0 {
			return
		}
		if !stopping && c.cfg.RetainHistory > 0 && time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if _, err := c.PruneHistory(w.ctx, c.cfg.RetainHistory); err != nil {
				c.log.Error("webhook: automatic pruning failed", "err", err)
			}
		}
		batch := w.drainResults(nil)
		want := 0
		if !stopping {
			want = min(cap(w.slots)-len(w.slots), c.cfg.ClaimBatch)
		}
		var jobs []*job
		if len(batch) > 0 || want > 0 {
			var err error
			jobs, err = w.completeAndClaim(batch, want)
			if err != nil {
				c.log.Error("webhook: recording outcomes or claiming deliveries failed; leased deliveries will be sent again when their lease expires",
					"outcomes", len(batch), "err", err)
				jobs = nil
				select { // do not spin on a failing database
				case <-time.After(c.cfg.PollInterval):
				case <-w.stop:
				}
			}
			outstanding -= len(batch)
			for _, j := range jobs {
				w.slots <- struct{}{}
				w.jobs <- j
			}
			outstanding += len(jobs)
		}
		if (want > 0 && len(jobs) == want) || len(batch) > 0 {
			continue // more may be due, or more outcomes may be waiting
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(c.cfg.PollInterval)
		select {
		case <-w.stop:
		case <-c.wake: // an Enqueue here, or a sender freed a slot
		case <-timer.C:
		case r := <-w.results:
			w.pending = append(w.pending, r)
		}
	}
}

// drainResults returns the outcomes waiting, up to completeBatch.
func (w *worker) drainResults(batch []*jobResult) []*jobResult {
	batch = append(batch, w.pending...)
	w.pending = w.pending[:0]
	for len(batch) < completeBatch {
		select {
		case r := <-w.results:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// completeAndClaim writes outcomes and claims up to n due deliveries in one
// transaction.
func (w *worker) completeAndClaim(batch []*jobResult, n int) ([]*job, error) {
	c := w.c
	var jobs []*job
	var disabled []WebhookDisabled
	err := c.transaction(context.WithoutCancel(w.ctx), func(tx *gorm.DB) error {
		var err error
		if len(batch) > 0 {
			if disabled, err = w.writeOutcomes(tx, batch); err != nil {
				return err
			}
		}
		if n > 0 {
			jobs, err = w.claim(tx.Statement.ConnPool, n)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	c.notifyDisabled(w.ctx, disabled)
	return jobs, nil
}

// claim leases up to n due deliveries and loads their webhooks.
func (w *worker) claim(pool gorm.ConnPool, n int) ([]*job, error) {
	c := w.c
	now := c.now().UTC()
	q := `UPDATE webhook_delivery SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT id FROM webhook_delivery
			WHERE status = ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
			ORDER BY next_attempt_at, id LIMIT ?` + skipLocked(c.db) + `)
		RETURNING id, delivery_id, event_code, scope_type, scope_code, webhook_code, payload, attempts`
	ctx := context.WithoutCancel(w.ctx)
	rows, err := pool.QueryContext(ctx, c.ph.rebind(q), w.owner, now.Add(c.cfg.LeaseDuration), StatusPending, now, now, n)
	if err != nil {
		return nil, fmt.Errorf("webhook: claiming deliveries: %w", err)
	}
	var jobs []*job
	for rows.Next() {
		j := &job{claimed: time.Now()}
		r := &j.row
		if err := rows.Scan(&r.ID, &r.DeliveryID, &r.EventCode, &r.ScopeType, &r.ScopeCode, &r.WebhookCode, &r.Payload, &r.Attempts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("webhook: claiming deliveries: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: claiming deliveries: %w", err)
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	targets, err := c.loadTargets(ctx, pool, jobs)
	if err != nil {
		return nil, err // the transaction rolls the claim back
	}
	for _, j := range jobs {
		t := targets[webhookKey{j.row.ScopeType, j.row.ScopeCode, j.row.WebhookCode}]
		switch {
		case t == nil:
			j.reason = "the webhook was deleted"
		case !t.row.EnableWebhook:
			j.reason = "the webhook is disabled"
		default:
			j.target = t
		}
	}
	return jobs, nil
}

type webhookKey struct{ scopeType, scopeCode, code string }

// loadTargets loads and decodes, in one query, the webhooks of the jobs.
func (c *Client) loadTargets(ctx context.Context, pool gorm.ConnPool, jobs []*job) (map[webhookKey]*target, error) {
	keys := make([][]any, len(jobs))
	for i, j := range jobs {
		keys[i] = []any{j.row.ScopeType, j.row.ScopeCode, j.row.WebhookCode}
	}
	cond, args := anyOfKeys([]string{"scope_type", "scope_code", "code"}, keys)
	rows, err := pool.QueryContext(ctx, c.ph.rebind(`SELECT id, code, name, endpoint, scope_type, scope_code, extra_info, method, enable_webhook, consecutive_failures
		FROM webhook_webhook WHERE `+cond), args...)
	if err != nil {
		return nil, fmt.Errorf("webhook: loading webhooks of claimed deliveries: %w", err)
	}
	defer rows.Close()
	out := make(map[webhookKey]*target)
	for rows.Next() {
		t := &target{}
		r := &t.row
		var enabled any
		if err := rows.Scan(&r.ID, &r.Code, &r.Name, &r.Endpoint, &r.ScopeType, &r.ScopeCode, &r.ExtraInfo, &r.Method, &enabled, &r.ConsecutiveFailures); err != nil {
			return nil, fmt.Errorf("webhook: loading webhooks of claimed deliveries: %w", err)
		}
		r.EnableWebhook = truthy(enabled)
		t.wh, t.err = c.decodeWebhook(r)
		out[webhookKey{r.ScopeType, r.ScopeCode, r.Code}] = t
	}
	return out, rows.Err()
}

// truthy reads a boolean column as SQLite (integer) or PostgreSQL (bool)
// returns it.
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case []byte:
		return string(x) == "1" || string(x) == "t" || string(x) == "true"
	case string:
		return x == "1" || x == "t" || x == "true"
	}
	return false
}

// send makes the next attempt of a claimed delivery.
func (w *worker) send(j *job) (res *jobResult) {
	c := w.c
	res = &jobResult{job: j}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("webhook: delivery panicked", "webhook", j.row.WebhookCode, "delivery_id", j.row.DeliveryID, "panic", r)
			res = &jobResult{job: j, outcome: outcomeRetry, next: c.now().UTC().Add(time.Minute), errText: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	if j.target == nil {
		res.outcome, res.errText = outcomeCancelled, j.reason
		return res
	}
	attempt := j.row.Attempts + 1
	p, err := c.prepare(j.target, j.row.EventCode, j.row.Payload, j.row.DeliveryID)
	if err != nil {
		row := c.notAttemptedRow(j.target, j.row.EventCode, j.row.DeliveryID, attempt, err)
		res.hist, res.errText = &row, err.Error()
		retry, delay := c.cfg.RetryPolicy(attempt, &j.target.wh, &AttemptResult{Err: err}, 0)
		res.outcome = outcomeFailed
		if retry {
			res.outcome, res.next = outcomeRetry, c.now().UTC().Add(delay)
		}
		return res
	}
	if limit := c.cfg.LeaseDuration * 3 / 4; p.timeout > limit {
		p.timeout = limit // a request must end, and be recorded, while its lease holds
	}
	if time.Since(j.claimed)+p.timeout > c.cfg.LeaseDuration*9/10 {
		// It waited for a sender so long that its lease could expire
		// mid-request and another instance send it too: release it.
		res.outcome = outcomeAborted
		return res
	}
	ar, row := c.runAttempt(w.ctx, p, attempt, func(ar *AttemptResult, retryAfter time.Duration) (bool, time.Duration) {
		if ar.Success {
			return false, 0
		}
		return c.cfg.RetryPolicy(attempt, &j.target.wh, ar, retryAfter)
	})
	if !ar.Success && w.ctx.Err() != nil {
		res.outcome = outcomeAborted // the worker is stopping: not the endpoint's fault
		return res
	}
	res.hist, res.status = &row, ar.StatusCode
	switch {
	case ar.Success:
		res.outcome = outcomeSucceeded
	case ar.WillRetry:
		res.outcome, res.next, res.errText = outcomeRetry, c.now().UTC().Add(ar.RetryIn), ar.Err.Error()
	default:
		res.outcome, res.errText = outcomeFailed, ar.Err.Error()
	}
	return res
}

// completeBatch is the largest number of outcomes written in one
// transaction.
const completeBatch = 1000

func (w *worker) writeOutcomes(tx *gorm.DB, batch []*jobResult) ([]WebhookDisabled, error) {
	c := w.c
	ctx := context.WithoutCancel(w.ctx)
	pool := tx.Statement.ConnPool
	raw := unprepared(pool)
	exec := func(q string, args ...any) error {
		_, err := raw.ExecContext(ctx, c.ph.rebind(q), args...)
		return err
	}
	now := c.now().UTC()
	var hist []*historyRow
	succeeded := map[int][]any{} // status code → ids
	var cancelled, aborted []any
	for _, r := range batch {
		if r.hist != nil {
			hist = append(hist, r.hist)
		}
		id := r.job.row.ID
		var err error
		switch r.outcome {
		case outcomeSucceeded:
			succeeded[r.status] = append(succeeded[r.status], id)
		case outcomeRetry:
			err = exec(`UPDATE webhook_delivery SET attempts = attempts + ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
					last_status_code = ?, last_error = ? WHERE id = ? AND lease_owner = ?`,
				boolInt(r.hist != nil), r.next, nullInt(r.status), r.errText, id, w.owner)
		case outcomeFailed:
			err = exec(`UPDATE webhook_delivery SET status = ?, attempts = attempts + ?, lease_owner = NULL, lease_until = NULL,
					last_status_code = ?, last_error = ?, finished_at = ?, next_attempt_at = ? WHERE id = ? AND lease_owner = ?`,
				StatusFailed, boolInt(r.hist != nil), nullInt(r.status), r.errText, now, now, id, w.owner)
		case outcomeCancelled:
			cancelled = append(cancelled, id)
		case outcomeAborted:
			aborted = append(aborted, id)
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: recording the outcome of delivery %s: %w", r.job.row.DeliveryID, err)
		}
	}
	if err := c.insertHistoryOn(ctx, pool, hist); err != nil {
		return nil, err
	}
	for status, ids := range succeeded {
		err := exec(`UPDATE webhook_delivery SET status = ?, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL,
				last_status_code = ?, last_error = NULL, finished_at = ?, next_attempt_at = ? WHERE lease_owner = ? AND id IN (`+marks(len(ids))+`)`,
			append([]any{StatusSucceeded, nullInt(status), now, now, w.owner}, ids...)...)
		if err != nil {
			return nil, fmt.Errorf("webhook: recording %d successful deliveries: %w", len(ids), err)
		}
	}
	if len(cancelled) > 0 {
		err := exec(`UPDATE webhook_delivery SET status = ?, lease_owner = NULL, lease_until = NULL, last_error = ?, finished_at = ?, next_attempt_at = ?
			WHERE lease_owner = ? AND id IN (`+marks(len(cancelled))+`)`,
			append([]any{StatusCancelled, "the webhook was deleted or disabled before the delivery", now, now, w.owner}, cancelled...)...)
		if err != nil {
			return nil, fmt.Errorf("webhook: recording cancelled deliveries: %w", err)
		}
	}
	if len(aborted) > 0 {
		if err := exec(`UPDATE webhook_delivery SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND id IN (`+marks(len(aborted))+`)`,
			append([]any{w.owner}, aborted...)...); err != nil {
			return nil, fmt.Errorf("webhook: releasing deliveries: %w", err)
		}
	}
	return c.trackHealth(ctx, pool, hist)
}

// release frees the leases this worker still holds (deliveries claimed but
// never sent because it stopped).
func (w *worker) release() {
	c := w.c
	err := c.execRaw(context.WithoutCancel(w.ctx), `UPDATE webhook_delivery SET lease_owner = NULL, lease_until = NULL
		WHERE lease_owner = ? AND status = ?`, w.owner, StatusPending)
	if err != nil {
		c.log.Error("webhook: releasing leases failed; they expire by themselves", "err", err)
	}
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullInt(v int) sql.NullInt64 {
	return sql.NullInt64{Int64: int64(v), Valid: v != 0}
}
