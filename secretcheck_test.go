package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testCheckSecret: CheckSecret counts the credentials that decrypt with the
// current secret, with an old one and in plain text, and names (never shows)
// those that do not, with ErrDecrypt; on a database of this library and on
// the Python package's. A credential that does not decrypt is not an
// endpoint failure: it counts neither for health nor for the circuit breaker,
// on either path.
func testCheckSecret(t *testing.T, tdb *testDB) {
	t.Run("RightRotatedWrong", func(t *testing.T) {
		t.Parallel()
		checkSecretRotation(t, tdb)
	})
	t.Run("PythonFixture", func(t *testing.T) {
		t.Parallel()
		checkSecretPythonFixture(t, tdb)
	})
	t.Run("DecryptFailureIsNotAnEndpointFailure", func(t *testing.T) {
		t.Parallel()
		checkDecryptFailureIsNotAnEndpointFailure(t, tdb)
	})
}

// wantNoValues fails when text shows any of values.
func wantNoValues(t *testing.T, what, text string, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s shows the secret value %q:\n%s", what, v, text)
		}
	}
}

// secretCounts is what a CheckSecretResult counts, for comparing in one go.
func secretCounts(r CheckSecretResult) [6]int {
	return [6]int{r.Webhooks, r.Credentials, r.Current, r.Old, r.Plain, len(r.Failures)}
}

// failureFields returns "scope/code: field" for each failure.
func failureFields(r CheckSecretResult) []string {
	var out []string
	for _, f := range r.Failures {
		out = append(out, f.Scope.String()+"/"+f.WebhookCode+": "+f.Field)
	}
	return out
}

