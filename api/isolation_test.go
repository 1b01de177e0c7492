package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
)

// operation is one route of the API as the OpenAPI document lists it.
type operation struct {
	method, path, id string
}

// operations lists the routes of the handler's own OpenAPI document
// (TestOpenAPIListsEveryRoute holds it equal to the handler's routes).
func (e *env) operations() []operation {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/openapi.json"})
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		e.t.Fatalf("openapi.json: %v", err)
	}
	var ops []operation
	for p, item := range doc.Paths {
		for m, o := range item {
			ops = append(ops, operation{method: strings.ToUpper(m), path: p, id: o.OperationID})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	if len(ops) < 16 {
		e.t.Fatalf("openapi.json lists %d operations", len(ops))
	}
	return ops
}

// request builds a request of op for scope s: a valid one, so that what
// refuses it is the caller, never the request.
func (op operation) request(s webhook.Scope, deliveryID string) req {
	p := strings.NewReplacer("{scope_type}", s.Type, "{scope_code}", s.Code, "{webhook_code}", "wh1", "{delivery_id}", deliveryID).Replace(op.path)
	q := req{method: op.method, path: p}
	switch op.id {
	case "createWebhook":
		q.body = `{"code": "intruder", "name": "Intruder", "endpoint": "https://example.com/hook"}`
	case "updateWebhook":
		q.body = `{"name": "Hacked", "endpoint": "https://attacker.example/"}`
	case "setWebhookEvents":
		q.body = `{"events": []}`
	case "rotateWebhookSecret":
		q.body = `{"grace": "0s"}`
	case "redeliverFailed":
		q.body = `{}`
	}
	return q
}

// snapshot describes everything a request could change, in both scopes.
func (e *env) snapshot() string {
	e.t.Helper()
	return e.snapshotOf(own, other)
}

// snapshotOf is snapshot limited to some scopes.
func (e *env) snapshotOf(scopes ...webhook.Scope) string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, s := range scopes {
		list, err := e.client.Webhooks(ctx, webhook.WebhookQuery{ScopeType: s.Type, ScopeCode: s.Code})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, w := range list {
			info, err := e.client.Webhook(ctx, s, w.Code)
			if err != nil {
				e.t.Fatal(err)
			}
			fmt.Fprintf(&b, "webhook %s %s %s %d\n", s, info.Code, info.ETag, info.SigningSecrets)
		}
		ds, err := e.client.Deliveries(ctx, webhook.DeliveryQuery{ScopeType: s.Type, ScopeCode: s.Code, Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range ds {
			fmt.Fprintf(&b, "delivery %s %s %s %s %d %v\n", s, d.DeliveryID, d.WebhookCode, d.Status, d.Attempts, d.NextAttemptAt)
		}
		hist, err := e.client.History(ctx, webhook.HistoryQuery{ScopeType: s.Type, ScopeCode: s.Code, Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		changes, err := e.client.WebhookChanges(ctx, webhook.WebhookChangeQuery{Scope: s, Limit: 1000})
		if err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "scope %s: %d attempts, %d changes\n", s, len(hist), len(changes))
	}
	return b.String()
}

// A caller bound to a scope can never see or touch another scope: every
// route, asked for the scope of the tests with a token of another scope,
// an expired token, a tampered token, no token, or no scope at all, is
// refused and changes nothing, and nothing it answers comes from the scope.
func TestScopeIsolation(t *testing.T) {
	t.Parallel()
	for _, dbk := range databases() {
		t.Run(dbk.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dbk.open(t), webhook.Config{}, api.Options{})
			testScopeIsolation(t, e)
		})
	}
}

func testScopeIsolation(t *testing.T, e *env) {
	e.seed()
	ownIDs := e.broadcast(own, nil)
	e.broadcast(other, nil)
	nobody, err := api.New(e.client, api.Options{Authorizer: api.AuthorizerFunc(func(*http.Request) (api.Principal, error) {
		return api.Principal{Actor: "nobody"}, nil // neither an operator nor bound to a scope
	})})
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	callers := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"no token", "", 401, api.CodeUnauthorized},
		{"expired token", e.expiredToken, 401, api.CodeUnauthorized},
		{"tampered token", e.tamperedToken, 401, api.CodeUnauthorized},
		{"malformed token", "whp1.not-a-token", 401, api.CodeUnauthorized},
		{"token of another scope", e.otherToken, 403, api.CodeForbiddenScope},
		{"no scope", "nobody", 403, api.CodeForbiddenScope},
	}
	for _, op := range e.operations() {
		for _, c := range callers {
			q := op.request(own, ownIDs[0])
			q.token = c.token
			q.header = map[string]string{"Idempotency-Key": "isolation-" + strings.ReplaceAll(c.name, " ", "-")}
			if op.id == "rotateWebhookSecret" {
				q.header = nil
			}
			wantStatus, wantCode := c.status, c.code
			switch {
			case op.id == "getOpenAPI":
				wantStatus, wantCode = 200, "" // public
			case op.id == "listEvents" && c.status == 403 && c.token != "nobody":
				wantStatus, wantCode = 200, "" // the catalog is every scope's
			}
			var r response
			if c.token == "nobody" {
				saved := e.h
				e.h, q.token = nobody, ""
				r = e.do(q)
				e.h = saved
			} else {
				r = e.do(q)
			}
			if r.status != wantStatus || r.errCode() != wantCode {
				t.Errorf("%s %s with %s: got %d %s, want %d %s", q.method, q.path, c.name, r.status, r.body, wantStatus, wantCode)
			}
			if r.status == 401 && c.token != "" && !strings.Contains(r.errorMessage(), "portal token") {
				t.Errorf("%s %s with %s: 401 does not say why: %s", q.method, q.path, c.name, r.body)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") != "" {
				t.Errorf("%s %s: the test Authorizer is not PortalTokens, yet WWW-Authenticate = %q", q.method, q.path, r.header.Get("WWW-Authenticate"))
			}
			if r.status >= 400 && (strings.Contains(string(r.body), "wh1") || strings.Contains(string(r.body), ownIDs[0])) {
				t.Errorf("%s %s with %s: the refusal tells about the scope: %s", q.method, q.path, c.name, r.body)
			}
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("refused requests changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Through its own scope's paths, a caller reaches only its scope's
	// data: the other scope's delivery ids are unknown there.
	otherIDs := e.broadcast(other, nil)
	base := scopePath(own)
	for _, id := range otherIDs {
		want(t, "GET another scope's delivery", e.do(req{method: "GET", path: base + "/deliveries/" + id, token: e.ownToken}), 404, api.CodeDeliveryNotFound)
		want(t, "redeliver another scope's delivery", e.do(req{method: "POST", path: base + "/deliveries/" + id + "/redeliver", token: e.ownToken}), 404, api.CodeDeliveryNotFound)
	}
	r := e.do(req{method: "GET", path: base + "/deliveries?limit=500", token: e.ownToken})
	for _, d := range r.json(t)["data"].([]any) {
		if d.(map[string]any)["scope"].(map[string]any)["code"] != own.Code {
			t.Errorf("own deliveries list another scope's: %v", d)
		}
	}
	// Changing its wh1 leaves the other scope's wh1 as it was.
	otherBefore, _ := e.client.Webhook(context.Background(), other, "wh1")
	want(t, "patch own wh1", e.do(req{method: "PATCH", path: base + "/webhooks/wh1", token: e.ownToken, body: `{"name": "Mine"}`}), 200, "")
	want(t, "test own wh1", e.do(req{method: "POST", path: base + "/webhooks/wh1/test", token: e.ownToken}), 200, "")
	want(t, "rotate own wh1", e.do(req{method: "POST", path: base + "/webhooks/wh1/rotate-secret", token: e.ownToken}), 200, "")
	want(t, "redeliver own failures", e.do(req{method: "POST", path: base + "/deliveries/redeliver-failed", token: e.ownToken}), 200, "")
	want(t, "delete own wh2", e.do(req{method: "DELETE", path: base + "/webhooks/wh2", token: e.ownToken}), 204, "")
	if otherAfter, _ := e.client.Webhook(context.Background(), other, "wh1"); otherAfter.ETag != otherBefore.ETag || otherAfter.Name != "Orders" {
		t.Errorf("the other scope's wh1 changed: %+v", otherAfter)
	}
	if _, err := e.client.Webhook(context.Background(), other, "wh2"); err != nil {
		t.Errorf("the other scope's wh2: %v", err)
	}
	r = e.do(req{method: "GET", path: base + "/webhooks/wh1/changes", token: e.ownToken})
	for _, c := range r.json(t)["data"].([]any) {
		if c.(map[string]any)["actor"] != "portal:shop/s1" && c.(map[string]any)["actor"] != "library" {
			t.Errorf("own change log: %v", c)
		}
	}

	// A delivery id shared with another scope (a broadcast over both,
	// given one id) shows only this scope's part, and is redelivered in
	// this scope only (Client.RedeliverIn).
	res, err := e.client.Broadcast(context.Background(), "order_paid", []webhook.Scope{own, other}, map[string]any{"delivery_id": "shared-1"})
	if err != nil || len(res.Deliveries) != 3 {
		t.Fatalf("shared broadcast: %v %+v", err, res)
	}
	r = e.do(req{method: "GET", path: base + "/deliveries/shared-1", token: e.ownToken})
	want(t, "GET a shared delivery", r, 200, "")
	for _, a := range r.json(t)["attempts"].([]any) {
		if a.(map[string]any)["request"].(map[string]any)["url"] == "" {
			t.Errorf("attempt without a URL: %v", a)
		}
	}
	if d := r.json(t)["deliveries"].([]any); len(d) != 1 || d[0].(map[string]any)["scope"].(map[string]any)["code"] != own.Code {
		t.Errorf("shared delivery shows other scopes: %s", r.body)
	}
	theirs := e.snapshotOf(other)
	want(t, "redeliver a shared delivery", e.do(req{method: "POST", path: base + "/deliveries/shared-1/redeliver", token: e.ownToken}), 202, "")
	if e.snapshotOf(other) != theirs {
		t.Error("redelivering a shared delivery id changed the other scope")
	}
	queued, err := e.client.Deliveries(context.Background(), webhook.DeliveryQuery{DeliveryID: "shared-1", QueuedOnly: true})
	if err != nil || len(queued) == 0 {
		t.Fatalf("the shared delivery was not redelivered in its scope: %+v %v", queued, err)
	}
	for _, d := range queued {
		if d.ScopeType != own.Type || d.ScopeCode != own.Code {
			t.Errorf("redelivering from %s queued a delivery of %s/%s", own, d.ScopeType, d.ScopeCode)
		}
	}
}

// errorMessage is the message of an error answer.
func (r response) errorMessage() string {
	var v struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &v)
	return v.Error.Message
}

// PortalTokens alone: a bearer challenge on 401, the token's scope and
// nothing more.
func TestPortalTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{})
	h, err := api.New(e.client, api.Options{Authorizer: api.PortalTokens(e.client)})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.seed()
	for _, hdr := range []string{"", "Basic Zm9vOmJhcg==", "Bearer", "Bearer ", "bearer " + e.tamperedToken} {
		r := e.do(req{method: "GET", path: scopePath(own) + "/webhooks", header: map[string]string{"Authorization": hdr}})
		want(t, "Authorization "+hdr, r, 401, api.CodeUnauthorized)
		if r.header.Get("WWW-Authenticate") != `Bearer realm="webhook api"` {
			t.Errorf("Authorization %q: WWW-Authenticate = %q", hdr, r.header.Get("WWW-Authenticate"))
		}
	}
	want(t, "lower-case scheme", e.do(req{method: "GET", path: scopePath(own) + "/webhooks", header: map[string]string{"Authorization": "bearer " + e.ownToken}}), 200, "")
	want(t, "own scope", e.do(req{method: "GET", path: scopePath(own) + "/webhooks", token: e.ownToken}), 200, "")
	want(t, "other scope", e.do(req{method: "GET", path: scopePath(other) + "/webhooks", token: e.ownToken}), 403, api.CodeForbiddenScope)
	want(t, "operators' route", e.do(req{method: "GET", path: "/webhooks", token: e.ownToken}), 403, api.CodeForbiddenScope)
	r := e.do(req{method: "GET", path: scopePath(own) + "/webhooks", token: e.expiredToken})
	if want(t, "expired", r, 401, api.CodeUnauthorized); !strings.Contains(r.errorMessage(), "expired") {
		t.Errorf("expired: %s", r.body)
	}
	// The change log names the portal.
	want(t, "patch", e.do(req{method: "PATCH", path: scopePath(own) + "/webhooks/wh1", token: e.ownToken, body: `{"name": "Via portal"}`}), 200, "")
	changes, _ := e.client.WebhookChanges(context.Background(), webhook.WebhookChangeQuery{Scope: own, WebhookCode: "wh1", Limit: 1})
	if len(changes) != 1 || changes[0].Actor != "portal:shop/s1" {
		t.Errorf("change log: %+v", changes)
	}
}
