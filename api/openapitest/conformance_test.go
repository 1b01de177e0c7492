package openapitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const (
	operatorToken = "operator-token"
	nobodyToken   = "nobody-token" // a principal neither operator nor bound to a scope
	maxBody       = 4096
)

var (
	own   = webhook.Scope{Type: "shop", Code: "s1"}
	other = webhook.Scope{Type: "shop", Code: "s2"}
)

// docOp is one operation of the document.
type docOp struct {
	id, method, path string
	re               *regexp.Regexp
	literal          int // characters outside parameters: the more, the more specific
	statuses         []string
}

// requestCheck is what the validator must say of a request.
type requestCheck int

const (
	valid   requestCheck = iota // the document describes it
	invalid                     // the document refuses it, as the handler does
	either                      // the handler's limit is not in the document (body size)
)

// exchange is one request of the test and the status it must get.
type exchange struct {
	method, path, token, body string
	contentType               string
	header                    map[string]string
	status                    int
	request                   requestCheck
}

type checker struct {
	t       *testing.T
	h       http.Handler
	v       validator.Validator
	ops     []docOp
	covered map[string]bool
	// doc is the document as the handler serves it.
	doc []byte
}

// Every route of the handler, driven through its success and each error
// its OpenAPI document lists, with every request and response validated
// against the document; the document lists no route the handler lacks,
// and the handler none the document lacks.
func TestOpenAPIConformance(t *testing.T) {
	c, env := newChecker(t)
	tok := env.ownToken
	base := "/scopes/shop/s1"
	long := strings.Repeat("x", 65)
	longCode := strings.Repeat("w", 256)

	// Meta and catalog.
	c.do(exchange{method: "GET", path: "/openapi.json", status: 200})
	c.do(exchange{method: "GET", path: "/events", token: tok, status: 200})
	c.do(exchange{method: "GET", path: "/events", token: nobodyToken, status: 403})
	c.do(exchange{method: "GET", path: "/webhooks", token: operatorToken, status: 200})
	c.do(exchange{method: "GET", path: "/webhooks?scope_type=shop&scope_code=s2", token: operatorToken, status: 200})
	c.do(exchange{method: "GET", path: "/webhooks", token: tok, status: 403})

	// Webhooks.
	c.do(exchange{method: "GET", path: base + "/webhooks", token: tok, status: 200})
	create := fmt.Sprintf(`{"code": "new", "name": "New", "endpoint": %q, "method": "POST", "content_type": "application/json",
		"enabled": true, "auth": {"type": "bearer", "token": "secret-token"}, "headers": [{"key": "X-Key", "value": "v"}],
		"events": ["order_paid"], "timeout": "1m30s", "retry_times": 3, "insecure_skip_verify": false, "ordered": true,
		"rate_limit": 2.5, "max_in_flight": 4}`, env.rcvURL+"/ok")
	key := map[string]string{"Idempotency-Key": "create-1"}
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: create, header: key, status: 201})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: create, header: key, status: 201}) // replayed
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "other", "name": "n", "endpoint": "https://example.com/"}`, header: key, status: 422})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: create, status: 409})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "ftp://example.com/"}`, status: 400})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "https://example.com/", "events": ["nope"]}`, status: 400})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "nmae": "n"}`, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": `, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "https://example.com/", "timeout": "soon"}`, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "https://example.com/", "content_type": "` + strings.Repeat(" ", maxBody) + `"}`, status: 413, request: either})
	c.do(exchange{method: "POST", path: base + "/webhooks", token: tok, body: `{}`, contentType: "text/plain", status: 415, request: invalid})

	wh := base + "/webhooks/new"
	etag := c.do(exchange{method: "GET", path: wh, token: tok, status: 200}).Header.Get("ETag")
	c.do(exchange{method: "GET", path: base + "/webhooks/nope", token: tok, status: 404})
	c.do(exchange{method: "GET", path: base + "/webhooks/" + longCode, token: tok, status: 400, request: invalid})

	patched := c.do(exchange{method: "PATCH", path: wh, token: tok, header: map[string]string{"If-Match": etag}, status: 200,
		body: `{"code": "new", "name": "Renamed", "endpoint": "` + env.rcvURL + `/ok", "method": null, "content_type": null, "enabled": true,
			"auth": {"type": "bearer"}, "headers": [{"key": "X-Key"}], "events": ["*"], "timeout": null, "retry_times": null,
			"insecure_skip_verify": null, "ordered": false, "rate_limit": null, "max_in_flight": 0}`})
	c.do(exchange{method: "PATCH", path: wh, token: tok, contentType: "application/merge-patch+json", body: `{"auth": null, "headers": null}`, status: 200})
	c.do(exchange{method: "PATCH", path: wh, token: tok, header: map[string]string{"If-Match": etag}, body: `{"name": "Lost"}`, status: 412})
	c.do(exchange{method: "PATCH", path: base + "/webhooks/nope", token: tok, body: `{"name": "x"}`, status: 404})
	c.do(exchange{method: "PATCH", path: wh, token: tok, body: `{"retry_times": 99}`, status: 400, request: invalid})
	c.do(exchange{method: "PATCH", path: wh, token: tok, body: `{"endpoint": "ftp://example.com/"}`, status: 400})
	c.do(exchange{method: "PATCH", path: wh, token: tok, body: `{"etag": "x"}`, status: 400, request: invalid})
	c.do(exchange{method: "PATCH", path: wh, token: tok, body: `{"content_type": "` + strings.Repeat(" ", maxBody) + `"}`, status: 413, request: either})
	c.do(exchange{method: "PATCH", path: wh, token: tok, body: `{}`, contentType: "text/plain", status: 415, request: invalid})
	_ = patched

	c.do(exchange{method: "PUT", path: wh + "/events", token: tok, body: `{"events": ["order_paid", "order_refunded"]}`, status: 200})
	c.do(exchange{method: "PUT", path: wh + "/events", token: tok, header: map[string]string{"If-Match": etag}, body: `{"events": []}`, status: 412})
	c.do(exchange{method: "PUT", path: base + "/webhooks/nope/events", token: tok, body: `{"events": []}`, status: 404})
	c.do(exchange{method: "PUT", path: wh + "/events", token: tok, body: `{}`, status: 400, request: invalid})
	c.do(exchange{method: "PUT", path: wh + "/events", token: tok, body: `{"events": ["nope"]}`, status: 400})
	c.do(exchange{method: "PUT", path: wh + "/events", token: tok, body: `{"events": ["` + strings.Repeat("e", maxBody) + `"]}`, status: 413, request: either})
	c.do(exchange{method: "PUT", path: wh + "/events", token: tok, body: `{"events": []}`, contentType: "text/plain", status: 415, request: invalid})

	tkey := map[string]string{"Idempotency-Key": "test-1"}
	c.do(exchange{method: "POST", path: wh + "/test", token: tok, header: tkey, status: 200})
	c.do(exchange{method: "POST", path: wh + "/test", token: tok, header: tkey, status: 200})             // replayed
	c.do(exchange{method: "POST", path: wh + "/test", token: tok, header: tkey, body: `{}`, status: 200}) // the same request: no body is {}
	c.do(exchange{method: "POST", path: base + "/webhooks/wh1/test", token: tok, header: tkey, status: 422})
	c.do(exchange{method: "POST", path: base + "/webhooks/wh2/test", token: tok, body: `{}`, status: 200})
	c.do(exchange{method: "POST", path: base + "/webhooks/nope/test", token: tok, status: 404})
	c.do(exchange{method: "POST", path: wh + "/test", token: tok, body: `{"x": 1}`, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: wh + "/test", token: tok, body: `{"x": "` + strings.Repeat("x", maxBody) + `"}`, status: 413, request: either})
	c.do(exchange{method: "POST", path: wh + "/test", token: tok, body: `{}`, contentType: "text/plain", status: 415, request: invalid})

	etag = c.do(exchange{method: "GET", path: wh, token: tok, status: 200}).Header.Get("ETag")
	c.do(exchange{method: "POST", path: wh + "/rotate-secret", token: tok, header: map[string]string{"If-Match": etag}, body: `{"grace": "1h"}`, status: 200})
	c.do(exchange{method: "POST", path: wh + "/rotate-secret", token: tok, status: 200})
	c.do(exchange{method: "POST", path: wh + "/rotate-secret", token: tok, header: map[string]string{"If-Match": etag}, status: 412})
	c.do(exchange{method: "POST", path: base + "/webhooks/nope/rotate-secret", token: tok, status: 404})
	c.do(exchange{method: "POST", path: wh + "/rotate-secret", token: tok, body: `{"grace": "soon"}`, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: wh + "/rotate-secret", token: tok, body: `{"grace": "` + strings.Repeat("1", maxBody) + `s"}`, status: 413, request: either})
	c.do(exchange{method: "POST", path: wh + "/rotate-secret", token: tok, body: `{}`, contentType: "text/plain", status: 415, request: invalid})

	page := c.do(exchange{method: "GET", path: wh + "/changes?limit=2", token: tok, status: 200})
	var changes struct {
		NextCursor *string `json:"next_cursor"`
	}
	decode(t, page, &changes)
	if changes.NextCursor == nil {
		t.Fatal("changes: no next page")
	}
	c.do(exchange{method: "GET", path: wh + "/changes?limit=2&cursor=" + *changes.NextCursor, token: tok, status: 200})
	c.do(exchange{method: "GET", path: wh + "/changes?limit=501", token: tok, status: 400, request: invalid})
	c.do(exchange{method: "GET", path: wh + "/changes?cursor=abc", token: tok, status: 400})

	// Deliveries.
	ids := env.broadcast(own, nil)
	if _, err := env.client.Enqueue(context.Background(), "order_refunded", []webhook.Scope{own}, nil); err != nil {
		t.Fatal(err)
	}
	since := url(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	page = c.do(exchange{method: "GET", path: base + "/deliveries?limit=2", token: tok, status: 200})
	var deliveries struct {
		NextCursor *string `json:"next_cursor"`
	}
	decode(t, page, &deliveries)
	if deliveries.NextCursor == nil {
		t.Fatal("deliveries: no next page")
	}
	c.do(exchange{method: "GET", path: base + "/deliveries?limit=2&cursor=" + *deliveries.NextCursor, token: tok, status: 200})
	c.do(exchange{method: "GET", path: base + "/deliveries?status=pending&queued=true&webhook=new&event=order_refunded&since=" + since + "&until=" + url(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), token: tok, status: 200})
	c.do(exchange{method: "GET", path: base + "/deliveries?status=lost", token: tok, status: 400, request: invalid})
	c.do(exchange{method: "GET", path: base + "/deliveries?cursor=nope", token: tok, status: 400})

	c.do(exchange{method: "GET", path: base + "/deliveries/" + ids[0], token: tok, status: 200})
	c.do(exchange{method: "GET", path: base + "/deliveries/nope", token: tok, status: 404})
	c.do(exchange{method: "GET", path: base + "/deliveries/" + longCode, token: tok, status: 400, request: invalid})

	rkey := map[string]string{"Idempotency-Key": "redeliver-1"}
	c.do(exchange{method: "POST", path: base + "/deliveries/" + ids[0] + "/redeliver", token: tok, header: rkey, status: 202})
	c.do(exchange{method: "POST", path: base + "/deliveries/" + ids[0] + "/redeliver", token: tok, header: rkey, status: 202})
	c.do(exchange{method: "POST", path: base + "/deliveries/" + ids[1] + "/redeliver", token: tok, header: rkey, status: 422})
	c.do(exchange{method: "POST", path: base + "/deliveries/nope/redeliver", token: tok, status: 404})
	if _, err := env.client.Broadcast(context.Background(), "order_paid", []webhook.Scope{own, other}, map[string]any{"delivery_id": "shared-1"}); err != nil {
		t.Fatal(err)
	}
	c.do(exchange{method: "POST", path: base + "/deliveries/shared-1/redeliver", token: tok, status: 202})
	c.do(exchange{method: "POST", path: base + "/deliveries/" + longCode + "/redeliver", token: tok, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: base + "/deliveries/x/redeliver", token: tok, body: `{"x": "` + strings.Repeat("x", maxBody) + `"}`, status: 413, request: either})
	c.do(exchange{method: "POST", path: base + "/deliveries/x/redeliver", token: tok, body: `{}`, contentType: "text/plain", status: 415, request: invalid})

	fkey := map[string]string{"Idempotency-Key": "failed-1"}
	c.do(exchange{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, header: fkey, status: 200})
	c.do(exchange{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, header: fkey, body: `{"webhook": "wh2", "event": "order_paid", "since": "2025-01-01T00:00:00Z"}`, status: 422})
	c.do(exchange{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, body: `{"webhook": "wh2", "event": "order_paid", "since": "2025-01-01T00:00:00Z"}`, status: 200})
	c.do(exchange{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, body: `{"since": "yesterday"}`, status: 400, request: invalid})
	c.do(exchange{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, body: `{"webhook": "` + strings.Repeat("w", maxBody) + `"}`, status: 413, request: either})
	c.do(exchange{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, body: `{}`, contentType: "text/plain", status: 415, request: invalid})

	c.do(exchange{method: "DELETE", path: wh, token: tok, header: map[string]string{"If-Match": `"stale"`}, status: 412})
	c.do(exchange{method: "DELETE", path: wh, token: tok, status: 204})
	c.do(exchange{method: "DELETE", path: wh, token: tok, status: 404})
	c.do(exchange{method: "DELETE", path: base + "/webhooks/" + longCode, token: tok, status: 400, request: invalid})

	// The errors every route shares: no token, an expired or tampered
	// token, another scope's token, a malformed scope, and (last) the
	// database gone.
	for _, op := range c.ops {
		if op.id == "getOpenAPI" {
			continue
		}
		p := op.concrete(own, ids[0])
		c.do(exchange{method: op.method, path: p, body: op.body(), status: 401, request: invalid})
		c.do(exchange{method: op.method, path: p, token: env.expiredToken, body: op.body(), status: 401})
		c.do(exchange{method: op.method, path: p, token: env.tamperedToken, body: op.body(), status: 401})
		switch {
		case op.id == "listEvents":
		case op.id == "listAllWebhooks":
			c.do(exchange{method: op.method, path: p, token: env.otherToken, status: 403})
		default:
			c.do(exchange{method: op.method, path: p, token: env.otherToken, body: op.body(), status: 403})
			c.do(exchange{method: op.method, path: op.concrete(webhook.Scope{Type: long, Code: "x"}, ids[0]), token: operatorToken, body: op.body(), status: 400, request: invalid})
		}
	}
	c.probeMethods(own, ids[0])
	sqlDB, _ := env.db.DB()
	sqlDB.Close()
	for _, op := range c.ops {
		if op.id != "getOpenAPI" {
			c.do(exchange{method: op.method, path: op.concrete(own, ids[0]), token: operatorToken, body: op.body(), status: 500})
		}
	}
	c.checkCoverage()
}

