package main

import (
	"context"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
)

// TestChangesShowsWhoChangedWhat: a change made through the library's
// one-webhook calls is listed with its actor and fields, never a secret.
func TestChangesShowsWhoChangedWhat(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	c := libClient(t, f, webhook.Config{})
	name := "renamed by alice"
	token := "new-token-value-1234"
	if _, err := c.UpdateWebhook(context.Background(), webhook.Scope{Type: "biz", Code: "biz1"}, "wh_ok",
		webhook.WebhookPatch{Name: &name, Auth: &webhook.Auth{Type: "bearer", Token: token}}, webhook.ChangeOptions{Actor: "api:alice"}); err != nil {
		t.Fatal(err)
	}
	res := f.mustRun("changes", "--scope", "biz:biz1")
	if !strings.Contains(res.stdout, "update") || !strings.Contains(res.stdout, "by api:alice") || !strings.Contains(res.stdout, name) || strings.Contains(res.stdout, token) {
		t.Errorf("changes:\n%s", res.stdout)
	}
	if res := f.mustRun("changes", "--webhook", "nope"); !strings.Contains(res.stdout, "no change recorded") {
		t.Errorf("changes of an unknown webhook:\n%s", res.stdout)
	}
}
