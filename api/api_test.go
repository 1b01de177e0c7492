package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
)

func TestNewRefusesAnOpenHandler(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{})
	if _, err := api.New(e.client, api.Options{}); !errors.Is(err, api.ErrNoAuthorizer) || !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("New without an Authorizer: %v, want ErrNoAuthorizer and ErrInvalidConfig", err)
	}
	if _, err := api.New(nil, api.Options{Authorizer: api.PortalTokens(e.client)}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("New without a client: %v", err)
	}
	for _, prefix := range []string{"api", "/scopes", "/webhooks/x", "//host", "/a b", "/a?b"} {
		if _, err := api.New(e.client, api.Options{Authorizer: api.PortalTokens(e.client), Prefix: prefix}); !errors.Is(err, webhook.ErrInvalidConfig) {
			t.Errorf("Prefix %q: %v, want ErrInvalidConfig", prefix, err)
		}
	}
	if _, err := api.New(e.client, api.Options{Authorizer: api.PortalTokens(e.client), MaxBodyBytes: -1}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("MaxBodyBytes -1: %v", err)
	}
}

// Every route on the way a portal user takes: create, read, change, test,
// rotate, read the change log and the deliveries, redeliver, delete; on
// SQLite and, when configured, PostgreSQL.
func TestRoutes(t *testing.T) {
	t.Parallel()
	for _, dbk := range databases() {
		t.Run(dbk.name, func(t *testing.T) {
			t.Parallel()
			testRoutes(t, newEnv(t, dbk.open(t), webhook.Config{}, api.Options{}))
		})
	}
}

