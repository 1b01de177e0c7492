package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

// Credentials of the webhooks that apply writes in these tests, passed
// through the environment; none may appear in any output.
const (
	applyToken    = "tok-APPLY-bearer-1b2c3d4e"
	applyHeader   = "hdr-APPLY-apikey-9f8e7d6c"
	applyPassword = "pw-APPLY-basic-5a6b7c8d"
	// applySigning is a valid signing secret: whsec_ and the base64 of 32
	// bytes.
	applySigning = "whsec_QVBQTFktc2lnbmluZy1zZWNyZXQtMDEyMzQ1Njc4OWFi"
)

// applyEnv returns the variables that webhooksYAML references.
func applyEnv() []string {
	return []string{
		"TEST_TOKEN=" + applyToken, "TEST_HEADER=" + applyHeader,
		"TEST_PASSWORD=" + applyPassword, "TEST_SIGNING=" + applySigning,
	}
}

// webhooksYAML is a webhooks file for a receiver at url: in biz:biz1, wh_ok
// (bearer, headers, signed, all events) and wh_fail (basic, answers 500,
// template_update only); in biz:biz2, wh_other (template_create).
func webhooksYAML(url string) string {
	return strings.ReplaceAll(`scopes:
  - type: biz
    code: biz1
    webhooks:
      - code: wh_ok
        name: OK hook
        endpoint: URL/ok
        method: POST
        auth: {type: bearer, token: "${TEST_TOKEN}"}
        headers:
          - {key: X-Api-Key, value: "${TEST_HEADER}", doc: the receiver's key}
          - {key: X-Team, value: payments}
        params: {source: cli}
        data: {static: "yes"}
        timeout: 5s
        retry_times: 0
        signing_secrets: ["${TEST_SIGNING}"]
      - code: wh_fail
        name: Failing hook
        endpoint: URL/fail
        auth: {type: basic, username: alice, password: "${TEST_PASSWORD}"}
        retry_times: 0
    subscriptions:
      wh_ok: ["*"]
      wh_fail: [template_update]
  - type: biz
    code: biz2
    webhooks:
      - code: wh_other
        name: Other hook
        endpoint: URL/other
        retry_times: 0
    subscriptions:
      wh_other: [template_create]
`, "URL", url)
}

// wantNoApplySecrets fails if out shows a credential of webhooksYAML, in
// clear or as basic auth.
func wantNoApplySecrets(t *testing.T, what, out string) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + applyPassword))
	for _, secret := range []string{applyToken, applyHeader, applyPassword, applySigning, basic} {
		if strings.Contains(out, secret) {
			t.Errorf("%s shows the credential %q:\n%s", what, secret, out)
		}
	}
}

// received is one request a receiver got.
type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

// event decodes the "event" object of the body.
func (r received) event(t *testing.T) map[string]any {
	t.Helper()
	var body struct {
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return body.Event
}

// receiver is an endpoint that records what it gets: paths ending in /fail
// answer 500, others 200.
type receiver struct {
	URL string
	mu  sync.Mutex
	got []received
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		if strings.HasSuffix(req.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// requests returns what the receiver got so far whose path is path ("" for
// all).
func (r *receiver) requests(path string) []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if path == "" || g.Path == path {
			out = append(out, g)
		}
	}
	return out
}

// runWith runs the binary on the fixture's database with extra environment
// variables.
func (f *fixture) runWith(extraEnv []string, args ...string) result {
	f.t.Helper()
	env := append(append([]string{}, f.env...), extraEnv...)
	return f.runEnv(env, append([]string{"--db", f.db}, args...)...)
}

// setupWebhooks migrates the fixture's database, syncs twoEvents and
// applies webhooksYAML for rcv through the binary.
func setupWebhooks(t *testing.T, f *fixture, rcv *receiver) {
	t.Helper()
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))
	if res := f.runWith(applyEnv(), "apply", "webhooks.yaml"); res.code != exitOK {
		t.Fatalf("apply: %s", res)
	}
}

// libClient returns an in-process client on the fixture's database, as the
// service would have.
func libClient(t *testing.T, f *fixture, cfg webhook.Config) *webhook.Client {
	t.Helper()
	if cfg.PrivateSecret == "" {
		cfg.PrivateSecret = testSecret
	}
	c, err := webhook.New(openTestDB(t, f.db), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deliveriesJSON runs deliveries --json with flags and decodes the rows.
func deliveriesJSON(t *testing.T, f *fixture, flags ...string) []webhook.Delivery {
	t.Helper()
	res := f.mustRun(append([]string{"deliveries", "--json"}, flags...)...)
	var rows []webhook.Delivery
	if err := json.Unmarshal([]byte(res.stdout), &rows); err != nil || rows == nil {
		t.Fatalf("deliveries --json %q: %v\n%s", flags, err, res)
	}
	return rows
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
