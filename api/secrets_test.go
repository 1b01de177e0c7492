package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
)

// Credentials are write-only: once set through the API, no response (of any
// route, errors included) and no log line holds them; a rotated signing
// secret is answered once, by the rotation, and never again.
func TestNoSecretInAnyResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, webhook.Config{}, api.Options{})
	e.seed()
	base := scopePath(own)
	tok := e.ownToken
	const (
		apiToken  = "api-token-must-never-show-4"
		apiPass   = "api-pass-must-never-show-5"
		apiHeader = "api-header-must-never-show-6"
	)
	want(t, "create bearer", e.do(req{method: "POST", path: base + "/webhooks", token: tok, body: fmt.Sprintf(
		`{"code": "s1", "name": "Secrets", "endpoint": %q, "events": ["*"], "auth": {"type": "bearer", "token": %q}, "headers": [{"key": "X-Key", "value": %q}]}`,
		e.rcv.URL+"/ok", apiToken, apiHeader)}), 201, "")
	want(t, "create basic", e.do(req{method: "POST", path: base + "/webhooks", token: tok, body: fmt.Sprintf(
		`{"code": "s2", "name": "Secrets 2", "endpoint": %q, "auth": {"type": "basic", "username": "bob", "password": %q}}`, e.rcv.URL+"/gone", apiPass)}), 201, "")
	// Refused requests that carry credentials do not echo them.
	for _, body := range []string{
		fmt.Sprintf(`{"code": "bad", "name": "n", "endpoint": "https://example.com/", "auth": {"type": "bearer", "token": "%s\r\n"}}`, apiToken),
		fmt.Sprintf(`{"code": "bad", "name": "n", "endpoint": "https://example.com/", "headers": [{"key": "X", "value": "%s\n"}]}`, apiHeader),
		fmt.Sprintf(`{"code": "bad", "name": "n", "endpoint": "https://example.com/", "auth": {"type": "digest", "token": %q}}`, apiToken),
		fmt.Sprintf(`{"auth": {"type": "bearer", "token": %q`, apiToken),
		fmt.Sprintf(`{"auth": {"type": "bearer", "token": %q}, "headers": {"X": %q}}`, apiToken, apiHeader),
		fmt.Sprintf(`{"auth": {"type": "bearer", "token": %q}, %q: 1}`, apiToken, apiPass),
	} {
		if r := e.do(req{method: "POST", path: base + "/webhooks", token: tok, body: body}); r.status != 400 {
			t.Errorf("refused create: %d %s", r.status, r.body)
		}
	}
	if r := e.do(req{method: "PATCH", path: base + "/webhooks/s1", token: tok, body: fmt.Sprintf(`{"auth": {"type": "basic", "username": "a:b", "password": %q}}`, apiPass)}); r.status != 400 {
		t.Errorf("refused patch: %d %s", r.status, r.body)
	}

	r := e.do(req{method: "POST", path: base + "/webhooks/s1/rotate-secret", token: tok})
	want(t, "rotate", r, 200, "")
	signing, _ := r.json(t)["signing_secret"].(string)
	rotation := len(e.seen) - 1

	// Send, so that history holds requests with every credential.
	want(t, "test", e.do(req{method: "POST", path: base + "/webhooks/s1/test", token: tok}), 200, "")
	want(t, "test basic", e.do(req{method: "POST", path: base + "/webhooks/s2/test", token: tok}), 200, "")
	e.broadcast(own, nil)
	if _, err := e.client.Enqueue(context.Background(), "order_paid", []webhook.Scope{own}, nil); err != nil {
		t.Fatal(err)
	}
	// Every route, with and without the operator.
	r = e.do(req{method: "GET", path: base + "/deliveries?limit=500", token: tok})
	var ids []string
	for _, d := range r.json(t)["data"].([]any) {
		ids = append(ids, d.(map[string]any)["delivery_id"].(string))
	}
	for _, id := range ids {
		e.do(req{method: "GET", path: base + "/deliveries/" + id, token: tok})
	}
	for _, op := range e.operations() {
		if op.id == "rotateWebhookSecret" || op.id == "deleteWebhook" {
			continue
		}
		for _, code := range []string{"s1", "s2"} {
			q := op.request(own, ids[0])
			q.path = strings.Replace(q.path, "/wh1", "/"+code, 1)
			q.token = tok
			if op.id == "createWebhook" || op.id == "updateWebhook" {
				q.body = nil // their bodies are the seed's, not the secrets'
				continue
			}
			e.do(q)
			q.token = operatorToken
			e.do(q)
		}
	}
	e.do(req{method: "GET", path: "/webhooks", token: operatorToken})
	e.do(req{method: "GET", path: base + "/webhooks/s1/changes?limit=500", token: tok})

	secrets := []string{apiToken, apiPass, apiHeader, secretToken, secretPass, secretHeader, tok, e.otherToken, operatorToken}
	for i, r := range e.seen {
		text := string(r.body) + fmt.Sprint(r.header)
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("response %d holds the credential %q: %s", i, s, text)
			}
		}
		if i != rotation && signing != "" && strings.Contains(text, strings.TrimPrefix(signing, "whsec_")) {
			t.Errorf("response %d holds the rotated signing secret: %s", i, text)
		}
	}
	logs := e.logs.String()
	for _, s := range append(secrets, strings.TrimPrefix(signing, "whsec_")) {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the credential %q", s)
		}
	}
	if len(e.seen) < 40 || signing == "" {
		t.Errorf("only %d responses checked (signing secret %q)", len(e.seen), signing)
	}
}