func testRoutes(t *testing.T, e *env) {
	e.seed()
	tok := e.ownToken
	base := scopePath(own)

	r := e.do(req{method: "GET", path: "/events", token: tok})
	want(t, "GET /events", r, 200, "")
	if got := r.json(t)["data"].([]any); len(got) != 2 || got[0].(map[string]any)["code"] != "order_paid" || got[0].(map[string]any)["description"] != "an order was paid" {
		t.Errorf("events: %s", r.body)
	}

	r = e.do(req{method: "GET", path: base + "/webhooks", token: tok})
	want(t, "list", r, 200, "")
	list := r.json(t)["data"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["code"] != "wh1" || len(list[0].(map[string]any)["events"].([]any)) != 1 {
		t.Fatalf("list: %s", r.body)
	}

	create := map[string]any{
		"code": "new", "name": "New hook", "endpoint": e.rcv.URL + "/ok", "events": []string{"order_paid", "order_refunded"},
		"auth":    map[string]any{"type": "bearer", "token": secretToken},
		"headers": []map[string]string{{"key": "X-Extra", "value": secretHeader}},
		"timeout": "1m30s", "retry_times": 3, "enabled": false,
	}
	r = e.do(req{method: "POST", path: base + "/webhooks", token: tok, body: create})
	want(t, "create", r, 201, "")
	if loc := r.header.Get("Location"); loc != base+"/webhooks/new" {
		t.Errorf("Location = %q", loc)
	}
	etag := r.header.Get("ETag")
	got := r.json(t)
	if etag == "" || got["etag"] != etag || got["timeout"] != "90s" || got["enabled"] != false || got["retry_times"] != 3.0 ||
		got["auth"].(map[string]any)["has_token"] != true || got["header_keys"].([]any)[0] != "X-Extra" || got["method"] != "POST" ||
		got["content_type"] != "application/json" || got["health"].(map[string]any)["circuit"].(map[string]any)["state"] != "closed" {
		t.Errorf("created: ETag %q %s", etag, r.body)
	}

	r = e.do(req{method: "GET", path: base + "/webhooks/new", token: tok})
	want(t, "get", r, 200, "")
	if r.header.Get("ETag") != etag || len(r.json(t)["events"].([]any)) != 2 {
		t.Errorf("get: ETag %q, want %q; %s", r.header.Get("ETag"), etag, r.body)
	}

	r = e.do(req{method: "PATCH", path: base + "/webhooks/new", token: tok, header: map[string]string{"If-Match": etag},
		body: `{"name": "Renamed", "enabled": true, "timeout": null, "auth": {"type": "bearer"}, "headers": [{"key": "X-Extra"}]}`})
	want(t, "patch", r, 200, "")
	got = r.json(t)
	if got["name"] != "Renamed" || got["enabled"] != true || got["timeout"] != nil || got["auth"].(map[string]any)["has_token"] != true || r.header.Get("ETag") == etag {
		t.Errorf("patched: %s", r.body)
	}
	etag2 := r.header.Get("ETag")
	// The old ETag no longer matches.
	r = e.do(req{method: "PATCH", path: base + "/webhooks/new", token: tok, header: map[string]string{"If-Match": etag}, body: `{"name": "Lost update"}`})
	want(t, "patch with a stale If-Match", r, 412, api.CodePreconditionFailed)
	r = e.do(req{method: "PUT", path: base + "/webhooks/new/events", token: tok, header: map[string]string{"If-Match": etag}, body: `{"events": []}`})
	want(t, "put events with a stale If-Match", r, 412, api.CodePreconditionFailed)
	r = e.do(req{method: "DELETE", path: base + "/webhooks/new", token: tok, header: map[string]string{"If-Match": etag}})
	want(t, "delete with a stale If-Match", r, 412, api.CodePreconditionFailed)
	// A merge-patch content type, and several ETags of which one is current.
	r = e.do(req{method: "PATCH", path: base + "/webhooks/new", token: tok,
		header: map[string]string{"If-Match": etag + `, ` + etag2, "Content-Type": "application/merge-patch+json"}, body: `{"auth": null}`})
	want(t, "merge patch", r, 200, "")
	if r.json(t)["auth"] != nil {
		t.Errorf("auth: null kept the authentication: %s", r.body)
	}

	r = e.do(req{method: "PUT", path: base + "/webhooks/new/events", token: tok, body: `{"events": ["*"]}`})
	want(t, "put events", r, 200, "")
	if ev := r.json(t)["events"].([]any); len(ev) != 1 || ev[0] != "*" {
		t.Errorf("events: %s", r.body)
	}

	r = e.do(req{method: "POST", path: base + "/webhooks/new/test", token: tok})
	want(t, "test", r, 200, "")
	got = r.json(t)
	if got["success"] != true || got["status_code"] != 200.0 || got["response_body"] != `{"ok":true}` || got["delivery_id"] == "" {
		t.Errorf("test: %s", r.body)
	}
	testID := got["delivery_id"].(string)
	r = e.do(req{method: "POST", path: base + "/webhooks/wh2/test", token: tok, body: "{}"})
	want(t, "failing test", r, 200, "")
	if got := r.json(t); got["success"] != false || got["status_code"] != 410.0 || !strings.Contains(got["error"].(string), "410") {
		t.Errorf("failing test: %s", r.body)
	}

	before := e.do(req{method: "GET", path: base + "/webhooks/new", token: tok}).header.Get("ETag")
	r = e.do(req{method: "POST", path: base + "/webhooks/new/rotate-secret", token: tok, header: map[string]string{"If-Match": before}, body: `{"grace": "1h"}`})
	want(t, "rotate", r, 200, "")
	got = r.json(t)
	secret, _ := got["signing_secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || got["grace"] != "3600s" || got["webhook"].(map[string]any)["signing_secrets"] != 1.0 || r.header.Get("ETag") == before {
		t.Errorf("rotate: %s", r.body)
	}
	// A retry with the same If-Match cannot rotate twice.
	r = e.do(req{method: "POST", path: base + "/webhooks/new/rotate-secret", token: tok, header: map[string]string{"If-Match": before}})
	want(t, "rotate again with the old ETag", r, 412, api.CodePreconditionFailed)
	r = e.do(req{method: "POST", path: base + "/webhooks/new/rotate-secret", token: tok})
	want(t, "rotate with the default grace", r, 200, "")
	if got := r.json(t); got["grace"] != "86400s" || got["webhook"].(map[string]any)["signing_secrets"] != 2.0 {
		t.Errorf("rotate with the default grace: %s", r.body)
	}

	r = e.do(req{method: "GET", path: base + "/webhooks/new/changes?limit=2", token: tok})
	want(t, "changes", r, 200, "")
	page := r.json(t)
	if data := page["data"].([]any); len(data) != 2 || data[0].(map[string]any)["action"] != "rotate_secret" || data[0].(map[string]any)["actor"] != "portal:shop/s1" {
		t.Errorf("changes: %s", r.body)
	}
	var actions []string
	for cursor := page["next_cursor"]; cursor != nil; {
		r = e.do(req{method: "GET", path: base + "/webhooks/new/changes?limit=2&cursor=" + cursor.(string), token: tok})
		want(t, "changes, next page", r, 200, "")
		page = r.json(t)
		for _, c := range page["data"].([]any) {
			actions = append(actions, c.(map[string]any)["action"].(string))
		}
		cursor = page["next_cursor"]
	}
	if strings.Join(actions, ",") != "test,update,update,update,create" {
		t.Errorf("older changes: %v", actions)
	}

	// Deliveries: two broadcasts, one enqueued.
	e.broadcast(own, nil)
	ids, err := e.client.Enqueue(context.Background(), "order_refunded", []webhook.Scope{own}, nil)
	if err != nil || len(ids) != 2 {
		t.Fatalf("Enqueue: %v %v", ids, err)
	}
	r = e.do(req{method: "GET", path: base + "/deliveries?limit=3", token: tok})
	want(t, "deliveries", r, 200, "")
	page = r.json(t)
	seen := len(page["data"].([]any))
	for cursor := page["next_cursor"]; cursor != nil; seen += len(page["data"].([]any)) {
		r = e.do(req{method: "GET", path: base + "/deliveries?limit=3&cursor=" + cursor.(string), token: tok})
		want(t, "deliveries, next page", r, 200, "")
		page = r.json(t)
		cursor = page["next_cursor"]
	}
	if seen != 2+3+2 { // tests, broadcast to wh1, wh2 and new, enqueued to wh2 and new
		t.Errorf("deliveries seen = %d, want 7", seen)
	}
	r = e.do(req{method: "GET", path: base + "/deliveries?queued=true&status=pending&event=order_refunded", token: tok})
	want(t, "queued deliveries", r, 200, "")
	if data := r.json(t)["data"].([]any); len(data) != 2 || data[0].(map[string]any)["queued"] != true || data[0].(map[string]any)["next_attempt_at"] == nil {
		t.Errorf("queued: %s", r.body)
	}
	since := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = e.do(req{method: "GET", path: base + "/deliveries?webhook=wh1&since=" + since, token: tok})
	want(t, "deliveries since", r, 200, "")
	if data := r.json(t)["data"].([]any); len(data) != 0 {
		t.Errorf("deliveries since the future: %s", r.body)
	}

	r = e.do(req{method: "GET", path: base + "/deliveries/" + testID, token: tok})
	want(t, "delivery", r, 200, "")
	got = r.json(t)
	attempts := got["attempts"].([]any)
	if len(got["deliveries"].([]any)) != 1 || len(attempts) != 1 || attempts[0].(map[string]any)["request"].(map[string]any)["method"] != "POST" ||
		attempts[0].(map[string]any)["response"].(map[string]any)["status_code"] != 200.0 {
		t.Errorf("delivery: %s", r.body)
	}

	r = e.do(req{method: "POST", path: base + "/deliveries/" + testID + "/redeliver", token: tok})
	want(t, "redeliver", r, 202, "")
	if r.json(t)["delivery_id"] != testID {
		t.Errorf("redeliver: %s", r.body)
	}
	r = e.do(req{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, body: `{"webhook": "wh2"}`})
	want(t, "redeliver failed", r, 200, "")
	if r.json(t)["rescheduled"] != 0.0 { // none failed in the outbox yet
		t.Errorf("redeliver failed: %s", r.body)
	}

	r = e.do(req{method: "DELETE", path: base + "/webhooks/new", token: tok})
	want(t, "delete", r, 204, "")
	if len(r.body) != 0 {
		t.Errorf("delete answered a body: %s", r.body)
	}
	want(t, "get deleted", e.do(req{method: "GET", path: base + "/webhooks/new", token: tok}), 404, api.CodeWebhookNotFound)
	r = e.do(req{method: "GET", path: base + "/webhooks/new/changes?limit=1", token: tok})
	if want(t, "changes of a deleted webhook", r, 200, ""); r.json(t)["data"].([]any)[0].(map[string]any)["action"] != "delete" {
		t.Errorf("changes after delete: %s", r.body)
	}

	// Operators see every scope.
	r = e.do(req{method: "GET", path: "/webhooks", token: operatorToken})
	want(t, "all webhooks", r, 200, "")
	if data := r.json(t)["data"].([]any); len(data) != 4 {
		t.Errorf("all webhooks: %s", r.body)
	}
	r = e.do(req{method: "GET", path: "/webhooks?scope_code=s2", token: operatorToken})
	if data := r.json(t)["data"].([]any); len(data) != 2 || data[0].(map[string]any)["scope"].(map[string]any)["code"] != "s2" {
		t.Errorf("webhooks of s2: %s", r.body)
	}
	r = e.do(req{method: "GET", path: scopePath(other) + "/webhooks/wh1", token: operatorToken})
	want(t, "operator reads another scope", r, 200, "")

	// The OpenAPI document needs no token.
	r = e.do(req{method: "GET", path: "/openapi.json"})
	want(t, "openapi.json", r, 200, "")
	if r.json(t)["openapi"] != "3.1.0" {
		t.Errorf("openapi.json: %.100s", r.body)
	}
}

// Each documented error of the routes, with its code.
func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{MaxBodyBytes: 1024})
	e.seed()
	tok := e.ownToken
	base := scopePath(own)
	long := strings.Repeat("x", 65)
	for _, c := range []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"unknown route", req{method: "GET", path: "/nope", token: tok}, 404, api.CodeNotFound},
		{"unknown route under a scope", req{method: "GET", path: base + "/nope", token: tok}, 404, api.CodeNotFound},
		{"trailing slash", req{method: "GET", path: "/events/", token: tok}, 404, api.CodeNotFound},
		{"double slash", req{method: "GET", path: base + "//webhooks", token: tok}, 404, api.CodeNotFound},
		{"dot segment", req{method: "GET", path: scopePath(other) + "/../s1/webhooks", token: tok}, 404, api.CodeNotFound},
		{"method", req{method: "PUT", path: base + "/webhooks", token: tok}, 405, api.CodeMethodNotAllowed},
		{"scope too long", req{method: "GET", path: "/scopes/" + long + "/x/webhooks", token: operatorToken}, 400, api.CodeInvalidArgument},
		{"blank scope", req{method: "GET", path: "/scopes/%20/x/webhooks", token: operatorToken}, 400, api.CodeInvalidArgument},
		{"webhook code too long", req{method: "GET", path: base + "/webhooks/" + strings.Repeat("w", 256), token: tok}, 400, api.CodeInvalidArgument},
		{"delivery id too long", req{method: "GET", path: base + "/deliveries/" + strings.Repeat("d", 256), token: tok}, 400, api.CodeInvalidArgument},
		{"unknown webhook", req{method: "GET", path: base + "/webhooks/nope", token: tok}, 404, api.CodeWebhookNotFound},
		{"patch unknown webhook", req{method: "PATCH", path: base + "/webhooks/nope", token: tok, body: `{"name": "x"}`}, 404, api.CodeWebhookNotFound},
		{"delete unknown webhook", req{method: "DELETE", path: base + "/webhooks/nope", token: tok}, 404, api.CodeWebhookNotFound},
		{"events of unknown webhook", req{method: "PUT", path: base + "/webhooks/nope/events", token: tok, body: `{"events": []}`}, 404, api.CodeWebhookNotFound},
		{"test unknown webhook", req{method: "POST", path: base + "/webhooks/nope/test", token: tok}, 404, api.CodeWebhookNotFound},
		{"rotate unknown webhook", req{method: "POST", path: base + "/webhooks/nope/rotate-secret", token: tok}, 404, api.CodeWebhookNotFound},
		{"unknown delivery", req{method: "GET", path: base + "/deliveries/nope", token: tok}, 404, api.CodeDeliveryNotFound},
		{"redeliver unknown", req{method: "POST", path: base + "/deliveries/nope/redeliver", token: tok}, 404, api.CodeDeliveryNotFound},
		{"create exists", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "wh1", "name": "n", "endpoint": "https://example.com/"}`}, 409, api.CodeWebhookExists},
		{"create invalid", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "ftp://example.com/"}`}, 400, api.CodeInvalidWebhook},
		{"create without code", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"name": "n", "endpoint": "https://example.com/"}`}, 400, api.CodeInvalidWebhook},
		{"create unknown event", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "https://example.com/", "events": ["nope"]}`}, 400, api.CodeInvalidSubscription},
		{"create unknown field", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "nmae": "n"}`}, 400, api.CodeInvalidArgument},
		{"create wrong type", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": 1}`}, 400, api.CodeInvalidArgument},
		{"create bad timeout", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": "x", "name": "n", "endpoint": "https://example.com/", "timeout": "-1s"}`}, 400, api.CodeInvalidArgument},
		{"create bad JSON", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"code": `}, 400, api.CodeInvalidArgument},
		{"create two values", req{method: "POST", path: base + "/webhooks", token: tok, body: `{} {}`}, 400, api.CodeInvalidArgument},
		{"create no body", req{method: "POST", path: base + "/webhooks", token: tok}, 400, api.CodeInvalidArgument},
		{"create array", req{method: "POST", path: base + "/webhooks", token: tok, body: `[]`}, 400, api.CodeInvalidArgument},
		{"create too large", req{method: "POST", path: base + "/webhooks", token: tok, body: `{"name": "` + strings.Repeat("n", 2000) + `"}`}, 413, api.CodePayloadTooLarge},
		{"create as text", req{method: "POST", path: base + "/webhooks", token: tok, body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, api.CodeUnsupportedMediaType},
		{"create without type", req{method: "POST", path: base + "/webhooks", token: tok, body: `{}`, header: map[string]string{"Content-Type": ""}}, 415, api.CodeUnsupportedMediaType},
		{"create latin-1", req{method: "POST", path: base + "/webhooks", token: tok, body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}}, 415, api.CodeUnsupportedMediaType},
		{"create as merge patch", req{method: "POST", path: base + "/webhooks", token: tok, body: `{}`, header: map[string]string{"Content-Type": "application/merge-patch+json"}}, 415, api.CodeUnsupportedMediaType},
		{"patch code", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"code": "other"}`}, 400, api.CodeInvalidArgument},
		{"patch read-only", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"etag": "x"}`}, 400, api.CodeInvalidArgument},
		{"patch unknown", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"nmae": "x"}`}, 400, api.CodeInvalidArgument},
		{"patch null name", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"name": null}`}, 400, api.CodeInvalidArgument},
		{"patch wrong type", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"retry_times": "3"}`}, 400, api.CodeInvalidArgument},
		{"patch bad auth", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"auth": {"type": "bearer", "tokn": "x"}}`}, 400, api.CodeInvalidArgument},
		{"patch invalid", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"retry_times": 99}`}, 400, api.CodeInvalidWebhook},
		{"patch header without value", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"headers": [{"key": "X-New"}]}`}, 400, api.CodeInvalidWebhook},
		{"patch unknown event", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"events": ["nope"]}`}, 400, api.CodeInvalidSubscription},
		{"patch not an object", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `null`}, 400, api.CodeInvalidArgument},
		{"patch as text", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, api.CodeUnsupportedMediaType},
		{"patch too large", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{"name": "` + strings.Repeat("n", 2000) + `"}`}, 413, api.CodePayloadTooLarge},
		{"patch weak If-Match", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{}`, header: map[string]string{"If-Match": `W/"x"`}}, 412, api.CodePreconditionFailed},
		{"patch bad If-Match", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{}`, header: map[string]string{"If-Match": `x`}}, 400, api.CodeInvalidArgument},
		{"patch stale If-Match list", req{method: "PATCH", path: base + "/webhooks/wh1", token: tok, body: `{}`, header: map[string]string{"If-Match": `"a", "b"`}}, 412, api.CodePreconditionFailed},
		{"events missing", req{method: "PUT", path: base + "/webhooks/wh1/events", token: tok, body: `{}`}, 400, api.CodeInvalidArgument},
		{"events unknown", req{method: "PUT", path: base + "/webhooks/wh1/events", token: tok, body: `{"events": ["nope"]}`}, 400, api.CodeInvalidSubscription},
		{"test with a body", req{method: "POST", path: base + "/webhooks/wh1/test", token: tok, body: `{"x": 1}`}, 400, api.CodeInvalidArgument},
		{"rotate bad grace", req{method: "POST", path: base + "/webhooks/wh1/rotate-secret", token: tok, body: `{"grace": "soon"}`}, 400, api.CodeInvalidArgument},
		{"rotate with Idempotency-Key", req{method: "POST", path: base + "/webhooks/wh1/rotate-secret", token: tok, header: map[string]string{"Idempotency-Key": "k"}}, 400, api.CodeInvalidArgument},
		{"changes bad cursor", req{method: "GET", path: base + "/webhooks/wh1/changes?cursor=abc", token: tok}, 400, api.CodeInvalidArgument},
		{"changes bad limit", req{method: "GET", path: base + "/webhooks/wh1/changes?limit=501", token: tok}, 400, api.CodeInvalidArgument},
		{"deliveries bad status", req{method: "GET", path: base + "/deliveries?status=lost", token: tok}, 400, api.CodeInvalidArgument},
		{"deliveries bad since", req{method: "GET", path: base + "/deliveries?since=yesterday", token: tok}, 400, api.CodeInvalidArgument},
		{"deliveries bad until", req{method: "GET", path: base + "/deliveries?until=2025-13-01T00:00:00Z", token: tok}, 400, api.CodeInvalidArgument},
		{"deliveries bad queued", req{method: "GET", path: base + "/deliveries?queued=yes", token: tok}, 400, api.CodeInvalidArgument},
		{"deliveries bad cursor", req{method: "GET", path: base + "/deliveries?cursor=nope", token: tok}, 400, api.CodeInvalidArgument},
		{"deliveries bad limit", req{method: "GET", path: base + "/deliveries?limit=0", token: tok}, 400, api.CodeInvalidArgument},
		{"redeliver failed bad since", req{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, body: `{"since": "now"}`}, 400, api.CodeInvalidArgument},
		{"redeliver with a body", req{method: "POST", path: base + "/deliveries/x/redeliver", token: tok, body: `{"now": true}`}, 400, api.CodeInvalidArgument},
		{"bad Idempotency-Key", req{method: "POST", path: base + "/deliveries/redeliver-failed", token: tok, header: map[string]string{"Idempotency-Key": "has space"}}, 400, api.CodeInvalidArgument},
	} {
		r := e.do(c.q)
		if r.status != c.status || r.errCode() != c.code {
			t.Errorf("%s: %s %s: got %d %s, want %d %s", c.name, c.q.method, c.q.path, r.status, r.body, c.status, c.code)
			continue
		}
		var body struct {
			Error struct {
				Code, Message string
				Details       map[string]any
			}
		}
		if err := jsonUnmarshal(r.body, &body); err != nil || body.Error.Message == "" || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: not an error object: %v %s", c.name, err, r.body)
		}
		if c.status == 405 && r.header.Get("Allow") != "GET, POST" {
			t.Errorf("%s: Allow = %q", c.name, r.header.Get("Allow"))
		}
	}
}

// An internal error answers a reference, logged with the error, and nothing
// else about it.
func TestInternalErrorIsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{})
	e.seed()
	sqlDB, _ := e.db.DB()
	sqlDB.Close()
	r := e.do(req{method: "GET", path: scopePath(own) + "/webhooks/wh1", token: e.ownToken})
	want(t, "closed database", r, 500, api.CodeInternal)
	ref, _ := r.json(t)["error"].(map[string]any)["details"].(map[string]any)["reference"].(string)
	if ref == "" || !strings.Contains(e.logs.String(), "ref="+ref) || strings.Contains(string(r.body), "sql") {
		t.Errorf("500: %s\nlog: %s", r.body, e.logs.String())
	}
	// An Authorizer that fails (not a refusal) is an internal error too.
	h, err := api.New(e.client, api.Options{Authorizer: api.AuthorizerFunc(func(*http.Request) (api.Principal, error) {
		return api.Principal{}, errors.New("session store is down")
	})})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	want(t, "failing Authorizer", e.do(req{method: "GET", path: "/events"}), 500, api.CodeInternal)
	// A panic is a logged 500 too.
	if e.h, err = api.New(e.client, api.Options{Logger: newLogger(e.logs), Authorizer: api.AuthorizerFunc(func(*http.Request) (api.Principal, error) {
		panic("authorizer bug")
	})}); err != nil {
		t.Fatal(err)
	}
	want(t, "panicking Authorizer", e.do(req{method: "GET", path: "/events"}), 500, api.CodeInternal)
	if !strings.Contains(e.logs.String(), "authorizer bug") {
		t.Errorf("the panic was not logged: %s", e.logs.String())
	}
}

// The security headers are on every response, errors included, and no
// CORS header is ever sent.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{})
	e.seed()
	for _, q := range []req{
		{method: "GET", path: "/openapi.json"},
		{method: "GET", path: "/events", token: e.ownToken, header: map[string]string{"Origin": "https://evil.example"}},
		{method: "OPTIONS", path: "/events", header: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}},
		{method: "GET", path: "/events"},
		{method: "GET", path: "/nope"},
	} {
		r := e.do(q)
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: headers %v", q.method, q.path, r.header)
		}
		for k := range r.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s %s: CORS header %s", q.method, q.path, k)
			}
		}
	}
}

// Mounting needs one setting: with Prefix "/api" the handler works both
// mounted as it is and behind http.StripPrefix.
func TestMountWithOneSetting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{Prefix: "/api"})
	e.seed()
	plain := http.NewServeMux()
	plain.Handle("/api/", e.h)
	stripped := http.NewServeMux()
	stripped.Handle("/api/", http.StripPrefix("/api", e.h))
	for name, mux := range map[string]*http.ServeMux{"as it is": plain, "behind StripPrefix": stripped} {
		e.h = mux
		want(t, name, e.do(req{method: "GET", path: "/api/openapi.json"}), 200, "")
		want(t, name, e.do(req{method: "GET", path: "/api" + scopePath(own) + "/webhooks/wh1", token: e.ownToken}), 200, "")
		r := e.do(req{method: "POST", path: "/api" + scopePath(own) + "/webhooks", token: e.ownToken,
			body: `{"code": "a/b ` + name + `/", "name": "n", "endpoint": "https://example.com/"}`})
		want(t, name+": create", r, 201, "")
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, "/api/scopes/shop/s1/webhooks/a%2Fb%20") {
			t.Errorf("%s: Location %q", name, loc)
		}
		want(t, name+": follow Location", e.do(req{method: "GET", path: loc, token: e.ownToken}), 200, "")
	}
}
