package webhook

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

const (
	fixtureSQLite   = "testdata/fixtures/bkflow-django-webhook-1.2.6.sqlite3"
	fixturePostgres = "testdata/fixtures/bkflow-django-webhook-1.2.6.postgres.sql"
	fixtureSecret   = "my-private-secret"
	fixtureOrigin   = "http://127.0.0.1:18765"
)

// openFixture returns a migrated client on a fresh copy of the database the
// Python package wrote, its webhooks pointing at rc (when not nil).
func openFixture(t *testing.T, tdb *testDB, rc *receiver, cfg Config) *Client {
	t.Helper()
	db := tdb.openFixture(t)
	cfg.PrivateSecret = fixtureSecret
	c := newClientOn(t, db, cfg)
	if err := c.Migrate(testCtx(t)); err != nil {
		t.Fatalf("Migrate on the Python package's database: %v", err)
	}
	if rc != nil {
		err := db.Exec("UPDATE webhook_webhook SET endpoint = REPLACE(endpoint, ?, ?)", fixtureOrigin, rc.URL).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// schemaSnapshot describes the webhook tables: each column, index and
// constraint keyed by name, with its definition.
func schemaSnapshot(t *testing.T, db *gorm.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	var rows []struct{ Name, Def string }
	var q string
	switch db.Dialector.Name() {
	case dialectSQLite:
		q = "SELECT name, sql AS def FROM sqlite_master WHERE name LIKE 'webhook%' AND sql IS NOT NULL"
	case dialectPostgres:
		q = `SELECT 'column ' || table_name || '.' || column_name AS name,
				data_type || coalesce('(' || character_maximum_length || ')', '') || ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '') AS def
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name LIKE 'webhook%'
			UNION ALL SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'webhook%'
			UNION ALL SELECT 'constraint ' || conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid::regclass::text LIKE 'webhook%'`
	default:
		t.Fatalf("no schema snapshot for %s", db.Dialector.Name())
	}
	if err := db.Raw(q).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		out[r.Name] = r.Def
	}
	return out
}

func testFixtureMigrateKeepsPythonSchema(t *testing.T, tdb *testDB) {
	db := tdb.openFixture(t)
	before := schemaSnapshot(t, db)
	if len(before) == 0 {
		t.Fatal("fixture has no webhook tables")
	}
	c := newClientOn(t, db, Config{PrivateSecret: fixtureSecret})
	for i := 0; i < 2; i++ { // the second run must change nothing
		if err := c.Migrate(testCtx(t)); err != nil {
			t.Fatalf("Migrate #%d on the Python package's database: %v", i+1, err)
		}
	}
	after := schemaSnapshot(t, db)
	for name, def := range before {
		got, ok := after[name]
		switch {
		case !ok:
			t.Errorf("Migrate dropped %s", name)
		case (name == "webhook_history" || name == "webhook_webhook") && tdb.name == dialectSQLite:
			// SQLite keeps ALTER TABLE ADD COLUMN in the CREATE statement.
			if !strings.HasPrefix(got, strings.TrimSuffix(def, ")")) {
				t.Errorf("Migrate changed an existing column of %s:\nbefore %s\nafter  %s", name, def, got)
			}
		case got != def:
			t.Errorf("Migrate changed %s:\nbefore %s\nafter  %s", name, def, got)
		}
	}
	for name, def := range after {
		if _, ok := before[name]; ok {
			continue
		}
		// The outbox and the instances' heartbeats are tables of their own.
		added := strings.Contains(name, "webhook_delivery") || strings.Contains(name, "webhook_instance") || strings.Contains(name, "webhook_change")
		for _, li := range listIndexes { // the library's own indexes for its lists and summaries
			if li.table == "webhook_history" && (name == li.name || name == "index "+li.name) {
				added = true
			}
		}
		for _, col := range []string{"webhook_history.attempt", "webhook_history.duration_us", "webhook_history.error_message", "webhook_history.queued",
			"webhook_webhook.consecutive_failures", "webhook_webhook.failing_since", "webhook_webhook.disabled_reason",
			"webhook_webhook.circuit_failures", "webhook_webhook.circuit_open_until", "webhook_webhook.circuit_opened_at",
			"webhook_webhook.circuit_probes", "webhook_webhook.circuit_reason", "webhook_webhook.disabled_at"} {
			if name == "column "+col {
				added = true
				if !strings.Contains(def, "nullable=YES") && !strings.Contains(def, "default=1") && !strings.Contains(def, "default=0") && !strings.Contains(def, "default=false") {
					t.Errorf("added column %s is neither nullable nor defaulted: %s", name, def)
				}
			}
		}
		if !added {
			t.Errorf("Migrate added %s (%s) to the Python package's schema (a duplicate index?)", name, def)
		}
	}
}

func testFixtureStaysUsableByPythonPackage(t *testing.T, tdb *testDB) {
	c := openFixture(t, tdb, nil, Config{})
	// The Python package inserts history rows without the library's columns.
	err := c.DB().Exec(`INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, "wh_basic", "template_update", time.Date(2026, 11, 26, 21, 0, 0, 0, time.UTC), false, 500,
		"py-later", "biz", "biz1", `{"request": {}, "response": {"error": "boom"}}`).Error
	if err != nil {
		t.Fatalf("a Python-style insert fails after Migrate: %v", err)
	}
	err = c.DB().Exec(`INSERT INTO webhook_webhook (code, name, endpoint, scope_type, scope_code, extra_info, method, enable_webhook)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, "py_new", "n", "http://x/", "biz", "biz9", "{}", "POST", true).Error
	if err != nil {
		t.Fatalf("a Python-style webhook insert fails after Migrate: %v", err)
	}
	hist, err := c.History(testCtx(t), HistoryQuery{DeliveryID: "py-later"})
	if err != nil || len(hist) != 1 || hist[0].Attempt != 1 || hist[0].StatusCode != 500 || !jsonEqual(hist[0].Response.Body, `{"error": "boom"}`) {
		t.Fatalf("reading a Python-style row: %+v, %v", hist, err)
	}
}

func testFixtureHistoryIsReadableAndRedacted(t *testing.T, tdb *testDB) {
	c := openFixture(t, tdb, nil, Config{})
	hist, err := c.History(testCtx(t), HistoryQuery{})
	if err != nil || len(hist) != 2 {
		t.Fatalf("fixture history: %d rows, %v", len(hist), err)
	}
	basic := hist[1]
	if basic.WebhookCode != "wh_basic" || basic.DeliveryID != "fixture-delivery-1" || !basic.Success || basic.StatusCode != 200 {
		t.Errorf("row = %+v", basic)
	}
	if basic.CreatedAt.UTC().Format("2006-01-02 15:04") != "2026-11-26 20:33" {
		t.Errorf("created_at = %v", basic.CreatedAt)
	}
	if basic.Request.URL != fixtureOrigin+"/basic" || !jsonEqual(basic.Response.Body, `{"message": "ok"}`) {
		t.Errorf("request/response = %+v / %+v", basic.Request, basic.Response)
	}
	for _, h := range hist {
		for _, secret := range []string{"tok-shared-123", "payments", "YWxpY2U6czNjcjN0LXB3"} {
			if strings.Contains(string(h.ExtraInfo), secret) || strings.Contains(strings.Join(mapValues(h.Request.Header), " "), secret) {
				t.Errorf("row %d shows the Python package's clear-text credential %q", h.ID, secret)
			}
		}
	}
	if basic.Request.Header["Authorization"] != "Basic [REDACTED]" || basic.Request.Header["Content-Type"] != "application/json" {
		t.Errorf("headers = %v", basic.Request.Header)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func testFixtureBroadcastMatchesPythonPackage(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := openFixture(t, tdb, rc, Config{})
	ctx := testCtx(t)

	// The Python package's recorded requests, for comparison.
	var pyRows []historyRow
	if err := c.DB().Order("id").Find(&pyRows).Error; err != nil || len(pyRows) != 2 {
		t.Fatalf("fixture history: %v", err)
	}
	pyBody := map[string]map[string]any{}
	for _, r := range pyRows {
		var extra struct {
			Request struct {
				JSON map[string]any `json:"json"`
			} `json:"request"`
		}
		if err := json.Unmarshal(r.ExtraInfo, &extra); err != nil {
			t.Fatal(err)
		}
		// The Python package gave the caller's delivery id to the first
		// webhook only; the library gives it to all.
		extra.Request.JSON["delivery_id"] = "fixture-delivery-1"
		pyBody[r.WebhookCode] = extra.Request.JSON
	}

	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "biz1"}},
		map[string]any{"template_id": "t-fixture", "delivery_id": "fixture-delivery-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed()) != 0 {
		t.Fatalf("failed deliveries: %+v", res.Failed())
	}
	got := rc.byPath()
	if !reflect.DeepEqual(counts(got), map[string]int{"/bearer": 1, "/basic": 1}) {
		t.Fatalf("template_update reached %v, want /bearer and /basic", counts(got))
	}
	if h := got["/bearer"][0].Header.Get("Authorization"); h != "Bearer tok-shared-123" {
		t.Errorf("bearer Authorization = %q", h)
	}
	basic := got["/basic"][0]
	if h := basic.Header.Get("Authorization"); h != "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cr3t-pw")) {
		t.Errorf("basic Authorization = %q", h)
	}
	if h := basic.Header.Get("X-Team"); h != "payments" {
		t.Errorf("X-Team = %q", h)
	}
	for path, code := range map[string]string{"/bearer": "wh_bearer", "/basic": "wh_basic"} {
		var body map[string]any
		if err := json.Unmarshal(got[path][0].Body, &body); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(body, pyBody[code]) {
			t.Errorf("%s body differs from the Python package's:\ngo     %v\npython %v", path, body, pyBody[code])
		}
	}

	// template_create reaches /bearer and /get (GET, query, JSON body).
	if _, err := c.Broadcast(ctx, "template_create", []Scope{{"biz", "biz1"}, {"biz", "biz2"}}, nil); err != nil {
		t.Fatal(err)
	}
	got = rc.byPath()
	if !reflect.DeepEqual(counts(got), map[string]int{"/bearer": 2, "/basic": 1, "/get": 1, "/biz2": 1}) {
		t.Fatalf("after template_create: %v", counts(got))
	}
	g := got["/get"][0]
	var gb map[string]any
	if g.Method != "GET" || g.Query != "source=bkflow" || json.Unmarshal(g.Body, &gb) != nil || gb["static"] != "yes" {
		t.Errorf("GET request: %s ?%s %s", g.Method, g.Query, g.Body)
	}
	if len(got["/off"]) != 0 {
		t.Error("the disabled webhook was called")
	}

	// The library's history rows for the delivery carry no credential.
	hist, _ := c.History(ctx, HistoryQuery{DeliveryID: "fixture-delivery-1"})
	if len(hist) != 3 { // the Python row plus two new ones
		t.Fatalf("history rows for the delivery id: %d", len(hist))
	}
	var raw []historyRow
	c.DB().Where("id > 2").Find(&raw)
	for _, r := range raw {
		for _, secret := range []string{"tok-shared-123", "s3cr3t-pw", "payments", "YWxpY2U6czNjcjN0LXB3"} {
			if strings.Contains(string(r.ExtraInfo), secret) {
				t.Errorf("new history row %d stores %q", r.ID, secret)
			}
		}
	}
}

