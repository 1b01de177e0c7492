package webhook

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// retryAsConfigured retries a failed attempt at once while the webhook's
// RetryTimes allow: the attempts counted at the receiver are then the
// retry count the sending path read from the row.
func retryAsConfigured(attempt int, wh *WebhookConfig, r *AttemptResult, _ time.Duration) (bool, time.Duration) {
	return retryable(r) && attempt <= wh.RetryTimes, 0
}

// testStoredSettingsAgreeWithSending stores, the way the Python package can,
// values the library reads differently from how they are written (a
// retry_times above the cap, an empty or lower-case method, numbers as
// text), and checks that Webhooks shows what Broadcast and the workers do.
func testStoredSettingsAgreeWithSending(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	c := newTestClient(t, tdb, Config{RetryPolicy: retryAsConfigured, CircuitBreakAfter: -1, PollInterval: 5 * time.Millisecond})
	ctx := testCtx(t)
	mustSync(t, c, twoEvents)
	if err := c.ApplyScopeWebhooks(ctx, "biz", "py", []WebhookConfig{
		{Code: "many", Name: "Many retries", Endpoint: rc.URL + "/many"},
		{Code: "get", Name: "GET as text", Endpoint: rc.URL + "/get"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "py", map[string][]string{"many": {AllEvents}, "get": {AllEvents}}); err != nil {
		t.Fatal(err)
	}
	// What a Python service, or an operator in its admin, may write.
	stored := map[string]struct{ method, extra string }{
		"many": {"", `{"retry_times": 50, "interval": 0, "content_type": "application/x-www-form-urlencoded"}`},
		"get":  {"get", `{"retry_times": "3", "interval": "0", "timeout": "7.5"}`},
	}
	for code, s := range stored {
		err := c.DB().Model(&webhookRow{}).Where("scope_type = ? AND scope_code = ? AND code = ?", "biz", "py", code).
			Updates(map[string]any{"method": s.method, "extra_info": jsonText(s.extra)}).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		method, contentType string
		retries             int
		timeout             time.Duration
	}
	wants := map[string]want{
		"many": {"POST", "application/x-www-form-urlencoded", maxRetryTimes, 0},
		"get":  {"GET", "", 3, 7500 * time.Millisecond},
	}

	infos, err := c.Webhooks(ctx, WebhookQuery{ScopeType: "biz", ScopeCode: "py"})
	if err != nil || len(infos) != 2 {
		t.Fatalf("Webhooks: %d, %v", len(infos), err)
	}
	for _, info := range infos {
		w := wants[info.Code]
		if info.ConfigError != "" || info.Method != w.method || info.ContentType != w.contentType || info.RetryTimes != w.retries || info.Timeout != w.timeout {
			t.Errorf("Webhooks shows %s as method %q, content type %q, %d retries, timeout %v; want %q, %q, %d, %v",
				info.Code, info.Method, info.ContentType, info.RetryTimes, info.Timeout, w.method, w.contentType, w.retries, w.timeout)
		}
	}

	// What is sent: one request per attempt, each with the shown method and
	// content type, as many retries as shown.
	checkSent := func(path string, reqs []received, attempts int) {
		t.Helper()
		code := path[1:]
		w := wants[code]
		if len(reqs) != w.retries+1 || attempts != w.retries+1 {
			t.Errorf("%s %s: %d requests and %d attempts, want %d (1 + the %d retries Webhooks shows)", path, code, len(reqs), attempts, w.retries+1, w.retries)
		}
		wantType := w.contentType
		if wantType == "" {
			wantType = contentTypeJSON
		}
		for _, r := range reqs {
			if r.Method != w.method || r.Header.Get("Content-Type") != wantType {
				t.Fatalf("%s: sent %s with Content-Type %q, want %s with %q", path, r.Method, r.Header.Get("Content-Type"), w.method, wantType)
			}
		}
	}
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "py"}}, nil)
	if err != nil || len(res.Deliveries) != 2 {
		t.Fatalf("Broadcast: %+v, %v", res, err)
	}
	byPath := rc.byPath()
	for _, d := range res.Deliveries {
		checkSent("/"+d.WebhookCode, byPath["/"+d.WebhookCode], d.Attempts)
	}

	// The workers read the row the same way.
	sent := len(rc.requests())
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "py"}}, nil); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	waitFor(t, "both deliveries to fail", 30*time.Second, func() bool { return deliveriesByStatus(t, c)[StatusFailed] == 2 })
	later := map[string][]received{}
	for _, r := range rc.requests()[sent:] {
		later[r.Path] = append(later[r.Path], r)
	}
	for _, d := range deliveryRows(t, c) {
		checkSent("/"+d.WebhookCode, later["/"+d.WebhookCode], d.Attempts)
	}
}

