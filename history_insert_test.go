package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"
)

// testHistoryBatchInsertKeepsEveryValue writes history rows in one batch
// (on PostgreSQL one JSON recordset, elsewhere a multi-row VALUES list)
// with the awkward values an endpoint or an error can produce, and reads
// them back: each must come back as written, NULLs as NULLs.
func testHistoryBatchInsertKeepsEveryValue(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	ctx := context.Background()
	code, dur := 503, int64(1234567)
	msg := "quote \" backslash \\ newline \n tab \t nul-free control \x01 unicode é 中文 emoji 🎉 invalid \xff end"
	at := time.Date(2026, 12, 1, 21, 0, 0, 123456789, time.UTC)
	rows := []*historyRow{
		{WebhookCode: "h\"1", EventCode: "e\\1", CreatedAt: at, Success: false, StatusCode: &code, DeliveryID: "d-1",
			ScopeType: "biz", ScopeCode: "s</script>", ExtraInfo: jsonText(`{"request":{"url":"http://x/?a=1&b=<2>","json":{"k":"v \" \\ \u00e9"}},"response":{"status_code":503,"body":"down\n"}}`),
			Attempt: 3, DurationUS: &dur, ErrorMessage: &msg, Queued: true},
		{WebhookCode: "h2", EventCode: "e2", CreatedAt: at.Add(time.Second), Success: true, DeliveryID: "d-2",
			ScopeType: "biz", ScopeCode: "s2"},
	}
	if err := c.insertHistoryOn(ctx, c.db.Statement.ConnPool, rows); err != nil {
		t.Fatal(err)
	}
	var got []historyRow
	if err := c.db.Order("delivery_id").Find(&got).Error; err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows, want 2", len(got))
	}
	a, b := got[0], got[1]
	wantMsg := "quote \" backslash \\ newline \n tab \t nul-free control \x01 unicode é 中文 emoji 🎉 invalid \uFFFD end"
	if a.WebhookCode != "h\"1" || a.EventCode != "e\\1" || a.ScopeCode != "s</script>" || a.Success || a.StatusCode == nil || *a.StatusCode != 503 ||
		a.Attempt != 3 || a.DurationUS == nil || *a.DurationUS != dur || a.ErrorMessage == nil || !a.Queued {
		t.Errorf("first row = %+v", a)
	}
	// SQLite keeps the bytes as given; PostgreSQL refuses invalid UTF-8 and
	// gets U+FFFD in its place, and keeps microseconds.
	wantAt := at
	if tdb.name == dialectPostgres {
		wantAt = at.Truncate(time.Microsecond)
	} else {
		wantMsg = msg
	}
	if a.ErrorMessage != nil && *a.ErrorMessage != wantMsg {
		t.Errorf("error message = %q, want %q", *a.ErrorMessage, wantMsg)
	}
	if !a.CreatedAt.Equal(wantAt) {
		t.Errorf("created_at = %v, want %v", a.CreatedAt, wantAt)
	}
	var extra struct {
		Request struct {
			URL  string            `json:"url"`
			JSON map[string]string `json:"json"`
		} `json:"request"`
		Response struct {
			Body string `json:"body"`
		} `json:"response"`
	}
	if err := json.Unmarshal(a.ExtraInfo, &extra); err != nil || extra.Request.URL != "http://x/?a=1&b=<2>" || extra.Request.JSON["k"] != "v \" \\ é" || extra.Response.Body != "down\n" {
		t.Errorf("extra_info = %s (%v)", a.ExtraInfo, err)
	}
	if b.StatusCode != nil || b.DurationUS != nil || b.ErrorMessage != nil || len(b.ExtraInfo) != 0 && string(b.ExtraInfo) != "null" || b.Attempt != 1 || !b.Success || b.Queued {
		t.Errorf("second row = %+v (extra %q)", b, b.ExtraInfo)
	}
}

// TestPostgresArrayLiterals sends awkward text and ids through the array
// literals of pgTextArray and inIDs, and reads them back from PostgreSQL.
func TestPostgresArrayLiterals(t *testing.T) {
	db := postgresTestDB(t).open(t)
	in := []string{"", "plain", `quote " and backslash \ end`, "{braces},comma", "NULL", "中文 🎉", `{"event":{"a":"b\"c"}}`, " spaced "}
	var out []string
	if err := db.Raw("SELECT x FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS u(x, n) ORDER BY n", pgTextArray(in)).Scan(&out).Error; err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d elements, want %d: %q", len(out), len(in), out)
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("element %d = %q, want %q", i, out[i], in[i])
		}
	}
	c := &Client{db: db}
	cond, args := c.inIDs("x", []any{int64(3), int64(-1), int64(9007199254740993)}, false)
	var hits []int64
	if err := db.Raw("SELECT x FROM (VALUES (3::bigint), (4), (9007199254740993)) AS v(x) WHERE "+cond+" ORDER BY x", args...).Scan(&hits).Error; err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0] != 3 || hits[1] != 9007199254740993 {
		t.Errorf("ids matched %v, want [3 9007199254740993]", hits)
	}
}

