package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"
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
