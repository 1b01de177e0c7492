package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook/signature"
)

// The Standard Webhooks specification's published test vector.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, SigningSecretPrefix)} {
		got, err := Sign(secret, vectorMsgID, time.Unix(vectorTimestamp, 0), []byte(vectorPayload))
		if err != nil || got != vectorSignature {
			t.Errorf("Sign(%q) = %q, %v; want %q", secret, got, err, vectorSignature)
		}
	}
}

func vectorHeader(ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderWebhookID, vectorMsgID)
	h.Set(HeaderWebhookTimestamp, fmt.Sprint(ts))
	h.Set(HeaderWebhookSignature, sig)
	return h
}

// The root package's signature names are the signature package's: the same
// type, the same error values, the same constants, and the wrappers give the
// same results. The behaviour itself is tested in ./signature (TestVerifier,
// TestVerifierTimestampExtremes, TestVerifierRotation, FuzzVerify).
func TestSignatureNamesAreTheSignaturePackages(t *testing.T) {
	t.Parallel()
	var v *signature.Verifier = &Verifier{Secrets: []string{vectorSecret}, Now: func() time.Time { return time.Unix(vectorTimestamp, 0) }}
	if err := v.Verify(vectorHeader(vectorTimestamp, vectorSignature), []byte(vectorPayload)); err != nil {
		t.Errorf("the vector through the root Verifier: %v", err)
	}
	for _, c := range []struct {
		root, sub error
		header    http.Header
	}{
		{ErrMissingHeaders, signature.ErrMissingHeaders, vectorHeader(vectorTimestamp, "")},
		{ErrTimestampOutOfRange, signature.ErrTimestampOutOfRange, vectorHeader(vectorTimestamp+3600, vectorSignature)},
		{ErrSignatureMismatch, signature.ErrSignatureMismatch, vectorHeader(vectorTimestamp, strings.Replace(vectorSignature, "v1,", "v2,", 1))},
	} {
		err := v.Verify(c.header, []byte(vectorPayload))
		if c.root != c.sub || !errors.Is(err, c.root) {
			t.Errorf("%v: root and subpackage errors differ, or Verify = %v", c.root, err)
		}
	}
	if ErrInvalidSigningSecret != signature.ErrInvalidSecret {
		t.Error("ErrInvalidSigningSecret is not signature.ErrInvalidSecret")
	}
	if HeaderWebhookID != signature.HeaderWebhookID || HeaderWebhookTimestamp != signature.HeaderWebhookTimestamp ||
		HeaderWebhookSignature != signature.HeaderWebhookSignature || SigningSecretPrefix != signature.SecretPrefix ||
		DefaultTolerance != signature.DefaultTolerance || MaxVerifiedBodyBytes != signature.MaxBodyBytes {
		t.Error("a constant differs from the signature package's")
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(vectorPayload))
	for k, vs := range vectorHeader(vectorTimestamp, vectorSignature) {
		req.Header[k] = vs
	}
	VerifyMiddleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })).ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Errorf("root VerifyMiddleware: %d", rec.Code)
	}
}

// The sender signs each attempt with keys decoded once (signingKey, signRaw
// in this package); what it sends is exactly what signature.Sign computes,
// and it refuses exactly the secrets signature.Sign refuses, with the same
// error text.
func TestSenderSigningMatchesTheSignaturePackage(t *testing.T) {
	t.Parallel()
	fresh, _ := signature.NewSecret()
	secrets := []string{vectorSecret, strings.TrimPrefix(vectorSecret, SigningSecretPrefix), fresh,
		"whsec_" + strings.Repeat("QUJD", 8), "whsec_" + strings.Repeat("QUJD", 21) + "QQ==", // 24 and 64 bytes
		"whsec_", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30), "plain text", "whsec_not base64!", ""}
	for _, secret := range secrets {
		for _, ts := range []int64{vectorTimestamp, 0, -1, math.MinInt64, math.MaxInt64} {
			want, wantErr := signature.Sign(secret, vectorMsgID, time.Unix(ts, 0), []byte(vectorPayload))
			key, err := signature.ParseSecret(secret)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("secret %q: ParseSecret error %v, signature.Sign error %v", secret, err, wantErr)
			}
			if err != nil {
				continue
			}
			o := &outgoing{msgID: vectorMsgID, body: []byte(vectorPayload), signKeys: []signature.Key{key, key}}
			h := http.Header{}
			o.sign(h, time.Unix(ts, 0))
			if got := h.Get(HeaderWebhookSignature); got != want+" "+want {
				t.Fatalf("secret %q at %d: the sender signs %q, signature.Sign gives %q", secret, ts, got, want)
			}
			if h.Get(HeaderWebhookTimestamp) != strconv.FormatInt(ts, 10) || h.Get(HeaderWebhookID) != vectorMsgID {
				t.Fatalf("sender headers %v", h)
			}
		}
	}
}