// TestPostgresOutboxLeavesRoomForClaims: Migrate gives webhook_delivery a
// fill factor, so that a claim can be a HOT update, and keeps one that an
// operator chose.
func TestPostgresOutboxLeavesRoomForClaims(t *testing.T) {
	c := newTestClient(t, postgresTestDB(t), Config{})
	opts := func() string {
		t.Helper()
		var s string
		if err := c.db.Raw("SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'webhook_delivery'::regclass").Scan(&s).Error; err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := opts(); got != "fillfactor="+deliveryFillFactor {
		t.Fatalf("webhook_delivery storage options %q, want fillfactor=%s", got, deliveryFillFactor)
	}
	if err := c.db.Exec("ALTER TABLE webhook_delivery SET (fillfactor = 90)").Error; err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := opts(); got != "fillfactor=90" {
		t.Fatalf("after Migrate, storage options %q, want the operator's fillfactor=90 kept", got)
	}
}

// TestPostgresClaimReadsWhatItLeases: a claim of a batch from a backlog
// enqueued at once (one next_attempt_at for all) reads about the rows it
// leases, not the whole backlog, and rewrites them as HOT updates, which
// touch none of the outbox's indexes.
func TestPostgresClaimReadsWhatItLeases(t *testing.T) {
	c := newTestClient(t, postgresTestDB(t), Config{})
	rc := newReceiver(t, nil)
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	ctx := testCtx(t)
	const backlog, batch = 3000, 256
	if _, err := c.EnqueueMany(ctx, numberedEvents(backlog, "template_update", Scope{"biz", "one"})); err != nil {
		t.Fatal(err)
	}
	w := &worker{c: c, owner: "claim-test"}
	var jobs []*job
	var fetched, updated, hot int64
	errRollback := errors.New("rolled back")
	err := c.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		jobs, err = w.claimRows(ctx, tx.Statement.ConnPool, c.now().UTC(), "w.enable_webhook = ? AND w.circuit_open_until IS NULL", []any{true}, false, batch, batch)
		if err != nil {
			return err
		}
		// This transaction's own counts, which the server keeps at once:
		// the rows fetched through each of the outbox's indexes, and the
		// updates.
		if err := tx.Raw(`SELECT (SELECT SUM(pg_stat_get_xact_tuples_fetched(indexrelid)) FROM pg_index WHERE indrelid = x.oid),
			pg_stat_get_xact_tuples_updated(x.oid), pg_stat_get_xact_tuples_hot_updated(x.oid)
			FROM (SELECT 'webhook_delivery'::regclass::oid AS oid) x`).Row().Scan(&fetched, &updated, &hot); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if len(jobs) != batch || updated != batch {
		t.Fatalf("claimed %d (%d rows updated), want %d", len(jobs), updated, batch)
	}
	// The lateral scan reads the leased rows and the UPDATE finds them again
	// by id: twice the batch. Sorting the backlog would read all 3,000.
	if fetched > 3*batch {
		t.Errorf("the claim of %d read %d rows of a backlog of %d: it reads the backlog, not the batch", batch, fetched, backlog)
	}
	// A claimed row is a little longer (its lease): at the fill factor of
	// 70 about 40 % were HOT.
	if hot < updated*3/4 {
		t.Errorf("%d of the claim's %d updates were HOT, want at least 75 %%: the outbox's pages lack room for a claimed row", hot, updated)
	}
	// Ties go in enqueue order: the batch is the first 256 enqueued.
	var first int64
	if err := c.db.Raw("SELECT MIN(id) FROM webhook_delivery").Scan(&first).Error; err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.row.ID >= first+batch {
			t.Fatalf("claimed delivery %d, not among the first %d enqueued (from %d)", j.row.ID, batch, first)
		}
	}
	t.Logf("claim of %d from %d enqueued together: %d rows read, %d of %d updates HOT", batch, backlog, fetched, hot, updated)
}
