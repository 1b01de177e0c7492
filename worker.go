package webhook

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/time/rate"
	"gorm.io/gorm"
)

// worker claims due deliveries of the outbox, sends them and records the
// outcome.
//
// One goroutine (run) owns the scheduling state and is the worker's only
// database writer: in one transaction at a time it records the outcomes that
// came back, gives back deliveries it will not send, and claims what the
// instance can start soon. Claims are per webhook (at most a few of each),
// so a backlog of one webhook never hides another's deliveries. Claimed
// deliveries wait in one lane per webhook; run starts them round robin
// across lanes, each lane within its cap of requests in flight (and its
// rate limit), so an endpoint that hangs holds only its own share of the
// workers. A heartbeat goroutine keeps the instance's row in
// webhook_instance fresh: while it is, the instance's leases hold however
// long its requests take; once it is older than the lease duration (the
// process died), any instance may claim them.
type worker struct {
	c     *Client
	owner string // lease owner and instance id: unique per Start

	ctx      context.Context // requests; cancelled to abort them
	cancel   context.CancelFunc
	dbctx    context.Context // database calls; cancelled when Stop gives up
	dbcancel context.CancelFunc

	stop     chan struct{} // closed by Stop: claim no more
	done     chan struct{} // closed when run returned
	stopOnce sync.Once

	cache    claimCache
	lastBeat atomic.Int64 // time.Now().UnixNano() of the last heartbeat that committed
	held     atomic.Int64 // deliveries leased and not yet recorded, for Stop's log and the heartbeat

	// Guarded by mu: the scheduler's state, shared by run and the senders
	// (each sender starts the next job of the lanes when it finishes, so
	// that requests go on while run writes to the database).
	mu              sync.Mutex
	kick            chan struct{} // an outcome is waiting
	lanes           map[int64]*lane
	ready           []*lane // lanes with queued jobs, in round-robin order
	queued          int
	inFlight        int
	retriesInFlight int
	pending         []*jobResult   // outcomes not yet written
	giveBack        []*job         // claimed deliveries to release unsent
	flying          map[int64]bool // ids of the deliveries in flight
	writing         []*jobResult   // outcomes of the transaction under way
	wakeAt          time.Time      // a rate limit's next token

	// Owned by run.
	rewrite        bool      // the last write failed: it may have committed, check before writing again
	fairQuietUntil time.Time // the last claim for the other webhooks found none
}

// lane holds the claimed deliveries of one webhook.
type lane struct {
	queue    []*job
	inFlight int
	limit    int
	ordered  bool
	limiter  *rate.Limiter // nil without a rate limit
	quick    int           // consecutive quick successes (see bulkAfter)
}

type job struct {
	claimedAt time.Time // by the client's clock
	row       deliveryRow
	target    *target // nil when the webhook is gone or disabled
	reason    string  // why target is nil
	probe     bool    // the single delivery that probes an open circuit
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
	next    time.Time       // outcomeRetry
	status  int             // last status code, 0 for none
	errText string          // last error
	attempt *attemptOutcome // nil when nothing was attempted
}

// Start starts the delivery workers of the durable path: they send what
// Enqueue and EnqueueTx persisted, retry on the schedule of
// Config.RetryPolicy, and record history. Any number of instances may run
// workers on one PostgreSQL database: deliveries are claimed with FOR UPDATE
// SKIP LOCKED under a lease kept alive by the instance's heartbeat, so none
// is sent twice while its instance lives, and those of an instance that
// died are sent by the others within Config.LeaseDuration. On SQLite, run
// workers in one process (SQLite serves one node).
//
// Each webhook gets at most Config.MaxInFlightPerWebhook requests at once
// and its own circuit breaker (Config.CircuitBreakAfter), so that one
// failing endpoint does not slow the others. Deliveries are not ordered
// unless the webhook is (WebhookConfig.Ordered).
//
// Start registers the instance in the database first and returns that
// error if it cannot. The workers run until Stop is called or ctx is
// cancelled (which aborts requests in flight and releases them).
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
		c:      c,
		owner:  hex.EncodeToString(b[:]),
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		lanes:  map[int64]*lane{},
		flying: map[int64]bool{},
	}
	base := context.WithoutCancel(ctx)
	w.ctx, w.cancel = context.WithCancel(base)
	w.dbctx, w.dbcancel = context.WithCancel(base)
	if err := w.register(ctx); err != nil {
		w.cancel()
		w.dbcancel()
		return err
	}
	c.worker = w
	// The database-wide gauges are read where the engine runs.
	unobserve, err := c.observe()
	if err != nil {
		c.log.Warn("webhook: the outbox gauges could not be registered with the MeterProvider", "err", err)
		unobserve = func() {}
	}
	beatStop := make(chan struct{})
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		w.heartbeat(beatStop)
	}()
	go func() {
		clean := w.run()
		unobserve()
		close(beatStop)
		<-beatDone
		if clean {
			w.unregister()
		}
		w.cancel()
		w.dbcancel()
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
	c.log.Info("webhook: workers started", "workers", c.cfg.Workers, "max_in_flight_per_webhook", c.cfg.MaxInFlightPerWebhook, "owner", w.owner)
	return nil
}

// sqliteYield is the pause of the SQLite workers between back-to-back
// transactions.
const sqliteYield = 500 * time.Microsecond

// stopGrace is how long Stop waits, once its context ended, for aborted
// requests to be released before it gives up on the database.
const stopGrace = 500 * time.Millisecond