func testFixtureCredentialsDecryptAndRoundTrip(t *testing.T, tdb *testDB) {
	c := openFixture(t, tdb, nil, Config{})
	ctx := testCtx(t)
	whs, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	if len(whs) != 4 {
		t.Fatalf("%d webhooks", len(whs))
	}
	if whs[0].Auth.Token != "tok-shared-123" || whs[0].Timeout != 5*time.Second {
		t.Errorf("wh_bearer = %+v", whs[0])
	}
	if whs[1].Auth.Username != "alice" || whs[1].Auth.Password != "s3cr3t-pw" || whs[1].Headers[0] != (Header{"X-Team", "payments", "team header"}) {
		t.Errorf("wh_basic = %+v", whs[1])
	}
	if !whs[3].Disabled || whs[2].Method != "GET" || whs[2].Params["source"] != "bkflow" {
		t.Errorf("wh_get/wh_off = %+v / %+v", whs[2], whs[3])
	}
	// Re-applying what was read changes no behaviour and keeps the Python
	// package's ciphertexts readable by it (LegacyFernet keeps them as they are).
	legacy := openFixture(t, tdb, nil, Config{LegacyFernet: true})
	var before []webhookRow
	legacy.DB().Order("id").Find(&before)
	if err := legacy.ApplyScopeWebhooks(ctx, "biz", "biz1", whs); err != nil {
		t.Fatal(err)
	}
	var after []webhookRow
	legacy.DB().Order("id").Find(&after)
	for i := range before {
		if before[i].Code != after[i].Code || before[i].ID != after[i].ID {
			t.Fatalf("rows reordered")
		}
		var a, b storedExtra
		a, _ = parseStoredExtra(before[i].ExtraInfo)
		b, _ = parseStoredExtra(after[i].ExtraInfo)
		if a.Authorization != nil && a.Authorization.Token != nil && *a.Authorization.Token != *b.Authorization.Token {
			t.Errorf("%s: token ciphertext rewritten although unchanged", before[i].Code)
		}
	}
	again, err := legacy.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil || !reflect.DeepEqual(again, whs) {
		t.Errorf("round trip changed the webhooks: %v\n%+v\n%+v", err, again, whs)
	}
	// A wrong secret is ErrDecrypt for the affected webhooks only.
	wrong, _ := New(c.DB(), Config{PrivateSecret: "not-the-private-secret"})
	if _, err := wrong.ScopeWebhooks(ctx, "biz", "biz1"); err == nil || !strings.Contains(err.Error(), "wh_bearer") {
		t.Errorf("wrong secret: %v", err)
	}
}

