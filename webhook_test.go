package webhook

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	db := openSQLite(t, "")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no secret", Config{}, "PrivateSecret is empty"},
		{"negative timeout", Config{PrivateSecret: testSecret, Timeout: -1}, "Timeout is negative"},
		{"negative concurrency", Config{PrivateSecret: testSecret, MaxConcurrency: -2}, "MaxConcurrency is negative"},
		{"empty old secret", Config{PrivateSecret: testSecret, OldPrivateSecrets: []string{""}}, "OldPrivateSecrets[0] is empty"},
		{"negative body cap", Config{PrivateSecret: testSecret, MaxResponseBodyBytes: -1}, "MaxResponseBodyBytes is negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(db, tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want ErrInvalidConfig mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil, Config{PrivateSecret: testSecret}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New(nil db) error = %v, want ErrInvalidConfig", err)
	}
}

func testMigrateIsIdempotent(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	for i := 0; i < 2; i++ {
		if err := c.Migrate(testCtx(t)); err != nil {
			t.Fatalf("Migrate #%d: %v", i+2, err)
		}
	}
	m := c.DB().Migrator()
	for _, table := range []string{"webhook_event", "webhook_webhook", "webhook_subscription", "webhook_history", "webhook_scope"} {
		if !m.HasTable(table) {
			t.Errorf("table %s missing after Migrate", table)
		}
	}
	if !m.HasIndex(&historyRow{}, "webhook_history_delivery_id_87491240") {
		t.Error("history delivery_id index missing")
	}
}