func checkSecretRotation(t *testing.T, tdb *testDB) {
	const (
		secretA   = "check-secret-A-before-rotation"
		secretB   = "check-secret-B-after-rotation"
		wrong     = "check-secret-wrong-0000000000"
		token     = "CHECK-token-41a7"
		password  = "CHECK-password-8b2c"
		headerVal = "CHECK-header-0d93"
		plainVal  = "CHECK-plain-header-77e1"
	)
	signing, _ := NewSigningSecret()
	values := []string{token, password, headerVal, plainVal, signing, secretA, secretB, wrong}
	ctx := testCtx(t)
	cA := newTestClient(t, tdb, Config{PrivateSecret: secretA})
	db := cA.DB()
	err := cA.ApplyScopeWebhooks(ctx, "biz", "a", []WebhookConfig{
		{Code: "full", Name: "full", Endpoint: "https://example.com/full", Auth: &Auth{Type: "bearer", Token: token},
			Headers: []Header{{Key: "X-Key", Value: headerVal}, {Key: "X-Empty"}}, SigningSecrets: []string{signing}},
		{Code: "basic", Name: "basic", Endpoint: "https://example.com/basic", Auth: &Auth{Type: "basic", Username: "alice", Password: password}},
		{Code: "none", Name: "none", Endpoint: "https://example.com/none"},
		{Code: "plain", Name: "plain", Endpoint: "https://example.com/plain"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A header value in plain text, as a hand-made row might hold.
	if err := db.Exec(`UPDATE webhook_webhook SET extra_info = ? WHERE code = ?`,
		`{"headers": [{"key": "X-Plain", "value": "`+plainVal+`"}]}`, "plain").Error; err != nil {
		t.Fatal(err)
	}
	check := func(name string, c *Client, want [6]int, wantFailed []string) CheckSecretResult {
		t.Helper()
		res, err := c.CheckSecret(ctx)
		if got := secretCounts(res); got != want {
			t.Errorf("%s: CheckSecret counts [webhooks credentials current old plain failures] = %v, want %v", name, got, want)
		}
		if got := failureFields(res); !reflect.DeepEqual(got, wantFailed) {
			t.Errorf("%s: failures %q, want %q", name, got, wantFailed)
		}
		switch {
		case len(wantFailed) == 0 && (err != nil || !res.OK()):
			t.Errorf("%s: CheckSecret error = %v, OK %v; want nil, true", name, err, res.OK())
		case len(wantFailed) > 0 && (!errors.Is(err, ErrDecrypt) || res.OK()):
			t.Errorf("%s: CheckSecret error = %v, OK %v; want ErrDecrypt, false", name, err, res.OK())
		}
		for _, f := range res.Failures {
			if !errors.Is(f.Err, ErrDecrypt) {
				t.Errorf("%s: failure %+v does not wrap ErrDecrypt", name, f)
			}
		}
		text := fmt.Sprintf("%+v %v", res, err)
		wantNoValues(t, name, text, values...)
		return res
	}

	// The right secret: everything but the plain-text value is current.
	check("right secret", cA, [6]int{4, 5, 4, 0, 1, 0}, nil)

	// Rotated: B is current, A old; new credentials are written under B.
	rotated := newClientOn(t, db, Config{PrivateSecret: secretB, OldPrivateSecrets: []string{"an-unrelated-old-secret", secretA}})
	check("rotated", rotated, [6]int{4, 5, 0, 4, 1, 0}, nil)
	if err := rotated.ApplyScopeWebhooks(ctx, "biz", "b", []WebhookConfig{{Code: "new", Name: "new", Endpoint: "https://example.com/new", Auth: &Auth{Type: "bearer", Token: token}}}); err != nil {
		t.Fatal(err)
	}
	check("rotated, one webhook added", rotated, [6]int{5, 6, 1, 4, 1, 0}, nil)

	// B alone, before re-encryption: what A wrote fails, named by field.
	onlyB := newClientOn(t, db, Config{PrivateSecret: secretB})
	aFields := []string{"biz/a/full: auth token", `biz/a/full: header "X-Key"`, "biz/a/full: signing secret 0", "biz/a/basic: auth password"}
	res := check("B alone before reencrypt", onlyB, [6]int{5, 6, 1, 0, 1, 4}, aFields)
	if f := res.Failures[0]; !strings.Contains(f.Err.Error(), "not configured (key id") {
		t.Errorf("the failure does not say the secret is not configured: %v", f.Err)
	}

	// A wrong secret: everything encrypted fails, the plain text does not.
	check("wrong secret", newClientOn(t, db, Config{PrivateSecret: wrong}), [6]int{5, 6, 0, 0, 1, 5}, append(aFields, "biz/b/new: auth token"))

	// After ReencryptCredentials, B alone reads everything.
	if _, err := rotated.ReencryptCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	check("B alone after reencrypt", onlyB, [6]int{5, 6, 6, 0, 0, 0}, nil)
	check("A after reencrypt", cA, [6]int{5, 6, 0, 0, 0, 6}, append(aFields[:len(aFields):len(aFields)], "biz/a/plain: header \"X-Plain\"", "biz/b/new: auth token"))

	// A malformed extra_info is reported too, as ErrInvalidWebhook.
	if err := db.Exec(`UPDATE webhook_webhook SET extra_info = ? WHERE code = ?`, `{"headers": 5}`, "none").Error; err != nil {
		t.Fatal(err)
	}
	res, err = onlyB.CheckSecret(ctx)
	if got := failureFields(res); !reflect.DeepEqual(got, []string{"biz/a/none: extra_info"}) || !errors.Is(err, ErrInvalidWebhook) || errors.Is(err, ErrDecrypt) ||
		!errors.Is(res.Failures[0].Err, ErrInvalidWebhook) || res.Current != 6 {
		t.Errorf("malformed extra_info: %+v, %v", res, err)
	}
	res, err = cA.CheckSecret(ctx)
	if !errors.Is(err, ErrInvalidWebhook) || !errors.Is(err, ErrDecrypt) || len(res.Failures) != 7 {
		t.Errorf("malformed extra_info and undecryptable credentials: %d failures, %v", len(res.Failures), err)
	}
}

func checkSecretPythonFixture(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	py := openFixture(t, tdb, nil, Config{})
	// wh_bearer's token, wh_basic's password and X-Team header: Fernet
	// tokens under the Python package's PRIVATE_SECRET.
	res, err := py.CheckSecret(ctx)
	if err != nil || secretCounts(res) != [6]int{5, 3, 3, 0, 0, 0} {
		t.Errorf("the Python package's secret: %+v, %v", res, err)
	}
	rotated := newClientOn(t, py.DB(), Config{PrivateSecret: "a-new-private-secret-for-python", OldPrivateSecrets: []string{fixtureSecret}})
	if res, err := rotated.CheckSecret(ctx); err != nil || secretCounts(res) != [6]int{5, 3, 0, 3, 0, 0} {
		t.Errorf("the Python package's secret as an old one: %+v, %v", res, err)
	}
	wrong := newClientOn(t, py.DB(), Config{PrivateSecret: "not-the-python-private-secret"})
	res, err = wrong.CheckSecret(ctx)
	want := []string{"biz/biz1/wh_bearer: auth token", "biz/biz1/wh_basic: auth password", `biz/biz1/wh_basic: header "X-Team"`}
	if !errors.Is(err, ErrDecrypt) || secretCounts(res) != [6]int{5, 3, 0, 0, 0, 3} || !reflect.DeepEqual(failureFields(res), want) {
		t.Errorf("a wrong secret on the Python database: %+v (%q), %v; want %q", res, failureFields(res), err, want)
	}
	wantNoValues(t, "CheckSecret on the Python database", fmt.Sprintf("%+v %v", res, err), "tok-shared-123", "s3cr3t-pw", "payments", fixtureSecret)
}

func checkDecryptFailureIsNotAnEndpointFailure(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c := newTestClient(t, tdb, Config{
		DisableAfterFailures: 2, CircuitBreakAfter: 2, PollInterval: 5 * time.Millisecond,
		RetryPolicy: func(attempt int, _ *WebhookConfig, _ *AttemptResult, _ time.Duration) (bool, time.Duration) {
			return attempt < 3, time.Millisecond
		},
	})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	// "broken" has a token written under a secret c does not know; "down"
	// is a control whose endpoint fails, which health does count.
	other := newClientOn(t, c.DB(), Config{PrivateSecret: "a-secret-the-client-lacks"})
	if err := other.ApplyScopeWebhooks(ctx, "biz", "one", []WebhookConfig{{Code: "broken", Name: "broken", Endpoint: rc.URL + "/broken", Auth: &Auth{Type: "bearer", Token: "tok"}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "ctl", []WebhookConfig{{Code: "down", Name: "down", Endpoint: rc.URL + "/down"}}); err != nil {
		t.Fatal(err)
	}
	for scope, code := range map[string]string{"one": "broken", "ctl": "down"} {
		if err := c.ApplyScopeSubscriptions(ctx, "biz", scope, map[string][]string{code: {AllEvents}}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := c.CheckSecret(ctx); !errors.Is(err, ErrDecrypt) || !reflect.DeepEqual(failureFields(res), []string{"biz/one/broken: auth token"}) {
		t.Fatalf("CheckSecret = %+v, %v", res, err)
	}
	scopes := []Scope{{"biz", "one"}, {"biz", "ctl"}}

	// Broadcast, several times.
	for i := range 3 {
		res, err := c.Broadcast(ctx, "template_update", scopes, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Deliveries {
			if d.WebhookCode == "broken" && !errors.Is(d.Err, ErrDecrypt) {
				t.Errorf("broadcast %d to broken: %+v, want ErrDecrypt", i+1, d)
			}
		}
	}
	// The durable path: each delivery is tried three times.
	for range 3 {
		if _, err := c.Enqueue(ctx, "template_create", scopes[:1], nil); err != nil {
			t.Fatal(err)
		}
	}
	startWorkers(t, c)
	waitFor(t, "the durable deliveries to finish", 20*time.Second, func() bool {
		return deliveriesByStatus(t, c)[StatusPending] == 0
	})
	for _, d := range deliveryRows(t, c) {
		if d.WebhookCode == "broken" && (d.Status != StatusFailed || d.Attempts != 3 || d.LastError == nil || !strings.Contains(*d.LastError, "cannot decrypt")) {
			t.Errorf("durable delivery to broken: status %s, %d attempts, last error %v", d.Status, d.Attempts, ptrString(d.LastError))
		}
	}

	var broken, down webhookRow
	if err := c.DB().Where("code = ?", "broken").Take(&broken).Error; err != nil {
		t.Fatal(err)
	}
	if err := c.DB().Where("code = ?", "down").Take(&down).Error; err != nil {
		t.Fatal(err)
	}
	if broken.ConsecutiveFailures != 0 || broken.FailingSince != nil || broken.CircuitFailures != 0 || broken.CircuitOpenUntil != nil ||
		!broken.EnableWebhook || broken.DisabledReason != nil {
		t.Errorf("undecryptable credentials counted as endpoint failures: consecutive_failures %d, failing_since %v, circuit_failures %d, circuit_open_until %v, enabled %v, disabled_reason %s",
			broken.ConsecutiveFailures, broken.FailingSince, broken.CircuitFailures, broken.CircuitOpenUntil, broken.EnableWebhook, ptrString(broken.DisabledReason))
	}
	hist, err := c.History(ctx, HistoryQuery{WebhookCode: "broken", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3+3*3 {
		t.Errorf("%d history rows for broken, want 12 (3 broadcasts, 3 deliveries of 3 attempts)", len(hist))
	}
	// The control shows that health is tracked in this configuration.
	if supportsReturning(c.db) && (down.ConsecutiveFailures < 2 || down.EnableWebhook || down.CircuitFailures < 2) {
		t.Errorf("the control's failures were not counted: consecutive_failures %d, circuit_failures %d, enabled %v",
			down.ConsecutiveFailures, down.CircuitFailures, down.EnableWebhook)
	}
	for _, r := range rc.requests() {
		if r.Path == "/broken" {
			t.Error("a request was sent without its credential")
		}
	}
}