// url escapes a query value.
func url(s string) string { return strings.ReplaceAll(s, "+", "%2B") }

func decode(t *testing.T, r *http.Response, v any) {
	t.Helper()
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode: %v: %s", err, b)
	}
}

// concrete fills in the path of op.
func (op docOp) concrete(s webhook.Scope, deliveryID string) string {
	return strings.NewReplacer("{scope_type}", s.Type, "{scope_code}", s.Code, "{webhook_code}", "wh1", "{delivery_id}", deliveryID).Replace(op.path)
}

// body is a valid body of op, for the requests that fail for another
// reason.
func (op docOp) body() string {
	switch op.id {
	case "createWebhook":
		return `{"code": "other", "name": "Other", "endpoint": "https://example.com/"}`
	case "updateWebhook":
		return `{"name": "Other"}`
	case "setWebhookEvents":
		return `{"events": []}`
	}
	return ""
}

// do sends one exchange and checks its status, its request and its
// response against the document.
func (c *checker) do(x exchange) *http.Response {
	c.t.Helper()
	build := func() *http.Request {
		var body io.Reader
		if x.body != "" {
			body = strings.NewReader(x.body)
		}
		r := httptest.NewRequest(x.method, "http://api.test"+x.path, body)
		if x.body != "" {
			ct := x.contentType
			if ct == "" {
				ct = "application/json"
			}
			r.Header.Set("Content-Type", ct)
		}
		if x.token != "" {
			r.Header.Set("Authorization", "Bearer "+x.token)
		}
		for k, v := range x.header {
			r.Header.Set(k, v)
		}
		return r
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, build())
	res := w.Result()
	raw, _ := io.ReadAll(res.Body)
	what := fmt.Sprintf("%s %s", x.method, x.path)
	if len(what) > 120 {
		what = what[:120] + "…"
	}
	if res.StatusCode != x.status {
		c.t.Errorf("%s: got %d %s, want %d", what, res.StatusCode, raw, x.status)
	}
	ok, errs := c.v.ValidateHttpRequestSync(build())
	switch {
	case x.request == valid && !ok:
		c.t.Errorf("%s: the document refuses the request: %s", what, describe(errs))
	case x.request == invalid && ok:
		c.t.Errorf("%s: the handler refuses the request (%d) but the document accepts it", what, res.StatusCode)
	}
	res.Body = io.NopCloser(strings.NewReader(string(raw)))
	if ok, errs := c.v.ValidateHttpResponse(build(), res); !ok {
		c.t.Errorf("%s: the response %d does not match the document: %s\n%s", what, res.StatusCode, describe(errs), raw)
	}
	if op, found := c.match(x.method, x.path); found {
		c.covered[op.id+" "+fmt.Sprint(res.StatusCode)] = true
	} else {
		c.t.Errorf("%s: no operation of the document matches", what)
	}
	res.Body = io.NopCloser(strings.NewReader(string(raw)))
	return res
}