// setupScope syncs two events and applies webhooks pointing at rc.
func setupScope(t *testing.T, c *Client, rc *receiver) {
	t.Helper()
	ctx := testCtx(t)
	mustSync(t, c, twoEvents)
	hooks := []WebhookConfig{
		{Code: "wh_bearer", Name: "Bearer hook", Endpoint: rc.URL + "/bearer", Auth: &Auth{Type: "Bearer", Token: "tok-shared-123"}},
		{Code: "wh_basic", Name: "Basic hook", Endpoint: rc.URL + "/basic", Auth: &Auth{Type: "BASIC", Username: "alice", Password: "s3cr3t-pw"},
			Headers: []Header{{Key: "X-Team", Value: "payments", Doc: "team header"}}},
		{Code: "wh_get", Name: "GET hook", Endpoint: rc.URL + "/get", Method: "get", Params: map[string]string{"source": "bkflow"}, Data: map[string]any{"static": "yes"}},
		{Code: "wh_off", Name: "Disabled hook", Endpoint: rc.URL + "/off", Disabled: true},
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "biz1", hooks); err != nil {
		t.Fatalf("ApplyScopeWebhooks: %v", err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "biz2", []WebhookConfig{{Code: "wh_bearer", Name: "Other scope hook", Endpoint: rc.URL + "/biz2"}}); err != nil {
		t.Fatalf("ApplyScopeWebhooks biz2: %v", err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{
		"wh_bearer": {"*"}, "wh_basic": {"template_update"}, "wh_get": {"template_create"}, "wh_off": {"*"},
	}); err != nil {
		t.Fatalf("ApplyScopeSubscriptions: %v", err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz2", map[string][]string{"wh_bearer": {"template_create"}}); err != nil {
		t.Fatalf("ApplyScopeSubscriptions biz2: %v", err)
	}
}

func testBroadcastWireFormat(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)

	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "biz1"}}, map[string]any{"template_id": "t1"})
	if err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	got := rc.byPath()
	if len(got) != 2 || len(got["/bearer"]) != 1 || len(got["/basic"]) != 1 {
		t.Fatalf("template_update reached %v, want exactly /bearer and /basic once", keys(got))
	}
	if len(res.Deliveries) != 2 || len(res.Failed()) != 0 {
		t.Fatalf("deliveries = %+v", res.Deliveries)
	}
	bearer := got["/bearer"][0]
	if h := bearer.Header.Get("Authorization"); h != "Bearer tok-shared-123" {
		t.Errorf("bearer Authorization = %q", h)
	}
	if ct := bearer.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if ua := bearer.Header.Get("User-Agent"); !strings.HasPrefix(ua, "scopehook-webhook/") {
		t.Errorf("User-Agent = %q", ua)
	}
	basic := got["/basic"][0]
	if h := basic.Header.Get("Authorization"); h != "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:s3cr3t-pw")) {
		t.Errorf("basic Authorization = %q", h)
	}
	if h := basic.Header.Get("X-Team"); h != "payments" {
		t.Errorf("X-Team = %q", h)
	}
	var body map[string]any
	if err := json.Unmarshal(bearer.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, bearer.Body)
	}
	id, _ := body["delivery_id"].(string)
	if len(id) != 32 {
		t.Errorf("delivery_id = %q, want 32 hex digits", id)
	}
	want := map[string]any{
		"event": map[string]any{
			"code": "template_update", "name": "模板更新", "description": "a template changed",
			"info": map[string]any{"template_id": "t1"},
		},
		"delivery_id": id,
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %s\nwant %v", bearer.Body, want)
	}
	var basicBody map[string]any
	_ = json.Unmarshal(basic.Body, &basicBody)
	if basicBody["delivery_id"] == id {
		t.Error("two webhooks of one broadcast share a generated delivery id")
	}

	// GET keeps a JSON body and the params as the query; static data merged.
	if _, err := c.Broadcast(ctx, "template_create", []Scope{{"biz", "biz1"}}, nil); err != nil {
		t.Fatal(err)
	}
	got = rc.byPath()
	if len(got["/get"]) != 1 || len(got["/bearer"]) != 2 || len(got["/off"]) != 0 || len(got["/biz2"]) != 0 {
		t.Fatalf("template_create reached %v", counts(got))
	}
	g := got["/get"][0]
	if g.Method != http.MethodGet || g.Query != "source=bkflow" {
		t.Errorf("GET request = %s ?%s", g.Method, g.Query)
	}
	var gb map[string]any
	if err := json.Unmarshal(g.Body, &gb); err != nil || gb["static"] != "yes" || gb["event"].(map[string]any)["code"] != "template_create" {
		t.Errorf("GET body = %s (%v)", g.Body, err)
	}
	if info := gb["event"].(map[string]any)["info"]; !reflect.DeepEqual(info, map[string]any{}) {
		t.Errorf("info with no extra info = %#v, want {}", info)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func counts(m map[string][]received) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

func testBroadcastDeliveryIDFromExtraInfoGoesToEveryWebhook(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	info := map[string]any{"template_id": "t-fixture", "delivery_id": "fixture-delivery-1"}
	res, err := c.Broadcast(testCtx(t), "template_update", []Scope{{"biz", "biz1"}}, info)
	if err != nil {
		t.Fatal(err)
	}
	if _, still := info["delivery_id"]; !still {
		t.Error("Broadcast modified the caller's extraInfo map")
	}
	for _, r := range rc.requests() {
		var body map[string]any
		_ = json.Unmarshal(r.Body, &body)
		if body["delivery_id"] != "fixture-delivery-1" {
			t.Errorf("%s got delivery_id %v", r.Path, body["delivery_id"])
		}
		if _, leaked := body["event"].(map[string]any)["info"].(map[string]any)["delivery_id"]; leaked {
			t.Errorf("%s: delivery_id left in info", r.Path)
		}
	}
	for _, d := range res.Deliveries {
		if d.DeliveryID != "fixture-delivery-1" {
			t.Errorf("result delivery id = %q", d.DeliveryID)
		}
	}
	hist, err := c.History(testCtx(t), HistoryQuery{DeliveryID: "fixture-delivery-1"})
	if err != nil || len(hist) != 2 {
		t.Fatalf("history for the id: %d rows, err %v", len(hist), err)
	}
}

func testBroadcastResolution(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)

	// Unknown event: error, nothing sent.
	_, err := c.Broadcast(ctx, "no_such_event", []Scope{{"biz", "biz1"}}, nil)
	if !errors.Is(err, ErrEventNotFound) {
		t.Fatalf("unknown event error = %v", err)
	}
	// No scopes: nothing sent, no error.
	res, err := c.Broadcast(ctx, "template_update", nil, nil)
	if err != nil || len(res.Deliveries) != 0 {
		t.Fatalf("empty scopes: %v, %v", res, err)
	}
	// Unknown scope: nothing.
	res, err = c.Broadcast(ctx, "template_update", []Scope{{"biz", "nope"}}, nil)
	if err != nil || len(res.Deliveries) != 0 {
		t.Fatalf("unknown scope: %+v, %v", res, err)
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d requests sent, want 0", n)
	}
	// A scope listed twice, plus another scope: each webhook once.
	res, err = c.Broadcast(ctx, "template_create", []Scope{{"biz", "biz1"}, {"biz", "biz2"}, {"biz", "biz1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := counts(rc.byPath())
	want := map[string]int{"/bearer": 1, "/get": 1, "/biz2": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reached %v, want %v", got, want)
	}
	if len(res.Deliveries) != 3 {
		t.Fatalf("%d deliveries", len(res.Deliveries))
	}
	// Empty event code.
	if _, err := c.Broadcast(ctx, "", []Scope{{"biz", "biz1"}}, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty event code: %v", err)
	}
	// An over-long delivery id is refused before sending.
	before := len(rc.requests())
	_, err = c.Broadcast(ctx, "template_create", []Scope{{"biz", "biz1"}}, map[string]any{"delivery_id": strings.Repeat("x", 65)})
	if !errors.Is(err, ErrInvalidArgument) || len(rc.requests()) != before {
		t.Fatalf("long delivery id: err %v, sent %d", err, len(rc.requests())-before)
	}
}

func testBroadcastHistory(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newTestClient(t, tdb, Config{Now: func() time.Time { return now }})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	if _, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "biz1"}}, map[string]any{"template_id": "t1"}); err != nil {
		t.Fatal(err)
	}
	hist, err := c.History(ctx, HistoryQuery{WebhookCode: "wh_basic"})
	if err != nil || len(hist) != 1 {
		t.Fatalf("history: %v rows, err %v", len(hist), err)
	}
	h := hist[0]
	if !h.Success || h.StatusCode != 200 || h.Attempt != 1 || h.EventCode != "template_update" || h.ScopeCode != "biz1" {
		t.Errorf("history row = %+v", h)
	}
	if !h.CreatedAt.Equal(now) {
		t.Errorf("created_at = %v, want %v", h.CreatedAt, now)
	}
	if h.Request.URL != rc.URL+"/basic" || h.Request.Method != "POST" {
		t.Errorf("request = %+v", h.Request)
	}
	if h.Request.Header["Authorization"] != "Basic [REDACTED]" || h.Request.Header["X-Team"] != "[REDACTED]" {
		t.Errorf("request headers not redacted: %v", h.Request.Header)
	}
	var body map[string]any
	if err := json.Unmarshal(h.Request.JSON, &body); err != nil || body["event"].(map[string]any)["code"] != "template_update" {
		t.Errorf("request body = %s", h.Request.JSON)
	}
	if h.Response.StatusCode != 200 || h.Response.Body != `{"message": "ok"}` {
		t.Errorf("response = %+v", h.Response)
	}
	for _, secret := range []string{"tok-shared-123", "s3cr3t-pw", "payments", base64.StdEncoding.EncodeToString([]byte("alice:s3cr3t-pw"))} {
		all, _ := c.History(ctx, HistoryQuery{})
		for _, r := range all {
			if strings.Contains(string(r.ExtraInfo), secret) || strings.Contains(r.Error, secret) {
				t.Errorf("history row %d contains the credential %q", r.ID, secret)
			}
		}
	}
	// Filters.
	ok := true
	for _, q := range []HistoryQuery{
		{EventCode: "template_update"}, {ScopeType: "biz", ScopeCode: "biz1"}, {Success: &ok},
		{Since: now.Add(-time.Second), Until: now.Add(time.Second)}, {StatusCode: 200},
	} {
		if rows, err := c.History(ctx, q); err != nil || len(rows) != 2 {
			t.Errorf("History(%+v) = %d rows, %v; want 2", q, len(rows), err)
		}
	}
	notOK := false
	for _, q := range []HistoryQuery{
		{Success: &notOK}, {EventCode: "template_create"}, {Since: now.Add(time.Second)}, {Until: now}, {WebhookCode: "wh_get"},
	} {
		if rows, err := c.History(ctx, q); err != nil || len(rows) != 0 {
			t.Errorf("History(%+v) = %d rows, %v; want 0", q, len(rows), err)
		}
	}
	if rows, _ := c.History(ctx, HistoryQuery{Limit: 1}); len(rows) != 1 {
		t.Errorf("Limit 1 gave %d rows", len(rows))
	}
	page1, _ := c.History(ctx, HistoryQuery{Limit: 1})
	page2, _ := c.History(ctx, HistoryQuery{Limit: 1, BeforeID: page1[0].ID})
	if len(page2) != 1 || page2[0].ID >= page1[0].ID {
		t.Errorf("keyset page 2 = %+v", page2)
	}
}