// Stop stops the workers gracefully: no more deliveries are claimed, those
// claimed but not started are released at once, and those in flight
// finish and are recorded. If ctx ends first, requests in flight are
// aborted and their deliveries released for another attempt (they are not
// counted as attempts); if the database does not answer either, Stop still
// returns shortly after ctx ends, logs how many deliveries it left leased,
// and those are claimable again once the instance's heartbeat is
// Config.LeaseDuration old. It returns ctx's error in both cases. Stop on a
// client whose workers do not run returns nil.
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
		select {
		case <-w.done:
		case <-time.After(stopGrace):
			w.dbcancel()
			select {
			case <-w.done:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	select {
	case <-w.done:
	default:
		c.log.Warn("webhook: workers stopped without recording everything: the database did not answer in time; "+
			"their deliveries are claimable again once this instance's heartbeat is LeaseDuration old",
			"owner", w.owner, "deliveries", w.held.Load(), "lease", c.cfg.LeaseDuration)
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

func (w *worker) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// wakeWorker makes idle workers of this process look for due deliveries now.
func (c *Client) wakeWorker() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.woken.Store(true)
}

// dbTimeout bounds one database call of the workers, so that a database
// that hangs never hangs them.
func (w *worker) dbTimeout() time.Duration {
	if w.stopping() && w.ctx.Err() != nil {
		return time.Second
	}
	return max(w.c.cfg.LeaseDuration/2, time.Second)
}

// register writes the instance's row, its first heartbeat.
func (w *worker) register(ctx context.Context) error {
	c := w.c
	host, _ := os.Hostname()
	now := c.now().UTC()
	row := instanceRow{ID: w.owner, Host: truncate(host, 255), PID: os.Getpid(), Version: Version, Workers: c.cfg.Workers, StartedAt: now, LastSeenAt: now}
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.LeaseDuration/2, time.Second))
	defer cancel()
	if err := c.dbCtx(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("webhook: starting the workers: cannot register this instance in webhook_instance (run Migrate first, and check that the database is writable): %w", err)
	}
	w.lastBeat.Store(time.Now().UnixNano())
	return nil
}

func (w *worker) unregister() {
	ctx, cancel := context.WithTimeout(w.dbctx, time.Second)
	defer cancel()
	_ = w.c.execRaw(ctx, "DELETE FROM webhook_instance WHERE id = ?", w.owner)
}

// heartbeat refreshes the instance's row every LeaseDuration/4 (every
// second while that fails) until stop is closed. One statement renews every
// lease the instance holds.
func (w *worker) heartbeat(stop <-chan struct{}) {
	c := w.c
	interval := c.cfg.LeaseDuration / 4
	t := time.NewTimer(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		err := w.beat(interval)
		next := interval
		switch {
		case err != nil:
			if !failing {
				c.log.Error("webhook: heartbeat failed; deliveries are not started until it succeeds", "owner", w.owner, "err", err)
			}
			failing, next = true, min(time.Second, interval)
		case failing:
			c.log.Info("webhook: heartbeat recovered", "owner", w.owner)
			failing = false
		}
		t.Reset(next)
	}
}

func (w *worker) beat(timeout time.Duration) error {
	c := w.c
	ctx, cancel := context.WithTimeout(w.dbctx, timeout)
	defer cancel()
	now := c.now().UTC()
	unlock := c.lockWrites()
	res, err := unprepared(c.db.Statement.ConnPool).ExecContext(ctx, c.ph.rebind("UPDATE webhook_instance SET last_seen_at = ?, history_rows = ?, history_failures = ?, leased = ? WHERE id = ?"),
		now, c.histRows.Load(), c.histFailures.Load(), w.held.Load(), w.owner)
	unlock()
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 { // removed as dead by an operator: come back
		if err := w.register(ctx); err != nil {
			return err
		}
	}
	w.lastBeat.Store(time.Now().UnixNano())
	return nil
}

// beatFresh reports whether the instance's heartbeat is recent enough for
// its leases to be sure to hold through the start of a request.
func (w *worker) beatFresh() bool {
	return time.Since(time.Unix(0, w.lastBeat.Load())) < w.c.cfg.LeaseDuration/2
}

// sweepInterval is how often the workers cancel the pending deliveries of
// webhooks that were deleted or disabled.
func (w *worker) sweepInterval() time.Duration { return w.c.cfg.LeaseDuration }

