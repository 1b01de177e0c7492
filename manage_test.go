package webhook

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// testManageOneWebhook: create, read, partial update (write-only secrets
// kept), events, ETag preconditions, test send, secret rotation and
// delete, each recorded in the change log without a secret value.
func testManageOneWebhook(t *testing.T, tdb *testDB) {
	var mu sync.Mutex
	var got []*http.Request
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		got = append(got, r.Clone(r.Context()))
		mu.Unlock()
	})
	c := newTestClient(t, tdb, Config{RetryPolicy: noRetries})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	shop := Scope{"shop", "s1"}
	opts := ChangeOptions{Actor: "api:alice"}
	wh := WebhookConfig{Code: "erp", Name: "ERP", Endpoint: rc.URL + "/erp",
		Auth: &Auth{Type: "basic", Username: "svc", Password: "pa55-w0rd-secret"}, Headers: []Header{{Key: "X-Key", Value: "hdr-secret-1"}}}

	info, err := c.CreateWebhook(ctx, shop, wh, []string{"template_update"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if info.Code != "erp" || !reflect.DeepEqual(info.Events, []string{"template_update"}) || info.ETag == "" || !info.HasPassword || info.AuthType != "basic" || info.AuthUsername != "svc" {
		t.Errorf("created: %+v", info)
	}
	if _, err := c.CreateWebhook(ctx, shop, wh, nil, opts); !errors.Is(err, ErrWebhookExists) {
		t.Errorf("a second create: %v, want ErrWebhookExists", err)
	}
	if _, err := c.CreateWebhook(ctx, shop, WebhookConfig{Code: "x", Name: "x", Endpoint: "ftp://x"}, nil, opts); !errors.Is(err, ErrInvalidWebhook) {
		t.Errorf("an invalid endpoint: %v", err)
	}
	if _, err := c.CreateWebhook(ctx, shop, WebhookConfig{Code: "y", Name: "y", Endpoint: rc.URL}, []string{"nope"}, opts); !errors.Is(err, ErrInvalidSubscription) {
		t.Errorf("an unknown event: %v", err)
	}
	read, err := c.Webhook(ctx, shop, "erp")
	if err != nil || read.ETag != info.ETag || !reflect.DeepEqual(read.Events, info.Events) {
		t.Errorf("Webhook: %+v %v", read, err)
	}
	if _, err := c.Webhook(ctx, shop, "nope"); !errors.Is(err, ErrWebhookNotFound) {
		t.Errorf("an unknown webhook: %v", err)
	}

	// A partial update keeps the rest, the secrets included.
	name := "ERP v2"
	timeout := 3 * time.Second
	user := "svc2"
	headers := []Header{{Key: "X-Key"}, {Key: "X-New", Value: "hdr-secret-2"}}
	events := []string{"template_update", "template_create"}
	up, err := c.UpdateWebhook(ctx, shop, "erp", WebhookPatch{Name: &name, Timeout: &timeout, Auth: &Auth{Type: "basic", Username: user},
		Headers: &headers, Events: &events}, ChangeOptions{Actor: "api:bob", IfMatch: read.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != name || up.Timeout != timeout || up.ETag == read.ETag || !reflect.DeepEqual(up.Events, []string{"template_create", "template_update"}) {
		t.Errorf("updated: %+v", up)
	}
	stored, err := c.ScopeWebhooks(ctx, "shop", "s1")
	if err != nil || len(stored) != 1 {
		t.Fatal(stored, err)
	}
	if s := stored[0]; s.Auth.Username != user || s.Auth.Password != "pa55-w0rd-secret" || len(s.Headers) != 2 || s.Headers[0].Value != "hdr-secret-1" || s.Headers[1].Value != "hdr-secret-2" || s.Endpoint != wh.Endpoint {
		t.Errorf("after the patch the stored webhook is %+v", s)
	}
	// A stale ETag changes nothing.
	other := "stale"
	if _, err := c.UpdateWebhook(ctx, shop, "erp", WebhookPatch{Name: &other}, ChangeOptions{IfMatch: read.ETag}); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("a stale If-Match: %v", err)
	}
	if now, _ := c.Webhook(ctx, shop, "erp"); now.Name != name || now.ETag != up.ETag {
		t.Errorf("a refused update changed the webhook: %+v", now)
	}
	if _, err := c.UpdateWebhook(ctx, shop, "erp", WebhookPatch{Headers: &[]Header{{Key: "X-Unknown"}}}, opts); !errors.Is(err, ErrInvalidWebhook) {
		t.Errorf("keeping a header value that is not stored: %v", err)
	}

	// A test event reaches the endpoint with its credentials and is recorded.
	res, err := c.SendTestEvent(ctx, shop, "erp", opts)
	if err != nil || !res.Success || res.StatusCode != 200 {
		t.Fatalf("SendTestEvent: %+v %v", res, err)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Header.Get("X-New") != "hdr-secret-2" || got[0].Header.Get("Authorization") == "" {
		t.Errorf("the test request: %v", got)
	}
	mu.Unlock()
	hist, err := c.History(ctx, HistoryQuery{DeliveryID: res.DeliveryID})
	if err != nil || len(hist) != 1 || hist[0].EventCode != TestEventCode || !hist[0].Success {
		t.Errorf("history of the test: %+v %v", hist, err)
	}

	// Rotation and deletion.
	secret, err := c.RotateWebhookSecret(ctx, shop, "erp", time.Hour, ChangeOptions{Actor: "portal:shop/s1"})
	if err != nil || !strings.HasPrefix(secret, SigningSecretPrefix) {
		t.Fatalf("rotate: %q %v", secret, err)
	}
	if _, err := c.Enqueue(ctx, "template_update", []Scope{shop}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWebhook(ctx, shop, "erp", ChangeOptions{Actor: "api:alice", IfMatch: "\"0\""}); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("delete with a stale If-Match: %v", err)
	}
	if err := c.DeleteWebhook(ctx, shop, "erp", opts); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Webhook(ctx, shop, "erp"); !errors.Is(err, ErrWebhookNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if subs, _ := c.ScopeSubscriptions(ctx, "shop", "s1"); len(subs) != 0 {
		t.Errorf("subscriptions left: %v", subs)
	}
	if ds, _ := c.Deliveries(ctx, DeliveryQuery{QueuedOnly: true}); len(ds) != 1 || ds[0].Status != StatusCancelled {
		t.Errorf("the pending delivery after delete: %+v", ds)
	}
	if h, _ := c.History(ctx, HistoryQuery{WebhookCode: "erp"}); len(h) != 1 {
		t.Errorf("history after delete: %d rows, want it kept", len(h))
	}

	// The change log: who, what, never a secret.
	log, err := c.WebhookChanges(ctx, WebhookChangeQuery{Scope: shop, WebhookCode: "erp"})
	if err != nil {
		t.Fatal(err)
	}
	var actions, actors []string
	for _, e := range log {
		actions = append(actions, e.Action)
		actors = append(actors, e.Actor)
		for _, secret := range []string{"pa55-w0rd-secret", "hdr-secret-1", "hdr-secret-2", secret} {
			if strings.Contains(string(e.Changes), secret) {
				t.Errorf("change %s records a secret: %s", e.Action, e.Changes)
			}
		}
	}
	if want := []string{ChangeDelete, ChangeRotateSecret, ChangeTest, ChangeUpdate, ChangeCreate}; !reflect.DeepEqual(actions, want) {
		t.Errorf("change log actions %v, want %v", actions, want)
	}
	if actors[3] != "api:bob" || actors[1] != "portal:shop/s1" {
		t.Errorf("actors %v", actors)
	}
	var upd map[string]map[string]any
	if err := json.Unmarshal(log[3].Changes, &upd); err != nil {
		t.Fatal(err)
	}
	if upd["name"]["to"] != name || upd["auth"]["changed"] != true || upd["header_keys"] == nil || upd["events"] == nil || upd["timeout"]["to"] != "3s" {
		t.Errorf("the update's changes: %s", log[3].Changes)
	}
}

// testConcurrentUpdatesLoseNothing: two clients (two instances) patching
// different fields of one webhook at once keep both changes; two updates
// from the same ETag cannot both succeed.
func testConcurrentUpdatesLoseNothing(t *testing.T, tdb *testDB) {
	a := newTestClient(t, tdb, Config{})
	b := newClientOn(t, a.DB(), Config{})
	mustSync(t, a, twoEvents)
	ctx := testCtx(t)
	shop := Scope{"shop", "s1"}
	if _, err := a.CreateWebhook(ctx, shop, WebhookConfig{Code: "erp", Name: "ERP", Endpoint: "https://erp.example.com/hooks"}, nil, ChangeOptions{}); err != nil {
		t.Fatal(err)
	}
	const rounds = 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for i := range rounds {
		wg.Add(2)
		go func() {
			defer wg.Done()
			name := "name-" + string(rune('a'+i))
			_, err := a.UpdateWebhook(ctx, shop, "erp", WebhookPatch{Name: &name}, ChangeOptions{Actor: "a"})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			retries := i + 1
			_, err := b.UpdateWebhook(ctx, shop, "erp", WebhookPatch{RetryTimes: &retries}, ChangeOptions{Actor: "b"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	final, err := a.Webhook(ctx, shop, "erp")
	if err != nil {
		t.Fatal(err)
	}
	log, err := a.WebhookChanges(ctx, WebhookChangeQuery{WebhookCode: "erp", Limit: 100})
	if err != nil || len(log) != 2*rounds+1 {
		t.Fatalf("%d change log entries, want %d (%v)", len(log), 2*rounds+1, err)
	}
	// The change log is in commit order. The last change of each writer
	// must be what is stored: a writer that wrote back a stale copy of the
	// other's field would leave something else.
	lastTo := func(actor, field string) any {
		for _, e := range log { // newest first
			if e.Actor != actor {
				continue
			}
			var ch map[string]map[string]any
			if err := json.Unmarshal(e.Changes, &ch); err != nil || ch[field] == nil {
				t.Fatalf("change %d of %s: %s %v", e.ID, actor, e.Changes, err)
			}
			return ch[field]["to"]
		}
		return nil
	}
	if want := lastTo("a", "name"); final.Name != want {
		t.Errorf("stored name %q, but a's last change set %v: an update was lost", final.Name, want)
	}
	if want := lastTo("b", "retry_times"); float64(final.RetryTimes) != want {
		t.Errorf("stored retry_times %d, but b's last change set %v: an update was lost", final.RetryTimes, want)
	}

	// Two writers from one read: one wins, the other is told.
	etag := final.ETag
	x, y := "x", "y"
	_, errX := a.UpdateWebhook(ctx, shop, "erp", WebhookPatch{Name: &x}, ChangeOptions{IfMatch: etag})
	_, errY := b.UpdateWebhook(ctx, shop, "erp", WebhookPatch{Name: &y}, ChangeOptions{IfMatch: etag})
	if errX != nil || !errors.Is(errY, ErrPreconditionFailed) {
		t.Errorf("two updates from one ETag: %v, %v", errX, errY)
	}
}

// testPythonWebhookEditedThroughTheAPI: a webhook the Python package wrote,
// edited one field at a time, keeps what the Python package reads: its
// credentials stay Fernet tokens under its key (LegacyFernet) and its
// other settings stay as they were.
func testPythonWebhookEditedThroughTheAPI(t *testing.T, tdb *testDB) {
	c := openFixture(t, tdb, nil, Config{LegacyFernet: true})
	ctx := testCtx(t)
	before, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	var basic WebhookConfig
	for _, w := range before {
		if w.Auth != nil && strings.EqualFold(w.Auth.Type, "basic") {
			basic = w
		}
	}
	if basic.Code == "" {
		t.Fatal("the fixture has no basic-auth webhook")
	}
	name := "renamed through the API"
	if _, err := c.UpdateWebhook(ctx, Scope{"biz", "biz1"}, basic.Code, WebhookPatch{Name: &name}, ChangeOptions{Actor: "api:test"}); err != nil {
		t.Fatal(err)
	}
	var row webhookRow
	if err := c.DB().Where("scope_type = ? AND scope_code = ? AND code = ?", "biz", "biz1", basic.Code).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	se, err := parseStoredExtra(row.ExtraInfo)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := specFernetDecrypt(t, pythonFernetKey(fixtureSecret), *se.Authorization.Password)
	if err != nil || string(plain) != basic.Auth.Password {
		t.Errorf("the password is no longer what the Python package reads: %q %v", plain, err)
	}
	after, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if after[i].Code == basic.Code {
			after[i].Name = basic.Name
			if !reflect.DeepEqual(after[i], basic) {
				t.Errorf("besides its name the webhook changed:\nbefore %+v\nafter  %+v", basic, after[i])
			}
		}
	}
}
