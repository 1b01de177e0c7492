package webhook

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
)

// Several instances starting at once all run Migrate: none fails, and the
// schema is the one a single Migrate makes (no duplicate index).
func testConcurrentMigrate(t *testing.T, tdb *testDB) {
	db := tdb.open(t)
	const instances = 4
	clients := make([]*Client, instances)
	for i := range clients {
		pool := db
		if i > 0 {
			pool = tdb.another(t, db)
		}
		clients[i] = newClientOn(t, pool, Config{})
	}
	start := make(chan struct{})
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = c.Migrate(testCtx(t))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Migrate: %v", i, err)
		}
	}
	single := tdb.open(t)
	if err := newClientOn(t, single, Config{}).Migrate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	got, want := schemaSnapshot(t, db), schemaSnapshot(t, single)
	if len(got) != len(want) {
		t.Errorf("concurrent Migrate made %d schema objects, a single one %d", len(got), len(want))
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("concurrent Migrate lacks %s", name)
		}
	}
}

// Two instances (two connection pools) broadcast and rewrite the scope's
// configuration at the same time: no error, no deadlock, every attempt in
// history, no duplicate webhook or subscription row.
func testConcurrentBroadcastAndApply(t *testing.T, tdb *testDB) {
	var received atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	a := newTestClient(t, tdb, Config{})
	b := newClientOn(t, tdb.another(t, a.DB()), Config{PrivateSecret: testSecret})
	ctx := testCtx(t)
	mustSync(t, a, twoEvents)
	const hooks = 5
	configs := func(name string) []WebhookConfig {
		var out []WebhookConfig
		for i := range hooks {
			code := fmt.Sprintf("hook%d", i)
			out = append(out, WebhookConfig{
				Code: code, Name: name + code, Endpoint: rc.URL + "/" + code,
				Auth: &Auth{Type: "bearer", Token: "token-" + name},
			})
		}
		return out
	}
	subs := func(event string) map[string][]string {
		m := map[string][]string{}
		for i := range hooks {
			m[fmt.Sprintf("hook%d", i)] = []string{event}
		}
		return m
	}
	if err := a.ApplyScopeWebhooks(ctx, "biz", "busy", configs("x")); err != nil {
		t.Fatal(err)
	}
	if err := a.ApplyScopeSubscriptions(ctx, "biz", "busy", subs(AllEvents)); err != nil {
		t.Fatal(err)
	}

	const broadcasters, perBroadcaster, appliers, perApplier = 6, 15, 2, 15
	var attempts atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, broadcasters*perBroadcaster+appliers*perApplier*2)
	for g := range broadcasters {
		c := []*Client{a, b}[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perBroadcaster {
				res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "busy"}}, map[string]any{"g": g})
				if err != nil {
					errc <- fmt.Errorf("broadcast: %w", err)
					continue
				}
				if res.HistoryErr != nil {
					errc <- fmt.Errorf("history: %w", res.HistoryErr)
				}
				if len(res.Deliveries) != hooks {
					errc <- fmt.Errorf("a broadcast reached %d webhooks, want %d (a half-applied configuration was visible)", len(res.Deliveries), hooks)
				}
				for _, d := range res.Deliveries {
					attempts.Add(int64(d.Attempts))
					if !d.Success {
						errc <- fmt.Errorf("delivery to %s failed: %v", d.WebhookCode, d.Err)
					}
				}
			}
		}()
	}
	for g := range appliers {
		c := []*Client{a, b}[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perApplier {
				name, event := "x", AllEvents
				if i%2 == 1 {
					name, event = "y", "template_update"
				}
				if err := c.ApplyScopeWebhooks(ctx, "biz", "busy", configs(name)); err != nil {
					errc <- fmt.Errorf("apply webhooks: %w", err)
				}
				if err := c.ApplyScopeSubscriptions(ctx, "biz", "busy", subs(event)); err != nil {
					errc <- fmt.Errorf("apply subscriptions: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}

	var historyRows int64
	a.DB().Model(&historyRow{}).Where("event_code = ?", "template_update").Count(&historyRows)
	if historyRows != attempts.Load() || received.Load() != attempts.Load() {
		t.Errorf("attempts %d, history rows %d, requests received %d: want all equal", attempts.Load(), historyRows, received.Load())
	}
	if want := int64(broadcasters * perBroadcaster * hooks); attempts.Load() != want {
		t.Errorf("%d attempts, want %d", attempts.Load(), want)
	}
	var dupWebhooks, dupSubs []struct{ Code string }
	a.DB().Raw("SELECT code FROM webhook_webhook GROUP BY scope_type, scope_code, code HAVING COUNT(*) > 1").Scan(&dupWebhooks)
	a.DB().Raw("SELECT webhook_code AS code FROM webhook_subscription GROUP BY scope_type, scope_code, webhook_code, event_code HAVING COUNT(*) > 1").Scan(&dupSubs)
	if len(dupWebhooks) > 0 || len(dupSubs) > 0 {
		t.Errorf("duplicate rows: webhooks %v, subscriptions %v", dupWebhooks, dupSubs)
	}
	var n int64
	a.DB().Model(&webhookRow{}).Count(&n)
	if n != hooks {
		t.Errorf("%d webhook rows, want %d", n, hooks)
	}
}

// With LegacyFernet, what the library writes is a valid Fernet token under
// the Python package's key derivation, checked by an independent decoder.
func testLegacyFernetWritesWhatPythonReads(t *testing.T, tdb *testDB) {
	c := openFixture(t, tdb, nil, Config{LegacyFernet: true})
	ctx := testCtx(t)
	whs, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	whs[0].Auth.Token = "rotated-token-456"
	whs[1].Auth.Password = "n3w-pässword"
	whs[1].Headers = append(whs[1].Headers, Header{Key: "X-Extra", Value: "extra-value"})
	if err := c.ApplyScopeWebhooks(ctx, "biz", "biz1", whs); err != nil {
		t.Fatal(err)
	}
	var rows []webhookRow
	if err := c.DB().Where("scope_type = ? AND scope_code = ?", "biz", "biz1").Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	key := pythonFernetKey(fixtureSecret)
	decode := func(what string, stored *string) string {
		t.Helper()
		if stored == nil {
			t.Fatalf("%s is not stored", what)
		}
		plain, _, err := specFernetDecrypt(t, key, *stored)
		if err != nil {
			t.Fatalf("%s = %q is not a Fernet token under the Python key: %v", what, *stored, err)
		}
		return string(plain)
	}
	bearer, _ := parseStoredExtra(rows[0].ExtraInfo)
	basic, _ := parseStoredExtra(rows[1].ExtraInfo)
	got := []string{
		decode("wh_bearer token", bearer.Authorization.Token),
		decode("wh_basic password", basic.Authorization.Password),
		decode("wh_basic X-Team", basic.Headers[0].Value),
		decode("wh_basic X-Extra", basic.Headers[1].Value),
	}
	want := []string{"rotated-token-456", "n3w-pässword", "payments", "extra-value"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %q, want %q", got, want)
	}
	if _, err := base64.URLEncoding.DecodeString(*bearer.Authorization.Token); err != nil {
		t.Errorf("token is not urlsafe base64 with padding, as Python's Fernet writes: %v", err)
	}
}