func TestNewSigningSecret(t *testing.T) {
	t.Parallel()
	a, err := NewSigningSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSigningSecret()
	if a == b || !strings.HasPrefix(a, SigningSecretPrefix) {
		t.Fatalf("secrets %q %q", a, b)
	}
	if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, SigningSecretPrefix)); err != nil || len(key) != 32 {
		t.Fatalf("key: %d bytes, %v", len(key), err)
	}
	for _, bad := range []string{"whsec_", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30), "plain text"} {
		if _, err := Sign(bad, "id", time.Now(), nil); !errors.Is(err, ErrInvalidSigningSecret) {
			t.Errorf("Sign with %q: %v", bad, err)
		}
	}
}

// A receiver written with VerifyMiddleware accepts what the library sends
// and refuses everything else, with the body intact for its handler.
func testSignedDeliveriesVerifyAtTheReceiver(t *testing.T, tdb *testDB) {
	secret, _ := NewSigningSecret()
	var mu sync.Mutex
	var bodies []string
	mux := http.NewServeMux()
	mux.Handle("/hook", VerifyMiddleware(&Verifier{Secrets: []string{secret}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: srv.URL + "/hook", SigningSecrets: []string{secret}})
	d := broadcastOne(t, c)
	if !d.Success {
		t.Fatalf("signed delivery refused: %+v", d)
	}
	if len(bodies) != 1 || !strings.Contains(bodies[0], d.DeliveryID) {
		t.Fatalf("handler saw %q", bodies)
	}
	// An unsigned request, a forged one and a replayed old one are refused.
	post := func(h http.Header, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hook", strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(http.Header{}, "{}"); code != http.StatusUnauthorized {
		t.Errorf("unsigned request: %d", code)
	}
	old := time.Now().Add(-time.Hour)
	sig, _ := Sign(secret, "id1", old, []byte("{}"))
	h := http.Header{}
	h.Set(HeaderWebhookID, "id1")
	h.Set(HeaderWebhookTimestamp, fmt.Sprint(old.Unix()))
	h.Set(HeaderWebhookSignature, sig)
	if code := post(h, "{}"); code != http.StatusUnauthorized {
		t.Errorf("replayed request: %d", code)
	}
	h.Set(HeaderWebhookTimestamp, fmt.Sprint(time.Now().Unix()))
	if code := post(h, "{}"); code != http.StatusUnauthorized {
		t.Errorf("forged request: %d", code)
	}
	// The signing secret is encrypted at rest and absent from history.
	var raw []webhookRow
	c.DB().Find(&raw)
	hist, _ := c.History(testCtx(t), HistoryQuery{})
	for _, where := range []string{string(raw[0].ExtraInfo), string(hist[0].ExtraInfo)} {
		if strings.Contains(where, strings.TrimPrefix(secret, SigningSecretPrefix)) {
			t.Errorf("the signing secret is stored in clear: %s", where)
		}
	}
}

// During a rotation each request carries a signature for the new and the
// old secret, so a receiver verifying with either accepts it; after the
// grace period only the new one signs.
func testRotateSigningSecret(t *testing.T, tdb *testDB) {
	clock := newFakeClock()
	oldSecret, _ := NewSigningSecret()
	var mu sync.Mutex
	var got []http.Header
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	})
	c := newTestClient(t, tdb, Config{Now: clock.Now})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, SigningSecrets: []string{oldSecret}})
	ctx := testCtx(t)
	newSecret, err := c.RotateSigningSecret(ctx, "biz", "one", "hook", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	whs, _ := c.ScopeWebhooks(ctx, "biz", "one")
	if len(whs[0].SigningSecrets) != 2 || whs[0].SigningSecrets[0] != newSecret || whs[0].SigningSecrets[1] != oldSecret {
		t.Fatalf("secrets after rotation: %d", len(whs[0].SigningSecrets))
	}
	// Applying what ScopeWebhooks returned keeps the rotation's expiry.
	if err := c.ApplyScopeWebhooks(ctx, "biz", "one", whs); err != nil {
		t.Fatal(err)
	}
	broadcastOne(t, c)
	clock.Advance(2 * time.Hour)
	broadcastOne(t, c)
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	sigs := func(h http.Header) int { return len(strings.Fields(h.Get(HeaderWebhookSignature))) }
	if sigs(got[0]) != 2 || sigs(got[1]) != 1 {
		t.Errorf("signatures: %d during the grace period, %d after; want 2 then 1", sigs(got[0]), sigs(got[1]))
	}
	for _, secret := range []string{oldSecret, newSecret} {
		v := Verifier{Secrets: []string{secret}, Now: clock.Now}
		// The first request was signed an hour before the clock's now.
		v.Tolerance = 3 * time.Hour
		if err := v.Verify(got[0], rc.requests()[0].Body); err != nil {
			t.Errorf("during the grace period, verifying with one secret: %v", err)
		}
	}
	if err := (&Verifier{Secrets: []string{oldSecret}, Now: clock.Now}).Verify(got[1], rc.requests()[1].Body); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("after the grace period the old secret still verifies: %v", err)
	}
	if _, err := c.RotateSigningSecret(ctx, "biz", "one", "nope", time.Hour); !errors.Is(err, ErrWebhookNotFound) {
		t.Errorf("rotating an unknown webhook: %v", err)
	}
}
