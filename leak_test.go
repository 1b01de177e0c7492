package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// No credential leaves the vault: recognisable secrets go through every
// path (success, failures and retries, an undecryptable credential, the
// durable path, VerifyEndpoint, an echoing receiver), and none appears in
// history, in any log line (debug level, captured), or in any error.
func testNoSecretLeavesTheVault(t *testing.T, tdb *testDB) {
	const (
		token      = "LEAK-token-7c1e"
		password   = "LEAK-password-93af"
		headerVal  = "LEAK-header-55d0"
		privSecret = "LEAK-private-secret-0b6e"
	)
	signing, _ := NewSigningSecret()
	secrets := []string{token, password, headerVal, privSecret, signing, strings.TrimPrefix(signing, SigningSecretPrefix),
		base64.StdEncoding.EncodeToString([]byte("alice:" + password))}

	var calls sync.Map
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		// Echo every header back, as a debugging endpoint might; fail the
		// first request of each path to force a retry.
		n, _ := calls.LoadOrStore(r.URL.Path, new(atomic.Int32))
		count := n.(*atomic.Int32).Add(1)
		var echo strings.Builder
		for k, v := range r.Header {
			echo.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
		if count == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write([]byte(echo.String()))
	})
	logs := &syncBuffer{}
	var hookErrors []string
	var mu sync.Mutex
	cfg := Config{
		PrivateSecret: privSecret,
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryPolicy: func(attempt int, _ *WebhookConfig, _ *AttemptResult, _ time.Duration) (bool, time.Duration) {
			return attempt < 2, time.Millisecond
		},
		PollInterval: 5 * time.Millisecond,
		Hooks: Hooks{AfterAttempt: func(_ context.Context, a *AttemptInfo, r *AttemptResult) {
			mu.Lock()
			defer mu.Unlock()
			hookErrors = append(hookErrors, a.Header.Get("Authorization"), a.Header.Get("X-Secret"), string(r.ResponseBody))
			if r.Err != nil {
				hookErrors = append(hookErrors, r.Err.Error())
			}
		}},
	}
	c := newTestClient(t, tdb, cfg)
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	hooks := []WebhookConfig{
		{Code: "bearer", Name: "bearer", Endpoint: rc.URL + "/bearer", RetryTimes: 1, Auth: &Auth{Type: "bearer", Token: token},
			Headers: []Header{{Key: "X-Secret", Value: headerVal}}, SigningSecrets: []string{signing}},
		{Code: "basic", Name: "basic", Endpoint: rc.URL + "/basic", RetryTimes: 1, Auth: &Auth{Type: "basic", Username: "alice", Password: password}},
		{Code: "broken", Name: "broken", Endpoint: rc.URL + "/broken", Auth: &Auth{Type: "bearer", Token: token}},
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "leak", hooks); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "leak", map[string][]string{"bearer": {"*"}, "basic": {"*"}, "broken": {"*"}}); err != nil {
		t.Fatal(err)
	}
	// Make one credential undecryptable: written under another secret.
	other, _ := New(c.DB(), Config{PrivateSecret: "another-secret-entirely"})
	if err := other.ApplyScopeWebhooks(ctx, "biz", "lost", []WebhookConfig{{Code: "broken", Name: "broken", Endpoint: rc.URL + "/lost", Auth: &Auth{Type: "bearer", Token: token}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "lost", map[string][]string{"broken": {"*"}}); err != nil {
		t.Fatal(err)
	}

	var errs []string
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "leak"}, {"biz", "lost"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Deliveries {
		if d.Err != nil {
			errs = append(errs, d.Err.Error())
		}
	}
	if _, err := c.Enqueue(ctx, "template_create", []Scope{{"biz", "leak"}, {"biz", "lost"}}, nil); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, c)
	waitFor(t, "the durable deliveries", 20*time.Second, func() bool {
		return deliveriesByStatus(t, c)[StatusPending] == 0
	})
	for _, wh := range hooks[:2] {
		if d, err := c.VerifyEndpoint(ctx, WebhookConfig{Code: "v", Name: "v", Endpoint: rc.URL + "/verify-" + wh.Code, Auth: wh.Auth}); err != nil {
			errs = append(errs, err.Error(), d.Err.Error())
		}
	}
	wrong, _ := New(c.DB(), Config{PrivateSecret: "a-wrong-private-secret"})
	if _, err := wrong.ScopeWebhooks(ctx, "biz", "leak"); err != nil {
		errs = append(errs, err.Error())
	} else {
		t.Error("a wrong secret decrypted the credentials")
	}
	if _, err := wrong.ReencryptCredentials(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	for _, d := range deliveryRows(t, c) {
		if d.LastError != nil {
			errs = append(errs, *d.LastError)
		}
	}
	if len(errs) < 4 {
		t.Fatalf("the test made too few failures to mean anything: %q", errs)
	}

	hist, _ := c.History(ctx, HistoryQuery{Limit: 1000})
	if len(hist) < 8 {
		t.Fatalf("%d history rows: the paths did not run", len(hist))
	}
	var recorded strings.Builder
	for _, h := range hist {
		recorded.Write(h.ExtraInfo)
		recorded.WriteString(h.Error)
	}
	var raw []historyRow
	c.DB().Find(&raw)
	for _, r := range raw {
		recorded.Write(r.ExtraInfo)
	}
	var rawWebhooks []webhookRow
	c.DB().Find(&rawWebhooks)
	for _, r := range rawWebhooks {
		recorded.Write(r.ExtraInfo)
	}
	mu.Lock()
	places := map[string]string{
		"history and stored webhooks": recorded.String(),
		"logs":                        logs.String(),
		"errors":                      strings.Join(errs, "\n"),
		"hooks":                       strings.Join(hookErrors, "\n"),
	}
	mu.Unlock()
	for where, text := range places {
		if text == "" {
			t.Errorf("nothing captured in %s", where)
		}
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s contain the secret %q", where, secret)
			}
		}
	}
	// The receivers did get the credentials: the test would be empty otherwise.
	got := rc.requests()
	var sent strings.Builder
	for _, r := range got {
		sent.WriteString(r.Header.Get("Authorization") + r.Header.Get("X-Secret"))
	}
	for _, want := range []string{token, headerVal} {
		if !strings.Contains(sent.String(), want) {
			t.Errorf("the receiver never got %q", want)
		}
	}
}

// An oversized body fails its delivery, is not retried, and Enqueue
// refuses it up front.
func testMaxPayloadBytes(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{MaxPayloadBytes: 1024})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, RetryTimes: 3})
	ctx := testCtx(t)
	big := map[string]any{"blob": strings.Repeat("x", 2000)}
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, big)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deliveries[0]
	if d.Success || !strings.Contains(d.Err.Error(), "MaxPayloadBytes") || d.Attempts != 1 || len(rc.requests()) != 0 {
		t.Errorf("oversized broadcast: %+v, %d requests", d, len(rc.requests()))
	}
	if _, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, big); err == nil || !strings.Contains(err.Error(), "nothing was enqueued") {
		t.Errorf("oversized Enqueue: %v", err)
	}
	if n := len(deliveryRows(t, c)); n != 0 {
		t.Errorf("%d deliveries enqueued", n)
	}
	if res, _ := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, map[string]any{"small": 1}); !res.Deliveries[0].Success {
		t.Errorf("a small body: %+v", res.Deliveries[0])
	}
}
