package webhook

import (
	"net/http"
	"testing"
	"time"
)

// testResolveCacheBoundsStaleness: Broadcast reuses what it resolved for
// Config.ResolveCacheTTL. A change through the same Client is seen by the
// next Broadcast; a change by another instance (or the Python package)
// within the TTL, never later; with the cache off, at once.
func testResolveCacheBoundsStaleness(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(http.ResponseWriter, *http.Request, []byte) {})
	const ttl = time.Second
	a := newTestClient(t, tdb, Config{ResolveCacheTTL: ttl})
	oneWebhook(t, a, WebhookConfig{Endpoint: rc.URL})
	b := newClientOn(t, tdb.another(t, a.DB()), Config{})
	off := newClientOn(t, tdb.another(t, a.DB()), Config{ResolveCacheTTL: -1})
	ctx := testCtx(t)
	sent := func(c *Client) int {
		t.Helper()
		res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Deliveries)
	}
	if n := sent(a); n != 1 {
		t.Fatalf("first broadcast reached %d webhooks, want 1", n)
	}
	// Through the same client: seen by the next Broadcast.
	if err := a.SetWebhookEnabled(ctx, "biz", "one", "hook", false); err != nil {
		t.Fatal(err)
	}
	if n := sent(a); n != 0 {
		t.Fatalf("after disabling through the same client, a broadcast reached %d webhooks, want 0", n)
	}
	if err := a.SetWebhookEnabled(ctx, "biz", "one", "hook", true); err != nil {
		t.Fatal(err)
	}
	if n := sent(a); n != 1 {
		t.Fatalf("after enabling through the same client, a broadcast reached %d webhooks, want 1", n)
	}
	// Through another instance: seen within the TTL, at once with the cache off.
	changed := time.Now()
	if err := b.SetWebhookEnabled(ctx, "biz", "one", "hook", false); err != nil {
		t.Fatal(err)
	}
	if n := sent(off); n != 0 {
		t.Fatalf("with the cache off, a broadcast after another instance disabled the webhook reached %d, want 0", n)
	}
	// What a read just before resolved still serves: the cache is in use.
	if n := sent(a); n != 1 && time.Since(changed) < ttl/2 {
		t.Fatalf("right after another instance disabled the webhook, a broadcast reached %d webhooks: want 1, from the cache", n)
	}
	deadline := changed.Add(ttl)
	time.Sleep(time.Until(deadline) + time.Millisecond)
	if n := sent(a); n != 0 {
		t.Fatalf("%s after another instance disabled the webhook (TTL %s), a broadcast reached %d webhooks, want 0", time.Since(changed).Round(time.Millisecond), ttl, n)
	}
	// Subscriptions too.
	if err := b.SetWebhookEnabled(ctx, "biz", "one", "hook", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl)
	if n := sent(a); n != 1 {
		t.Fatalf("a TTL after another instance enabled the webhook, a broadcast reached %d, want 1", n)
	}
	if err := b.ApplyScopeSubscriptions(ctx, "biz", "one", map[string][]string{"hook": {"template_create"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl)
	if n := sent(a); n != 0 {
		t.Fatalf("a TTL after another instance unsubscribed the webhook, a broadcast reached %d, want 0", n)
	}
}