func describe(errs []*verrors.ValidationError) string {
	var parts []string
	for _, e := range errs {
		s := e.Message
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		for _, se := range e.SchemaValidationErrors {
			s += " [" + se.FieldPath + " " + se.KeywordLocation + ": " + se.Reason + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// match finds the operation of a request: the most specific path template
// that matches, as the handler's mux does.
func (c *checker) match(method, path string) (docOp, bool) {
	path, _, _ = strings.Cut(path, "?")
	var best docOp
	found := false
	for _, op := range c.ops {
		if op.method == method && op.re.MatchString(path) && (!found || op.literal > best.literal) {
			best, found = op, true
		}
	}
	return best, found
}

// probeMethods asks every path of the document with the methods it does
// not list: the handler must answer 405 with the listed ones in Allow, so
// it serves no operation the document leaves out.
func (c *checker) probeMethods(s webhook.Scope, deliveryID string) {
	byPath := map[string][]string{}
	for _, op := range c.ops {
		byPath[op.path] = append(byPath[op.path], op.method)
	}
	for path, methods := range byPath {
		slices.Sort(methods)
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
			if slices.Contains(methods, m) {
				continue
			}
			op := docOp{path: path}
			r := httptest.NewRequest(m, "http://api.test"+op.concrete(s, deliveryID), nil)
			r.Header.Set("Authorization", "Bearer "+operatorToken)
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, r)
			if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != strings.Join(methods, ", ") {
				c.t.Errorf("%s %s: got %d (Allow %q), want 405 with Allow %q: the handler serves something the document does not list",
					m, path, w.Code, w.Header().Get("Allow"), strings.Join(methods, ", "))
			}
		}
	}
}

// checkCoverage fails for each documented response the test never saw.
func (c *checker) checkCoverage() {
	var missing []string
	for _, op := range c.ops {
		for _, s := range op.statuses {
			if !c.covered[op.id+" "+s] {
				missing = append(missing, op.id+" "+s)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		c.t.Errorf("documented response never exercised: %s", m)
	}
	for k := range c.covered {
		id, status, _ := strings.Cut(k, " ")
		for _, op := range c.ops {
			if op.id == id && !slices.Contains(op.statuses, status) {
				c.t.Errorf("%s answered %s, which the document does not list", id, status)
			}
		}
	}
}

// testEnv is the client behind the handler and the tokens of the test.
type testEnv struct {
	client                                            *webhook.Client
	db                                                *gorm.DB
	rcvURL                                            string
	ownToken, otherToken, expiredToken, tamperedToken string
}

func (e *testEnv) broadcast(s webhook.Scope, extra map[string]any) []string {
	res, err := e.client.Broadcast(context.Background(), "order_paid", []webhook.Scope{s}, extra)
	if err != nil {
		panic(err)
	}
	var ids []string
	for _, d := range res.Deliveries {
		ids = append(ids, d.DeliveryID)
	}
	return ids
}

func newChecker(t *testing.T) (*checker, *testEnv) {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "api.db")+"?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { sqlDB.Close() })
	const secret = "openapi-test-private-secret-0123456789"
	client, err := webhook.New(db, webhook.Config{PrivateSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Path, "/gone") {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rcv.Close)
	if _, err := client.SyncEventList(ctx, []webhook.Event{{Code: "order_paid", Name: "Order paid", Description: "paid"}, {Code: "order_refunded", Name: "Order refunded"}}, webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []webhook.Scope{own, other} {
		for _, wh := range []webhook.WebhookConfig{
			{Code: "wh1", Name: "Orders", Endpoint: rcv.URL + "/ok", Auth: &webhook.Auth{Type: "bearer", Token: "t"}, Headers: []webhook.Header{{Key: "X-Secret", Value: "v"}}},
			{Code: "wh2", Name: "Refunds", Endpoint: rcv.URL + "/gone", Auth: &webhook.Auth{Type: "basic", Username: "u", Password: "p"}},
		} {
			if _, err := client.CreateWebhook(ctx, s, wh, []string{webhook.AllEvents}, webhook.ChangeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	portal := api.PortalTokens(client)
	h, err := api.New(client, api.Options{MaxBodyBytes: maxBody, Authorizer: api.AuthorizerFunc(func(r *http.Request) (api.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer " + operatorToken:
			return api.Principal{Operator: true}, nil
		case "Bearer " + nobodyToken:
			return api.Principal{}, nil
		}
		return portal.Authorize(r)
	})})
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{client: client, db: db, rcvURL: rcv.URL}
	mint := func(c *webhook.Client, s webhook.Scope) string {
		tok, err := c.PortalToken(s, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	env.ownToken, env.otherToken = mint(client, own), mint(client, other)
	past, _ := webhook.New(db, webhook.Config{PrivateSecret: secret, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	env.expiredToken = mint(past, own)
	env.tamperedToken = env.ownToken[:len(env.ownToken)-2] + "AA"
	if env.tamperedToken == env.ownToken {
		env.tamperedToken = env.ownToken[:len(env.ownToken)-2] + "BB"
	}

	// The document, as the handler serves it.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/openapi.json", nil))
	if w.Code != 200 {
		t.Fatalf("GET /openapi.json: %d", w.Code)
	}
	raw := w.Body.Bytes()
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.1 document: %s", describe(errs))
	}
	c := &checker{t: t, h: h, v: v, covered: map[string]bool{}, doc: raw}
	var parsed struct {
		Paths map[string]map[string]struct {
			OperationID string                     `json:"operationId"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[a-z_]+\}`)
	for p, item := range parsed.Paths {
		for m, o := range item {
			op := docOp{id: o.OperationID, method: strings.ToUpper(m), path: p,
				re:      regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(param.ReplaceAllString(p, "\x00")), "\x00", `[^/]+`) + "$"),
				literal: len(param.ReplaceAllString(p, ""))}
			for s := range o.Responses {
				op.statuses = append(op.statuses, s)
			}
			sort.Strings(op.statuses)
			c.ops = append(c.ops, op)
		}
	}
	sort.Slice(c.ops, func(i, j int) bool { return c.ops[i].id < c.ops[j].id })
	return c, env
}