func testBroadcastFormEncodingKeepsNestedValues(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	err := c.ApplyScopeWebhooks(ctx, "biz", "b", []WebhookConfig{{
		Code: "form", Name: "form", Endpoint: rc.URL + "/form", ContentType: "application/x-www-form-urlencoded",
		Data: map[string]any{"static": "yes", "list": []any{"a", "b"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "b", map[string][]string{"form": {"*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "b"}}, map[string]any{"id": 7, "deep": map[string]any{"x": true}, "delivery_id": "d-1"}); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if ct := reqs[0].Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	form, err := url.ParseQuery(string(reqs[0].Body))
	if err != nil {
		t.Fatalf("body is not a form: %v", err)
	}
	want := map[string]string{
		"static": "yes", "list[0]": "a", "list[1]": "b", "delivery_id": "d-1",
		"event[code]": "template_update", "event[name]": "模板更新", "event[description]": "a template changed",
		"event[info][id]": "7", "event[info][deep][x]": "true",
	}
	for k, v := range want {
		if got := form.Get(k); got != v {
			t.Errorf("form[%q] = %q, want %q (body %s)", k, got, v, reqs[0].Body)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form has %d keys, want %d: %v", len(form), len(want), form)
	}
}

func testBroadcastSendsInParallel(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		time.Sleep(200 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	var hooks []WebhookConfig
	subs := map[string][]string{}
	for i := 0; i < 10; i++ {
		code := "w" + string(rune('a'+i))
		hooks = append(hooks, WebhookConfig{Code: code, Name: code, Endpoint: rc.URL + "/" + code})
		subs[code] = []string{"template_update"}
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "p", hooks); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "p", subs); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "p"}}, nil)
	elapsed := time.Since(start)
	if err != nil || len(res.Deliveries) != 10 || len(res.Failed()) != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
	// Sequential sending would take 2 s; parallel takes about 200 ms. The
	// bound is loose so that a slow machine does not fail the test.
	if elapsed > 1500*time.Millisecond {
		t.Errorf("10 endpoints of 200 ms took %v: deliveries are not concurrent", elapsed)
	}
}

func testApplyScopeWebhooksRoundTripChangesNothing(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	var before []webhookRow
	c.DB().Order("id").Find(&before)
	got, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Auth.Token != "tok-shared-123" || got[1].Auth.Password != "s3cr3t-pw" || got[1].Headers[0].Value != "payments" {
		t.Fatalf("ScopeWebhooks = %+v", got)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "biz1", got); err != nil {
		t.Fatal(err)
	}
	var after []webhookRow
	c.DB().Order("id").Find(&after)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("re-applying ScopeWebhooks changed the rows:\nbefore %+v\nafter  %+v", before, after)
	}
	again, _ := c.ScopeWebhooks(ctx, "biz", "biz1")
	if !reflect.DeepEqual(got, again) {
		t.Errorf("round trip changed the configs:\n%+v\n%+v", got, again)
	}
	// Credentials are not stored in clear text.
	for _, r := range after {
		for _, secret := range []string{"tok-shared-123", "s3cr3t-pw", "payments"} {
			if strings.Contains(string(r.ExtraInfo), secret) {
				t.Errorf("webhook %s stores %q in clear text: %s", r.Code, secret, r.ExtraInfo)
			}
		}
	}
}

func testApplyScopeWebhooksDoesNotMutateInput(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	in := []WebhookConfig{{
		Code: "a", Name: "a", Endpoint: "https://example.invalid/x", Method: "post",
		Auth: &Auth{Type: "bearer", Token: "tok"}, Headers: []Header{{Key: "X-K", Value: "v"}},
		Params: map[string]string{"p": "1"}, Data: map[string]any{"nested": map[string]any{"k": "v"}},
	}}
	snapshot := in[0].clone()
	if err := c.ApplyScopeWebhooks(testCtx(t), "biz", "m", in); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in[0], snapshot) {
		t.Errorf("caller's config changed:\n%+v\n%+v", in[0], snapshot)
	}
}

func testApplyScopeWebhooksDeletesUnlistedWithTheirSubscriptions(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	keep, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	keep[0].Name = "Renamed"
	if err := c.ApplyScopeWebhooks(ctx, "biz", "biz1", keep[:1]); err != nil {
		t.Fatal(err)
	}
	got, _ := c.ScopeWebhooks(ctx, "biz", "biz1")
	if len(got) != 1 || got[0].Code != "wh_bearer" || got[0].Name != "Renamed" {
		t.Fatalf("after apply: %+v", got)
	}
	subs, _ := c.ScopeSubscriptions(ctx, "biz", "biz1")
	if !reflect.DeepEqual(subs, map[string][]string{"wh_bearer": {"*"}}) {
		t.Errorf("subscriptions = %v, want only wh_bearer's", subs)
	}
	// The other scope is untouched.
	if other, _ := c.ScopeWebhooks(ctx, "biz", "biz2"); len(other) != 1 {
		t.Errorf("biz2 webhooks = %d", len(other))
	}
	scopes, _ := c.Scopes(ctx)
	if !reflect.DeepEqual(scopes, []Scope{{"biz", "biz1"}, {"biz", "biz2"}}) {
		t.Errorf("scopes = %v", scopes)
	}
}

func testApplyScopeWebhooksValidation(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	ok := func() WebhookConfig { return WebhookConfig{Code: "c", Name: "n", Endpoint: "https://example.com/hook"} }
	cases := []struct {
		name string
		mod  func(*WebhookConfig)
		want string
	}{
		{"empty code", func(w *WebhookConfig) { w.Code = " " }, "code is empty"},
		{"long code", func(w *WebhookConfig) { w.Code = strings.Repeat("c", 256) }, "code is longer than 255"},
		{"empty name", func(w *WebhookConfig) { w.Name = "" }, "name is empty"},
		{"long name", func(w *WebhookConfig) { w.Name = strings.Repeat("名", 256) }, "name is longer than 255"},
		{"relative endpoint", func(w *WebhookConfig) { w.Endpoint = "/hook" }, "scheme"},
		{"ftp endpoint", func(w *WebhookConfig) { w.Endpoint = "ftp://example.com/" }, `scheme "ftp"`},
		{"no host", func(w *WebhookConfig) { w.Endpoint = "http:///x" }, "no host"},
		{"credentials in URL", func(w *WebhookConfig) { w.Endpoint = "https://u:hunter2@example.com/" }, "user credentials"},
		{"long endpoint", func(w *WebhookConfig) { w.Endpoint = "https://example.com/" + strings.Repeat("a", 200) }, "longer than 200"},
		{"method", func(w *WebhookConfig) { w.Method = "DELETE" }, `method "DELETE"`},
		{"auth type", func(w *WebhookConfig) { w.Auth = &Auth{Type: "digest"} }, `auth type "digest"`},
		{"bearer without token", func(w *WebhookConfig) { w.Auth = &Auth{Type: "bearer"} }, "needs a token"},
		{"basic without user", func(w *WebhookConfig) { w.Auth = &Auth{Type: "basic", Password: "p"} }, "needs a username"},
		{"header CRLF", func(w *WebhookConfig) { w.Headers = []Header{{Key: "X-A", Value: "a\r\nX-Injected: 1"}} }, "control character"},
		{"header name", func(w *WebhookConfig) { w.Headers = []Header{{Key: "X A", Value: "a"}} }, "not a valid header name"},
		{"Host header", func(w *WebhookConfig) { w.Headers = []Header{{Key: "host", Value: "evil"}} }, "cannot be overridden"},
		{"Content-Length header", func(w *WebhookConfig) { w.Headers = []Header{{Key: "Content-Length", Value: "1"}} }, "cannot be overridden"},
		{"content type", func(w *WebhookConfig) { w.ContentType = "not a type" }, "not a valid media type"},
		{"reserved data", func(w *WebhookConfig) { w.Data = map[string]any{"event": 1} }, `"event" is reserved`},
		{"unencodable data", func(w *WebhookConfig) { w.Data = map[string]any{"f": func() {}} }, "cannot be encoded"},
		{"negative timeout", func(w *WebhookConfig) { w.Timeout = -time.Second }, "timeout is negative"},
		{"retries", func(w *WebhookConfig) { w.RetryTimes = 21 }, "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			good := ok()
			good.Code = "good"
			bad := ok()
			tc.mod(&bad)
			err := c.ApplyScopeWebhooks(testCtx(t), "biz", "v-"+tc.name, []WebhookConfig{good, bad})
			if !errors.Is(err, ErrInvalidWebhook) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "webhooks[1]") {
				t.Fatalf("error = %v, want ErrInvalidWebhook naming webhooks[1] and %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
			if got, _ := c.ScopeWebhooks(testCtx(t), "biz", "v-"+tc.name); len(got) != 0 {
				t.Errorf("an invalid list wrote %d webhooks", len(got))
			}
		})
	}
	dup := []WebhookConfig{ok(), ok()}
	if err := c.ApplyScopeWebhooks(testCtx(t), "biz", "dup", dup); !errors.Is(err, ErrInvalidWebhook) || !strings.Contains(err.Error(), "both have code") {
		t.Errorf("duplicate codes: %v", err)
	}
	if err := c.ApplyScopeWebhooks(testCtx(t), "", "x", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty scope type: %v", err)
	}
}

func testApplyScopeSubscriptions(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	setupScope(t, c, rc)
	ctx := testCtx(t)
	err := c.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{"wh_bearer": {"*"}, "ghost": {"*"}, "wh_get": {"nope", "template_update"}})
	if !errors.Is(err, ErrInvalidSubscription) || !strings.Contains(err.Error(), `"ghost"`) {
		t.Fatalf("unknown webhook: %v", err)
	}
	err = c.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{"wh_get": {"nope", "template_update"}})
	if !errors.Is(err, ErrInvalidSubscription) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown event: %v", err)
	}
	subs, _ := c.ScopeSubscriptions(ctx, "biz", "biz1")
	if len(subs) != 4 {
		t.Fatalf("a refused apply changed the subscriptions: %v", subs)
	}
	want := map[string][]string{"wh_get": {"template_create", "template_update"}, "wh_basic": {"*"}}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz1", want); err != nil {
		t.Fatal(err)
	}
	subs, _ = c.ScopeSubscriptions(ctx, "biz", "biz1")
	if !reflect.DeepEqual(subs, want) {
		t.Errorf("subscriptions = %v, want %v", subs, want)
	}
	events, _ := c.ScopeSubscribedEvents(ctx, "biz", "biz1")
	if !reflect.DeepEqual(events, []string{"*", "template_create", "template_update"}) {
		t.Errorf("ScopeSubscribedEvents = %v", events)
	}
	// Applying the same set keeps the rows.
	var before, after []subscriptionRow
	c.DB().Order("id").Find(&before)
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz1", want); err != nil {
		t.Fatal(err)
	}
	c.DB().Order("id").Find(&after)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("re-applying the same subscriptions rewrote rows")
	}
	// Empty map clears the scope.
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "biz1", nil); err != nil {
		t.Fatal(err)
	}
	if events, _ := c.ScopeSubscribedEvents(ctx, "biz", "biz1"); len(events) != 0 {
		t.Errorf("after clearing: %v", events)
	}
}

