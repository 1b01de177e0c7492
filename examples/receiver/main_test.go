package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The library signs, the receiver verifies: a webhook with the right secret
// is accepted, one with another secret is refused.
func TestReceiverVerifiesWhatTheLibrarySigns(t *testing.T) {
	secret, _ := webhook.NewSigningSecret()
	other, _ := webhook.NewSigningSecret()
	out := &lockedBuffer{}
	srv := httptest.NewServer(newHandler([]string{secret}, out))
	defer srv.Close()

	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "r.db")+"?_busy_timeout=5000&_journal_mode=WAL"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := webhook.New(db, webhook.Config{PrivateSecret: "receiver-example-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SyncEventsYAML(ctx, "e.yaml", []byte("version: 1\nevents:\n  - {code: order_paid, name: Order paid}\n"), webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.ApplyScopeWebhooks(ctx, "shop", "s1", []webhook.WebhookConfig{
		{Code: "good", Name: "good", Endpoint: srv.URL, SigningSecrets: []string{secret}},
		{Code: "bad", Name: "bad", Endpoint: srv.URL, SigningSecrets: []string{other}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "s1", map[string][]string{"good": {"*"}, "bad": {"*"}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "order_paid", []webhook.Scope{{Type: "shop", Code: "s1"}}, map[string]any{"order": 42})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Deliveries {
		switch d.WebhookCode {
		case "good":
			if !d.Success || d.StatusCode != 204 {
				t.Errorf("correctly signed delivery: %+v", d)
			}
		case "bad":
			if d.Success || d.StatusCode != 401 {
				t.Errorf("wrongly signed delivery: %+v", d)
			}
		}
	}
	if got := out.String(); strings.Count(got, "event order_paid") != 1 || !strings.Contains(got, "map[order:42]") {
		t.Errorf("receiver printed %q", got)
	}
}