// run is the worker's only database writer. It returns true when it
// stopped with everything recorded.
func (w *worker) run() bool {
	c := w.c
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastPrune, lastSweep time.Time
	failures := 0
	for {
		if w.dbctx.Err() != nil {
			return false // Stop gave up on the database
		}
		stopping := w.stopping()
		w.mu.Lock()
		if stopping {
			w.dropQueued()
		} else {
			w.dispatch()
		}
		w.held.Store(int64(w.queued + w.inFlight + len(w.pending) + len(w.giveBack)))
		if stopping && w.inFlight == 0 && len(w.pending) == 0 && len(w.giveBack) == 0 {
			w.mu.Unlock()
			return true
		}
		var plan claimPlan
		if !stopping && failures == 0 && w.beatFresh() {
			plan = w.plan()
		}
		batch, give := w.pending, w.giveBack
		w.pending, w.giveBack, w.writing = nil, nil, batch
		var known []any
		if w.rewrite {
			known = w.knownIDs(give)
		}
		w.mu.Unlock()

		if !stopping && failures == 0 {
			if c.cfg.RetainHistory > 0 && time.Since(lastPrune) > time.Hour {
				lastPrune = time.Now()
				if _, err := c.PruneHistory(w.dbctx, c.cfg.RetainHistory); err != nil {
					c.log.Error("webhook: automatic pruning failed", "err", err)
				}
			}
			if time.Since(lastSweep) > w.sweepInterval() {
				lastSweep = time.Now()
				w.sweep()
				w.mu.Lock()
				w.forgetIdleLanes()
				w.mu.Unlock()
			}
		}
		if len(batch) > 0 || len(give) > 0 || plan.any() {
			jobs, more, ev, err := w.transact(batch, give, known, plan)
			w.mu.Lock()
			w.writing = nil
			if err != nil {
				w.pending = append(batch, w.pending...)
				w.giveBack = append(give, w.giveBack...)
				w.mu.Unlock()
				failures++
				w.rewrite = true
				for _, r := range batch {
					if r.attempt != nil {
						c.histFailures.Add(1)
						c.tel.historyFailures.Add(w.ctx, 1, metric.WithAttributes(attrQueued.Bool(true)))
					}
				}
				if failures == 1 || failures%20 == 0 {
					c.log.Error("webhook: recording outcomes or claiming deliveries failed; the outcomes are kept and written again",
						"outcomes", len(batch), "failures", failures, "err", err)
				}
				w.pause(min(c.cfg.PollInterval<<min(failures, 6), 5*time.Second))
				continue
			}
			w.accept(jobs, ev.opened)
			busy := more || len(w.pending) > 0 || len(w.giveBack) > 0
			w.mu.Unlock()
			if failures > 0 {
				c.log.Info("webhook: recording outcomes works again", "failures", failures)
				failures = 0
			}
			w.rewrite = false
			w.countOutcomes(batch)
			c.notifyHealth(w.ctx, ev)
			if busy {
				if c.writeGate != nil {
					// Leave SQLite's write lock free for a moment, for the
					// caller's own transactions (EnqueueTx): their busy
					// handler would otherwise seldom find it free.
					time.Sleep(sqliteYield)
				}
				continue // more may be due, or outcomes are waiting
			}
		}
		wait := c.cfg.PollInterval
		w.mu.Lock()
		if !w.wakeAt.IsZero() {
			wait = max(min(wait, time.Until(w.wakeAt)), time.Millisecond)
			w.wakeAt = time.Time{}
		}
		w.mu.Unlock()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-w.stop:
		case <-w.dbctx.Done():
		case <-c.wake: // an Enqueue here
		case <-timer.C:
		case <-w.kick:
		}
	}
}

// pause waits d, or until Stop aborts the requests.
func (w *worker) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.dbctx.Done():
	case <-w.ctx.Done():
	}
}