func testFixtureWrongSecretFailsOnlyAffectedWebhooks(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := openFixture(t, tdb, rc, Config{})
	wrong, err := New(c.DB(), Config{PrivateSecret: "not-the-private-secret"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := wrong.Broadcast(testCtx(t), "template_create", []Scope{{"biz", "biz1"}, {"biz", "biz2"}}, nil)
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	byCode := map[string]DeliveryResult{}
	for _, d := range res.Deliveries {
		byCode[d.ScopeCode+"/"+d.WebhookCode] = d
	}
	if d := byCode["biz1/wh_bearer"]; d.Success || d.Err == nil || !strings.Contains(d.Err.Error(), "decrypt") {
		t.Errorf("wh_bearer with the wrong secret: %+v", d)
	}
	if !byCode["biz1/wh_get"].Success || !byCode["biz2/wh_bearer"].Success {
		t.Errorf("webhooks without credentials failed: %+v", res.Deliveries)
	}
	if n := len(rc.byPath()["/bearer"]); n != 0 {
		t.Errorf("an undecryptable webhook was sent %d requests", n)
	}
	hist, _ := wrong.History(testCtx(t), HistoryQuery{WebhookCode: "wh_bearer", ScopeCode: "biz1", Limit: 1})
	if len(hist) != 1 || hist[0].Success || !strings.Contains(hist[0].Error, "decrypt") {
		t.Errorf("history of the failure: %+v", hist)
	}
}