func testHooksSeeAttemptsAndResults(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	type seen struct {
		before, after, attempts int
		lastStatus              int
		auth                    string
	}
	var s seen
	mu := make(chan struct{}, 1)
	lock := func() func() { mu <- struct{}{}; return func() { <-mu } }
	c := newTestClient(t, tdb, Config{Hooks: Hooks{
		BeforeBroadcast: func(ctx context.Context, b *BroadcastInfo) { defer lock()(); s.before++ },
		AfterBroadcast: func(ctx context.Context, b *BroadcastInfo, r *BroadcastResult) {
			defer lock()()
			s.after += len(r.Deliveries)
		},
		BeforeAttempt: func(ctx context.Context, a *AttemptInfo) { defer lock()(); s.auth += a.Header.Get("Authorization") },
		AfterAttempt: func(ctx context.Context, a *AttemptInfo, r *AttemptResult) {
			defer lock()()
			s.attempts++
			s.lastStatus = r.StatusCode
			panic("a hook that panics must not break delivery")
		},
	}})
	setupScope(t, c, rc)
	res, err := c.Broadcast(testCtx(t), "template_update", []Scope{{"biz", "biz1"}}, nil)
	if err != nil || len(res.Failed()) != 0 {
		t.Fatalf("broadcast: %v %+v", err, res)
	}
	if s.before != 1 || s.after != 2 || s.attempts != 2 || s.lastStatus != 200 {
		t.Errorf("hooks saw %+v", s)
	}
	if strings.Contains(s.auth, "tok-shared-123") || strings.Contains(s.auth, "czNjcjN0") {
		t.Errorf("hook saw a credential: %q", s.auth)
	}
}