// finished records the outcome of a job a sender ran, and starts what can
// start now. Called by the sender, mu not held.
func (w *worker) finished(r *jobResult) {
	w.mu.Lock()
	w.received(r)
	if !w.stopping() {
		w.dispatch()
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// received records an outcome; mu held.
func (w *worker) received(r *jobResult) {
	w.pending = append(w.pending, r)
	if r.job.target == nil {
		return // never started
	}
	w.inFlight--
	delete(w.flying, r.job.row.ID)
	if r.job.row.Attempts > 0 {
		w.retriesInFlight--
	}
	id := r.job.target.row.ID
	if l := w.lanes[id]; l != nil {
		l.inFlight--
		if r.outcome == outcomeSucceeded && r.attempt != nil && r.attempt.sent && r.attempt.duration < quickAnswer {
			l.quick++
		} else {
			l.quick = 0
		}
	}
	if r.attempt != nil && r.attempt.pauseFor > 0 {
		w.giveBackLane(id) // the endpoint asked for a pause: send it nothing more
	}
}

// forgetIdleLanes drops the lanes with nothing queued or in flight that
// were not quick (a quick one keeps its standing for the next burst).
func (w *worker) forgetIdleLanes() {
	for id, l := range w.lanes {
		if l.inFlight == 0 && len(l.queue) == 0 && l.quick < bulkAfter {
			delete(w.lanes, id)
		}
	}
}

// accept queues claimed jobs in their lanes, gives back those of the
// webhooks whose circuit opened (a claim beside the transaction that
// opened one may have taken some), and starts what can start.
func (w *worker) accept(jobs []*job, opened []int64) {
	c := w.c
	for _, j := range jobs {
		if j.target == nil {
			w.pending = append(w.pending, &jobResult{job: j, outcome: outcomeCancelled, errText: j.reason})
			continue
		}
		id := j.target.row.ID
		l := w.lanes[id]
		if l == nil {
			l = &lane{}
			w.lanes[id] = l
		}
		wh := &j.target.wh
		l.ordered = wh.Ordered
		l.limit = c.cfg.MaxInFlightPerWebhook
		if wh.MaxInFlight > 0 {
			l.limit = wh.MaxInFlight
		}
		if l.ordered {
			l.limit = 1
		}
		l.limiter = c.limiter(id, wh.RateLimit)
		if len(l.queue) == 0 {
			w.ready = append(w.ready, l)
		}
		l.queue = append(l.queue, j)
		w.queued++
	}
	for _, id := range opened {
		w.giveBackLane(id)
		w.cache.openCircuit = true // probe it without waiting for the cache
	}
	w.dispatch()
}

// dispatch starts queued jobs, round robin across lanes, while workers are
// free: each lane within its cap and rate limit, retries within three
// quarters of the workers so that first attempts always find some.
func (w *worker) dispatch() {
	c := w.c
	if !w.beatFresh() {
		return // the heartbeat is failing: our leases may lapse mid-request
	}
	maxRetries := max(1, c.cfg.Workers*3/4)
	for w.inFlight < c.cfg.Workers && len(w.ready) > 0 {
		started := false
		for i := 0; i < len(w.ready) && w.inFlight < c.cfg.Workers; {
			l := w.ready[i]
			j := l.queue[0]
			if l.inFlight >= l.limit || (j.row.Attempts > 0 && w.retriesInFlight >= maxRetries) || !w.allow(l) {
				i++
				continue
			}
			l.queue[0] = nil
			l.queue = l.queue[1:]
			w.queued--
			l.inFlight++
			w.inFlight++
			w.flying[j.row.ID] = true
			if j.row.Attempts > 0 {
				w.retriesInFlight++
			}
			started = true
			go func() { w.finished(w.send(j)) }()
			if len(l.queue) == 0 {
				w.ready = append(w.ready[:i], w.ready[i+1:]...)
				continue
			}
			i++
		}
		if !started {
			return
		}
	}
}

// allow takes a token of the lane's rate limit, or notes when the next comes.
func (w *worker) allow(l *lane) bool {
	if l.limiter == nil || l.limiter.Allow() {
		return true
	}
	r := l.limiter.Reserve()
	at := time.Now().Add(r.Delay())
	r.Cancel()
	if w.wakeAt.IsZero() || at.Before(w.wakeAt) {
		w.wakeAt = at
	}
	return false
}

// giveBackLane releases the queued jobs of a webhook whose circuit opened.
func (w *worker) giveBackLane(id int64) {
	l := w.lanes[id]
	if l == nil || len(l.queue) == 0 {
		return
	}
	w.giveBack = append(w.giveBack, l.queue...)
	w.queued -= len(l.queue)
	l.queue, l.quick = nil, 0
	for i, r := range w.ready {
		if r == l {
			w.ready = append(w.ready[:i], w.ready[i+1:]...)
			break
		}
	}
}

// dropQueued releases every queued job (the worker is stopping).
func (w *worker) dropQueued() {
	for _, l := range w.ready {
		w.giveBack = append(w.giveBack, l.queue...)
		w.queued -= len(l.queue)
		l.queue = nil
	}
	w.ready = nil
}

// transact writes the outcomes of batch, releases give, and claims what
// plan says, in one transaction, or on PostgreSQL, when it is safe, in two
// at once (see apart). known, set after a failed write, lists the
// deliveries the worker holds. more reports that a claim got all it asked
// for: more may be due.
func (w *worker) transact(batch []*jobResult, give []*job, known []any, plan claimPlan) (jobs []*job, more bool, ev healthEvents, err error) {
	c := w.c
	ctx, cancel := context.WithTimeout(w.dbctx, w.dbTimeout())
	defer cancel()
	if w.apart(batch, give, plan) {
		return w.transactApart(ctx, batch, give, plan)
	}
	defer c.lockWrites()()
	err = c.transaction(ctx, func(tx *gorm.DB) error {
		jobs, more, ev = nil, false, healthEvents{}
		pool := tx.Statement.ConnPool
		var err error
		if ev, err = w.record(ctx, pool, batch, give, known); err != nil {
			return err
		}
		if plan.any() {
			jobs, more, err = w.claim(ctx, pool, plan, true)
		}
		return err
	})
	if err != nil {
		return nil, false, healthEvents{}, err
	}
	return jobs, more, ev, nil
}

// apart reports whether the outcomes and the claim go in two transactions
// at once, each on its own connection: on PostgreSQL, when there is both
// to write and to claim, the last write did not fail (releaseUnknown, which
// then runs first, must not see a claim under way) and no circuit is open
// (a probe's lock on its webhook row could wait on the outcomes'
// transaction, which may wait on it). Running them side by side makes an
// iteration as long as the longer of the two instead of their sum; the
// claim never picks a delivery the outcomes touch, which are leased to
// this instance until they commit.
func (w *worker) apart(batch []*jobResult, give []*job, plan claimPlan) bool {
	return w.c.db.Dialector.Name() == dialectPostgres && !w.rewrite && !w.cache.openCircuit &&
		plan.any() && (len(batch) > 0 || len(give) > 0)
}

func (w *worker) transactApart(ctx context.Context, batch []*jobResult, give []*job, plan claimPlan) ([]*job, bool, healthEvents, error) {
	c := w.c
	var (
		jobs     []*job
		more     bool
		claimErr error
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		claimErr = c.transaction(ctx, func(tx *gorm.DB) error {
			var err error
			jobs, more, err = w.claim(ctx, tx.Statement.ConnPool, plan, false)
			return err
		})
	}()
	var ev healthEvents
	err := c.transaction(ctx, func(tx *gorm.DB) error {
		var err error
		ev, err = w.record(ctx, tx.Statement.ConnPool, batch, give, nil)
		return err
	})
	wg.Wait()
	if err == nil {
		err = claimErr
	}
	if err != nil {
		// The write may have committed, or the claim: the next write checks
		// for its rows first and releases the leases it does not know of.
		return nil, false, healthEvents{}, err
	}
	return jobs, more, ev, nil
}

// record releases give and writes the outcomes of batch, in tx (pool):
// after a failed write (w.rewrite), first releasing the leases of this
// instance that it does not know of (known lists those it does).
func (w *worker) record(ctx context.Context, pool gorm.ConnPool, batch []*jobResult, give []*job, known []any) (healthEvents, error) {
	c := w.c
	if w.rewrite {
		if err := w.releaseUnknown(ctx, pool, known); err != nil {
			return healthEvents{}, err
		}
	}
	if len(give) > 0 {
		ids := make([]any, len(give))
		for i, j := range give {
			ids[i] = j.row.ID
		}
		in, inArgs := c.inIDs("id", ids, false)
		if _, err := unprepared(pool).ExecContext(ctx, c.ph.rebind(`UPDATE webhook_delivery SET lease_owner = NULL, lease_until = NULL
			WHERE lease_owner = ? AND `+in), append([]any{w.owner}, inArgs...)...); err != nil {
			return healthEvents{}, fmt.Errorf("webhook: releasing deliveries: %w", err)
		}
	}
	if len(batch) == 0 {
		return healthEvents{}, nil
	}
	return w.writeOutcomes(ctx, pool, batch)
}

// knownIDs lists the deliveries the worker holds: in flight, queued, with
// an outcome to write, or to give back; mu held.
func (w *worker) knownIDs(give []*job) []any {
	known := make([]any, 0, len(w.flying)+w.queued+len(w.pending)+len(w.writing)+len(give))
	for id := range w.flying {
		known = append(known, id)
	}
	for _, l := range w.ready {
		for _, j := range l.queue {
			known = append(known, j.row.ID)
		}
	}
	for _, r := range append(w.pending, w.writing...) {
		known = append(known, r.job.row.ID)
	}
	for _, j := range give {
		known = append(known, j.row.ID)
	}
	return known
}

// releaseUnknown releases the deliveries leased to this instance that it
// does not know of: those a transaction claimed when its commit reached the
// database but its answer did not (the connection dropped), so that the
// claim looked failed. Nothing else would ever free them while the
// instance lives.
func (w *worker) releaseUnknown(ctx context.Context, pool gorm.ConnPool, known []any) error {
	c := w.c
	q := `UPDATE webhook_delivery SET lease_owner = NULL, lease_until = NULL WHERE status = ? AND lease_owner = ?`
	args := []any{StatusPending, w.owner}
	if len(known) > 0 {
		in, inArgs := c.inIDs("id", known, true)
		q += ` AND ` + in
		args = append(args, inArgs...)
	}
	res, err := unprepared(pool).ExecContext(ctx, c.ph.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("webhook: releasing deliveries of a claim whose answer was lost: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		c.log.Warn("webhook: released deliveries claimed by a transaction whose answer was lost", "deliveries", n)
	}
	return nil
}

// claimable is the condition under which a pending delivery (alias a) is
// free to claim: no lease, or a lease of another instance that expired and
// whose heartbeat is older than the lease duration. Its arguments are
// claimableArgs.
func claimable(a string) string {
	return `(` + a + `.lease_owner IS NULL OR (` + a + `.lease_owner <> ? AND ` + a + `.lease_until < ? AND NOT EXISTS (
		SELECT 1 FROM webhook_instance i WHERE i.id = ` + a + `.lease_owner AND i.last_seen_at >= ?)))`
}

func (w *worker) claimableArgs(now time.Time) []any {
	return []any{w.owner, now, now.Add(-w.c.cfg.LeaseDuration)}
}

// claimSQL leases, for each webhook that passes filter (alias w), up to a
// given number of its due deliveries, oldest due first, and returns the
// leased rows, oldest due first, up to a limit. For ordered webhooks
// (ordered true) it leases only the oldest pending delivery of each, by
// enqueue order, and only when that one is due.
func (w *worker) claimSQL(filter string, ordered bool) string {
	c := w.c
	var inner string
	if ordered {
		filter += " AND " + orderedExpr(c.db, "w")
		inner = `SELECT q.id, q.next_attempt_at FROM webhook_delivery q
			WHERE q.id = (SELECT MIN(y.id) FROM webhook_delivery y
				WHERE y.scope_type = w.scope_type AND y.scope_code = w.scope_code AND y.webhook_code = w.code AND y.status = ?)
			AND q.next_attempt_at <= ? AND ` + claimable("q") + ` LIMIT ?`
	} else {
		filter += " AND NOT " + orderedExpr(c.db, "w")
		// In the order of webhook_delivery_queue, so that the scan stops
		// after its limit. No tie-break on id: PostgreSQL would then sort
		// every due delivery of the webhook at each claim, and deliveries
		// enqueued together (EnqueueMany) all have the same time. Ties
		// come in the index's order: by rowid on SQLite, by place in the
		// table (for new rows, the order of insertion) on PostgreSQL.
		inner = `SELECT q.id, q.next_attempt_at FROM webhook_delivery q
			WHERE q.scope_type = w.scope_type AND q.scope_code = w.scope_code AND q.webhook_code = w.code
			AND q.status = ? AND q.next_attempt_at <= ? AND ` + claimable("q") + `
			ORDER BY q.next_attempt_at LIMIT ?`
	}
	var from string
	if c.db.Dialector.Name() == dialectPostgres {
		from = `webhook_webhook w CROSS JOIN LATERAL (` + inner + ` FOR UPDATE SKIP LOCKED) z`
	} else {
		// SQLite has no LATERAL; CROSS JOIN makes the webhooks the outer
		// loop, so that the subquery runs once per webhook, on its index.
		from = `webhook_webhook w CROSS JOIN webhook_delivery z`
		filter += ` AND z.id IN (` + strings.Replace(inner, "SELECT q.id, q.next_attempt_at", "SELECT q.id", 1) + `)`
	}
	return `UPDATE webhook_delivery SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT z.id FROM ` + from + ` WHERE ` + filter + ` ORDER BY z.next_attempt_at, z.id LIMIT ?)
		RETURNING id, delivery_id, event_code, scope_type, scope_code, webhook_code, payload, attempts, created_at, trace_parent`
}

// claimPlan says what one transaction claims.
type claimPlan struct {
	fair  int   // deliveries for any webhook outside bulk and full lanes
	full  []any // ids of webhooks whose lane has all it may hold
	bulk  []any // ids of webhooks whose lanes drain quickly, with room
	bulkN int   // deliveries for them
}

func (p claimPlan) any() bool { return p.fair > 0 || p.bulkN > 0 }

// bulkAfter is the number of consecutive quick successes after which a lane
// may hold a whole claim batch: its endpoint answers fast, so what is
// claimed for it starts soon.
const bulkAfter = 8

// quickAnswer is the longest answer that counts as quick for bulkAfter.
const quickAnswer = time.Second

// plan decides what the next transaction claims. A lane may hold (queued
// and in flight) twice its cap, or a whole claim batch once its endpoint
// proved quick; the instance holds at most about twice its workers besides
// the bulk lanes, so that it never leases far more than it can start soon.
func (w *worker) plan() claimPlan {
	c := w.c
	var p claimPlan
	queuedFair := w.queued
	for id, l := range w.lanes {
		held := len(l.queue) + l.inFlight
		switch {
		case l.ordered:
			if held > 0 {
				p.full = append(p.full, id)
			}
		case l.quick >= bulkAfter:
			queuedFair -= len(l.queue)
			p.full = append(p.full, id)
			if room := 2*c.cfg.ClaimBatch - held; room >= c.cfg.ClaimBatch/4 {
				p.bulk = append(p.bulk, id)
				p.bulkN += room
			}
		case held >= 2*l.limit:
			p.full = append(p.full, id)
		}
	}
	p.bulkN = min(p.bulkN, 2*c.cfg.ClaimBatch)
	p.fair = max(0, min(c.cfg.ClaimBatch, 2*c.cfg.Workers-w.inFlight-queuedFair))
	if c.woken.Swap(false) {
		w.fairQuietUntil = time.Time{} // an Enqueue here: look now
	}
	if p.bulkN > 0 && time.Now().Before(w.fairQuietUntil) {
		// The last look found nothing for the other webhooks: while busy
		// with the quick lanes, look again once a poll interval passed.
		p.fair = 0
	}
	return p
}

// claimCache remembers for a second whether any webhook is ordered or has
// an open circuit, so that claims skip the statements for them otherwise.
type claimCache struct {
	at                   time.Time
	ordered, openCircuit bool
}

// claim leases due deliveries as plan says, fairly across webhooks, and
// loads their webhooks. First it takes the probes of circuits due for one
// (unless probes is false), then the heads of ordered webhooks.
func (w *worker) claim(ctx context.Context, pool gorm.ConnPool, plan claimPlan, probes bool) ([]*job, bool, error) {
	c := w.c
	now := c.now().UTC()
	var jobs []*job
	more := false
	if time.Since(w.cache.at) > time.Second {
		var ordered, open int64
		if err := pool.QueryRowContext(ctx, c.ph.rebind(`SELECT COUNT(CASE WHEN `+orderedExpr(c.db, "w")+` THEN 1 END), COUNT(w.circuit_open_until)
			FROM webhook_webhook w WHERE w.enable_webhook = ?`), true).Scan(&ordered, &open); err != nil {
			return nil, false, fmt.Errorf("webhook: claiming deliveries: %w", err)
		}
		w.cache = claimCache{at: time.Now(), ordered: ordered > 0, openCircuit: open > 0}
	}

	// Half-open circuits with a delivery to probe: take the probe (so that
	// no other instance probes too) and claim that one delivery.
	if w.cache.openCircuit && probes {
		probeQ := `UPDATE webhook_webhook SET circuit_open_until = ?
			WHERE circuit_open_until IS NOT NULL AND circuit_open_until <= ? AND enable_webhook = ?
			AND EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.scope_type = webhook_webhook.scope_type AND d.scope_code = webhook_webhook.scope_code
				AND d.webhook_code = webhook_webhook.code AND d.status = ? AND d.next_attempt_at <= ? AND ` + claimable("d") + `)
			RETURNING id`
		probeArgs := append([]any{now.Add(c.cfg.LeaseDuration + c.cfg.Timeout), now, true, StatusPending, now}, w.claimableArgs(now)...)
		probes, err := queryIDs(ctx, pool, c.ph.rebind(probeQ), probeArgs...)
		if err != nil {
			return nil, false, fmt.Errorf("webhook: taking circuit probes: %w", err)
		}
		if len(probes) > 0 {
			filter, ids := c.inIDs("w.id", anys(probes), false)
			got, err := w.claimRows(ctx, pool, now, filter, ids, true, 1, len(probes))
			if err != nil {
				return nil, false, err
			}
			if len(got) < len(probes) {
				more, err := w.claimRows(ctx, pool, now, filter, ids, false, 1, len(probes)-len(got))
				if err != nil {
					return nil, false, err
				}
				got = append(got, more...)
			}
			for _, j := range got {
				j.probe = true
			}
			jobs = append(jobs, got...)
		}
	}

	// Every other webhook with room in its lane: the heads of ordered ones,
	// then up to twice the in-flight cap of each of the others, then whole
	// batches for the lanes that drain quickly.
	base := "w.enable_webhook = ? AND w.circuit_open_until IS NULL"
	if plan.fair > 0 {
		filter, args := base, []any{true}
		if len(plan.full) > 0 {
			in, inArgs := c.inIDs("w.id", plan.full, true)
			filter += " AND " + in
			args = append(args, inArgs...)
		}
		n := plan.fair
		if w.cache.ordered {
			got, err := w.claimRows(ctx, pool, now, filter, args, true, 1, n)
			if err != nil {
				return nil, false, err
			}
			jobs, n = append(jobs, got...), n-len(got)
		}
		if n > 0 {
			got, err := w.claimRows(ctx, pool, now, filter, args, false, 2*c.cfg.MaxInFlightPerWebhook, n)
			if err != nil {
				return nil, false, err
			}
			jobs = append(jobs, got...)
			more = more || len(got) == n
			if len(got) == 0 {
				w.fairQuietUntil = time.Now().Add(c.cfg.PollInterval)
			}
		}
	}
	if plan.bulkN > 0 {
		in, inArgs := c.inIDs("w.id", plan.bulk, false)
		got, err := w.claimRows(ctx, pool, now, base+" AND "+in, append([]any{true}, inArgs...), false, c.cfg.ClaimBatch, plan.bulkN)
		if err != nil {
			return nil, false, err
		}
		jobs = append(jobs, got...)
		more = more || len(got) == plan.bulkN
	}
	if len(jobs) == 0 {
		return nil, more, nil
	}
	targets, err := c.loadTargets(ctx, pool, jobs)
	if err != nil {
		return nil, false, err // the transaction rolls the claim back
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
	return jobs, more, nil
}

func (w *worker) claimRows(ctx context.Context, pool gorm.ConnPool, now time.Time, filter string, filterArgs []any, ordered bool, perWebhook, limit int) ([]*job, error) {
	c := w.c
	inner := []any{StatusPending, now}
	inner = append(inner, w.claimableArgs(now)...)
	inner = append(inner, perWebhook)
	args := []any{w.owner, now.Add(c.cfg.LeaseDuration)}
	if c.db.Dialector.Name() == dialectPostgres {
		args = append(append(args, inner...), filterArgs...) // FROM ... LATERAL (inner) WHERE filter
	} else {
		args = append(append(args, filterArgs...), inner...) // WHERE filter AND z.id IN (inner)
	}
	args = append(args, limit)
	rows, err := unprepared(pool).QueryContext(ctx, c.ph.rebind(w.claimSQL(filter, ordered)), args...)
	if err != nil {
		return nil, fmt.Errorf("webhook: claiming deliveries: %w", err)
	}
	defer rows.Close()
	var jobs []*job
	for rows.Next() {
		j := &job{claimedAt: now}
		r := &j.row
		if err := rows.Scan(&r.ID, &r.DeliveryID, &r.EventCode, &r.ScopeType, &r.ScopeCode, &r.WebhookCode, &r.Payload, &r.Attempts, &r.CreatedAt, &r.TraceParent); err != nil {
			return nil, fmt.Errorf("webhook: claiming deliveries: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: claiming deliveries: %w", err)
	}
	return jobs, nil
}

func queryIDs(ctx context.Context, pool gorm.ConnPool, q string, args ...any) ([]int64, error) {
	rows, err := unprepared(pool).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// sweep cancels the pending deliveries of webhooks that were deleted or
// disabled (by this library, an operator or the Python package): claims
// pass over them.
func (w *worker) sweep() {
	c := w.c
	ctx, cancel := context.WithTimeout(w.dbctx, w.dbTimeout())
	defer cancel()
	defer c.lockWrites()()
	now := c.now().UTC()
	err := c.execRaw(ctx, `UPDATE webhook_delivery SET status = ?, last_error = ?, finished_at = ?, next_attempt_at = ?
		WHERE status = ? AND lease_owner IS NULL AND NOT EXISTS (SELECT 1 FROM webhook_webhook w
			WHERE w.scope_type = webhook_delivery.scope_type AND w.scope_code = webhook_delivery.scope_code
			AND w.code = webhook_delivery.webhook_code AND w.enable_webhook = ?)`,
		StatusCancelled, "the webhook was deleted or disabled before the delivery", now, now, StatusPending, true)
	if err != nil {
		c.log.Error("webhook: cancelling the deliveries of deleted or disabled webhooks failed", "err", err)
	}
	if err := c.execRaw(ctx, "DELETE FROM webhook_instance WHERE last_seen_at < ?", now.Add(-instanceForgetAfter)); err != nil {
		c.log.Error("webhook: forgetting dead instances failed", "err", err)
	}
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
	attempt := j.row.Attempts + 1
	p, err := c.prepare(j.target, j.row.EventCode, j.row.Payload, j.row.DeliveryID)
	if err != nil {
		res.attempt, res.errText = c.notAttempted(j.target, j.row.EventCode, j.row.DeliveryID, attempt, err), err.Error()
		res.attempt.row.Queued = true
		retry, delay := c.cfg.RetryPolicy(attempt, &j.target.wh, &AttemptResult{Err: err}, 0)
		res.outcome = outcomeFailed
		if retry {
			res.outcome, res.next = outcomeRetry, c.now().UTC().Add(delay)
		}
		return res
	}
	p.probe, p.queued = j.probe, true
	if j.row.TraceParent != nil {
		p.links = c.tel.linkTo(*j.row.TraceParent)
	}
	ar, o := c.runAttempt(w.ctx, p, attempt, func(ar *AttemptResult, retryAfter time.Duration) (bool, time.Duration) {
		if ar.Success {
			return false, 0
		}
		return c.cfg.RetryPolicy(attempt, &j.target.wh, ar, retryAfter)
	})
	if !ar.Success && w.ctx.Err() != nil {
		res.outcome = outcomeAborted // the worker is stopping: not the endpoint's fault
		return res
	}
	res.attempt, res.status = o, ar.StatusCode
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

// writeOutcomes records a batch of outcomes: history rows, new statuses and
// retry times, the webhooks' health. After a failed write (w.rewrite), the
// batch may have committed already: then each outcome is written only if
// its delivery still has the attempt count it was claimed with, and each
// history row only if it is not there yet, so that every attempt has
// exactly one row.
func (w *worker) writeOutcomes(ctx context.Context, pool gorm.ConnPool, batch []*jobResult) (healthEvents, error) {
	c := w.c
	raw := unprepared(pool)
	exec := func(q string, args ...any) error {
		_, err := raw.ExecContext(ctx, c.ph.rebind(q), args...)
		return err
	}
	now := c.now().UTC()
	var recorded []*attemptOutcome
	succeeded := map[int][]any{} // status code → ids
	var cancelled, aborted []any
	for _, r := range batch {
		if r.attempt != nil {
			if w.rewrite {
				dup, err := c.historyRecorded(ctx, pool, &r.attempt.row, r.job.claimedAt)
				if err != nil {
					return healthEvents{}, err
				}
				if !dup {
					recorded = append(recorded, r.attempt)
				}
			} else {
				recorded = append(recorded, r.attempt)
			}
		}
		id := r.job.row.ID
		guard, guardArgs := " AND lease_owner = ?", []any{w.owner}
		if w.rewrite {
			guard, guardArgs = guard+" AND attempts = ?", append(guardArgs, r.job.row.Attempts)
		}
		var err error
		switch r.outcome {
		case outcomeSucceeded:
			if w.rewrite {
				err = exec(`UPDATE webhook_delivery SET status = ?, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL,
					last_status_code = ?, last_error = NULL, finished_at = ?, next_attempt_at = ? WHERE id = ?`+guard,
					append([]any{StatusSucceeded, nullInt(r.status), now, now, id}, guardArgs...)...)
			} else {
				succeeded[r.status] = append(succeeded[r.status], id)
			}
		case outcomeRetry:
			err = exec(`UPDATE webhook_delivery SET attempts = attempts + ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
					last_status_code = ?, last_error = ? WHERE id = ?`+guard,
				append([]any{boolInt(r.attempt != nil), r.next, nullInt(r.status), r.errText, id}, guardArgs...)...)
		case outcomeFailed:
			err = exec(`UPDATE webhook_delivery SET status = ?, attempts = attempts + ?, lease_owner = NULL, lease_until = NULL,
					last_status_code = ?, last_error = ?, finished_at = ?, next_attempt_at = ? WHERE id = ?`+guard,
				append([]any{StatusFailed, boolInt(r.attempt != nil), nullInt(r.status), r.errText, now, now, id}, guardArgs...)...)
		case outcomeCancelled:
			cancelled = append(cancelled, id)
		case outcomeAborted:
			aborted = append(aborted, id)
		}
		if err != nil {
			return healthEvents{}, fmt.Errorf("webhook: recording the outcome of delivery %s: %w", r.job.row.DeliveryID, err)
		}
	}
	// The history rows first, then what they say about their webhooks.
	if err := c.insertHistoryOn(ctx, pool, historyRows(recorded)); err != nil {
		return healthEvents{}, err
	}
	for status, ids := range succeeded {
		in, inArgs := c.inIDs("id", ids, false)
		err := exec(`UPDATE webhook_delivery SET status = ?, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL,
				last_status_code = ?, last_error = NULL, finished_at = ?, next_attempt_at = ? WHERE lease_owner = ? AND `+in,
			append([]any{StatusSucceeded, nullInt(status), now, now, w.owner}, inArgs...)...)
		if err != nil {
			return healthEvents{}, fmt.Errorf("webhook: recording %d successful deliveries: %w", len(ids), err)
		}
	}
	if len(cancelled) > 0 {
		in, inArgs := c.inIDs("id", cancelled, false)
		err := exec(`UPDATE webhook_delivery SET status = ?, lease_owner = NULL, lease_until = NULL, last_error = ?, finished_at = ?, next_attempt_at = ?
			WHERE lease_owner = ? AND `+in,
			append([]any{StatusCancelled, "the webhook was deleted or disabled before the delivery", now, now, w.owner}, inArgs...)...)
		if err != nil {
			return healthEvents{}, fmt.Errorf("webhook: recording cancelled deliveries: %w", err)
		}
	}
	if len(aborted) > 0 {
		in, inArgs := c.inIDs("id", aborted, false)
		if err := exec(`UPDATE webhook_delivery SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND `+in,
			append([]any{w.owner}, inArgs...)...); err != nil {
			return healthEvents{}, fmt.Errorf("webhook: releasing deliveries: %w", err)
		}
	}
	return c.trackHealth(ctx, pool, recorded)
}

// historyRecorded reports whether the history row of an attempt made after
// since is in webhook_history already.
func (c *Client) historyRecorded(ctx context.Context, pool gorm.ConnPool, h *historyRow, since time.Time) (bool, error) {
	var n int64
	err := pool.QueryRowContext(ctx, c.ph.rebind(`SELECT COUNT(*) FROM webhook_history WHERE delivery_id = ? AND scope_type = ? AND scope_code = ?
		AND webhook_code = ? AND attempt = ? AND created_at >= ?`), h.DeliveryID, h.ScopeType, h.ScopeCode, h.WebhookCode, h.Attempt, since.Add(-time.Second)).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("webhook: checking the history of delivery %s: %w", h.DeliveryID, err)
	}
	return n > 0, nil
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// countOutcomes counts the deliveries of a committed batch that reached an
// outcome, with the latency of the successful ones from their enqueue.
func (w *worker) countOutcomes(batch []*jobResult) {
	t := w.c.tel
	now := w.c.now()
	enabled := t.deliveries.Enabled(w.ctx) || t.latency.Enabled(w.ctx)
	for _, r := range batch {
		row := r.job.row
		if r.attempt != nil {
			w.c.histRows.Add(1)
		}
		if !enabled {
			continue
		}
		switch r.outcome {
		case outcomeSucceeded:
			t.delivered(row.EventCode, row.ScopeType, row.ScopeCode, row.WebhookCode, true, true, now.Sub(row.CreatedAt))
		case outcomeFailed:
			t.delivered(row.EventCode, row.ScopeType, row.ScopeCode, row.WebhookCode, true, false, 0)
		case outcomeRetry:
			t.deliveries.Add(w.ctx, 1, t.deliveryAttrs(row.EventCode, row.ScopeType, row.ScopeCode, row.WebhookCode, true, outcomeNameRetried))
		case outcomeCancelled:
			t.deliveries.Add(w.ctx, 1, t.deliveryAttrs(row.EventCode, row.ScopeType, row.ScopeCode, row.WebhookCode, true, outcomeNameCancelled))
		}
	}
}