// TestWebhookInfoReadsRowsAsTheSenderDoes compares, for rows the Python
// package may write, every setting WebhookInfo shares with WebhookConfig (same
// field name and type, found by reflection so that a new one is compared
// too) with what decodeWebhook gives the sending path.
func TestWebhookInfoReadsRowsAsTheSenderDoes(t *testing.T) {
	t.Parallel()
	c := newOfflineClient(t, Config{PrivateSecret: pythonSecret})
	rows := []webhookRow{
		{Method: "", ExtraInfo: jsonText(`{"retry_times": 50}`)},
		{Method: "post", ExtraInfo: jsonText(`{"retry_times": "20.0", "interval": "1.5"}`)},
		{Method: "get", ExtraInfo: jsonText(`{"timeout": "2.5", "verify": "false", "content_type": "text/plain"}`)},
		{Method: "POST", ExtraInfo: nil},
		{Method: "POST", ExtraInfo: jsonText(`null`)},
		{Method: "POST", ExtraInfo: jsonText(`{"timeout": 1e10, "rate_limit": "2.5", "max_in_flight": 3, "ordered": true}`)},
		{Method: "POST", ExtraInfo: jsonText(pythonExtraBasic)},
		{Method: "POST", ExtraInfo: jsonText(`{"authorization": {"type": "", "token": null}}`)},
	}
	infoType, whType := reflect.TypeFor[WebhookInfo](), reflect.TypeFor[WebhookConfig]()
	var shared []string
	for i := range infoType.NumField() {
		f := infoType.Field(i)
		if g, ok := whType.FieldByName(f.Name); ok && g.Type == f.Type && f.Name != "Endpoint" { // Endpoint is redacted
			shared = append(shared, f.Name)
		}
	}
	if len(shared) < 8 {
		t.Fatalf("only %v shared: the comparison lost its fields", shared)
	}
	for i := range rows {
		r := &rows[i]
		r.Code, r.Name, r.Endpoint, r.ScopeType, r.ScopeCode, r.EnableWebhook = "wh", "W", "https://example.com/h", "t", "1", i%2 == 0
		wh, err := c.decodeWebhook(r)
		if err != nil {
			t.Fatalf("row %d: decodeWebhook: %v", i, err)
		}
		info := webhookInfoOf(r, c.now())
		if info.ConfigError != "" {
			t.Fatalf("row %d: %s", i, info.ConfigError)
		}
		iv, wv := reflect.ValueOf(info), reflect.ValueOf(wh)
		for _, name := range shared {
			if a, b := iv.FieldByName(name).Interface(), wv.FieldByName(name).Interface(); !reflect.DeepEqual(a, b) {
				t.Errorf("row %d (%s): WebhookInfo.%s = %v, the sender uses %v", i, r.ExtraInfo, name, a, b)
			}
		}
		if info.Enabled == wh.Disabled {
			t.Errorf("row %d: Enabled %v, Disabled %v", i, info.Enabled, wh.Disabled)
		}
		if info.SigningSecrets != len(wh.SigningSecrets) || len(info.HeaderKeys) != len(wh.Headers) {
			t.Errorf("row %d: %d signing secrets and %d headers shown, %d and %d used", i, info.SigningSecrets, len(info.HeaderKeys), len(wh.SigningSecrets), len(wh.Headers))
		}
		authType := ""
		if wh.Auth != nil {
			authType = strings.ToLower(wh.Auth.Type)
		}
		if info.AuthType != authType {
			t.Errorf("row %d: AuthType %q, the sender uses %q", i, info.AuthType, authType)
		}
	}
}
