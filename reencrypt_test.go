package webhook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testReencryptCredentials(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	// Webhooks written by the Python package (Fernet under its secret).
	old := openFixture(t, tdb, nil, Config{})
	db := old.DB()
	before, err := old.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil {
		t.Fatal(err)
	}
	// One more webhook with a plain-text header value, as a hand-made row
	// might hold, and one whose token no secret decrypts.
	signing, _ := NewSigningSecret()
	if err := old.ApplyScopeWebhooks(ctx, "biz", "biz3", []WebhookConfig{{Code: "x", Name: "x", Endpoint: "https://example.com/x", SigningSecrets: []string{signing}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(`UPDATE webhook_webhook SET extra_info = ? WHERE scope_code = ? AND code = ?`,
		`{"headers": [{"key": "X-Plain", "value": "plain-header-value"}], "authorization": {"type": "bearer", "token": "gAAAAABrCJeZp1_-1nbSruJ8Sr3NeMFV1Q6ldB0ycD_2Zk8qWAvZckqB-hU5Dg_TDwfdFXWRf4af8dtdQ4TpLzmdbrx5aPWx8w=="}}`,
		"biz2", "wh_bearer").Error; err != nil {
		t.Fatal(err)
	}
	stranger, _ := New(db, Config{PrivateSecret: "someone-elses-private-secret"})
	if err := stranger.ApplyScopeWebhooks(ctx, "biz", "lost", []WebhookConfig{{Code: "lost", Name: "lost", Endpoint: "https://example.com/", Auth: &Auth{Type: "bearer", Token: "unrecoverable"}}}); err != nil {
		t.Fatal(err)
	}

	rotated := newClientOn(t, db, Config{PrivateSecret: "the-new-private-secret", OldPrivateSecrets: []string{fixtureSecret}})
	res, err := rotated.ReencryptCredentials(ctx)
	if !errors.Is(err, ErrDecrypt) || len(res.Failed) != 1 || res.Failed[0] != "biz/lost/lost" {
		t.Fatalf("ReencryptCredentials = %+v, %v; want one failure, biz/lost/lost, ErrDecrypt", res, err)
	}
	if strings.Contains(err.Error(), "unrecoverable") {
		t.Errorf("the error leaks a credential: %v", err)
	}
	if res.Rewritten != 4 { // wh_bearer, wh_basic (biz1), wh_bearer (biz2), x (biz3)
		t.Errorf("rewritten %d webhooks, want 4 (result %+v)", res.Rewritten, res)
	}
	// Only the new secret is needed now, and every value is in its format.
	fresh := newClientOn(t, db, Config{PrivateSecret: "the-new-private-secret"})
	after, err := fresh.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("after re-encryption: %v\n%+v\n%+v", err, after, before)
	}
	if whs, err := fresh.ScopeWebhooks(ctx, "biz", "biz3"); err != nil || whs[0].SigningSecrets[0] != signing {
		t.Errorf("signing secret after re-encryption: %v", err)
	}
	if whs, err := fresh.ScopeWebhooks(ctx, "biz", "biz2"); err != nil || whs[0].Headers[0].Value != "plain-header-value" || whs[0].Auth.Token != "tok-shared-123" {
		t.Errorf("biz2 after re-encryption: %+v, %v", whs, err)
	}
	var rows []webhookRow
	db.Where("scope_code <> ?", "lost").Find(&rows)
	for _, r := range rows {
		for _, leftover := range []string{"gAAAAA", "plain-header-value"} {
			if strings.Contains(string(r.ExtraInfo), leftover) {
				t.Errorf("%s/%s still holds %q: %s", r.ScopeCode, r.Code, leftover, r.ExtraInfo)
			}
		}
	}
	// Idempotent: a second run rewrites nothing.
	res2, _ := rotated.ReencryptCredentials(ctx)
	if res2.Rewritten != 0 || res2.Webhooks != res.Webhooks {
		t.Errorf("second run: %+v", res2)
	}
}
