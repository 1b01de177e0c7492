package webhook

import (
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

func TestVerifier(t *testing.T) {
	t.Parallel()
	at := func(ts int64) func() time.Time { return func() time.Time { return time.Unix(ts, 0) } }
	other, _ := NewSigningSecret()
	cases := []struct {
		name    string
		v       Verifier
		header  http.Header
		body    string
		wantErr error
	}{
		{"the vector", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, nil},
		{"secret without prefix", Verifier{Secrets: []string{strings.TrimPrefix(vectorSecret, "whsec_")}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, nil},
		{"one of several secrets", Verifier{Secrets: []string{other, vectorSecret}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, nil},
		{"one of several signatures", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)},
			vectorHeader(vectorTimestamp, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc "+vectorSignature), vectorPayload, nil},
		{"4 minutes late", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp + 240)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, nil},
		{"6 minutes late", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp + 360)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, ErrTimestampOutOfRange},
		{"6 minutes early", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp - 360)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, ErrTimestampOutOfRange},
		{"wider tolerance", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp + 360), Tolerance: 10 * time.Minute}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, nil},
		{"timestamp not a number", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)}, func() http.Header {
			h := vectorHeader(vectorTimestamp, vectorSignature)
			h.Set(HeaderWebhookTimestamp, "yesterday")
			return h
		}(), vectorPayload, ErrTimestampOutOfRange},
		{"body changed", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), `{"test": 2432232315}`, ErrSignatureMismatch},
		{"wrong secret", Verifier{Secrets: []string{other}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, ErrSignatureMismatch},
		{"no secret", Verifier{Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, ErrSignatureMismatch},
		{"unknown version only", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)},
			vectorHeader(vectorTimestamp, strings.Replace(vectorSignature, "v1,", "v2,", 1)), vectorPayload, ErrSignatureMismatch},
		{"id changed", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)}, func() http.Header {
			h := vectorHeader(vectorTimestamp, vectorSignature)
			h.Set(HeaderWebhookID, "msg_other")
			return h
		}(), vectorPayload, ErrSignatureMismatch},
		{"missing signature", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, ""), vectorPayload, ErrMissingHeaders},
		{"missing id", Verifier{Secrets: []string{vectorSecret}, Now: at(vectorTimestamp)}, func() http.Header {
			h := vectorHeader(vectorTimestamp, vectorSignature)
			h.Del(HeaderWebhookID)
			return h
		}(), vectorPayload, ErrMissingHeaders},
		{"malformed secret", Verifier{Secrets: []string{"whsec_not base64!"}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, ErrInvalidSigningSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Verify(tc.header, []byte(tc.body))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// Timestamps at the extremes of int64 are refused however far from now
// they are: the distance to now is computed without wrapping, so neither
// now-2^63 (whose difference to now is 2^63) nor an opposite extreme of the
// verifier's own clock sneaks into range. Each is signed correctly, so only
// the timestamp check can refuse it.
func TestVerifierTimestampExtremes(t *testing.T) {
	t.Parallel()
	const now = int64(vectorTimestamp)
	signed := func(ts int64) http.Header {
		sig, err := Sign(vectorSecret, vectorMsgID, time.Unix(ts, 0), []byte(vectorPayload))
		if err != nil {
			t.Fatal(err)
		}
		return vectorHeader(ts, sig)
	}
	text := func(ts string) http.Header {
		h := vectorHeader(now, vectorSignature)
		h.Set(HeaderWebhookTimestamp, ts)
		return h
	}
	at := func(ts int64) func() time.Time { return func() time.Time { return time.Unix(ts, 0) } }
	cases := []struct {
		name   string
		now    int64
		tol    time.Duration
		header http.Header
	}{
		{"now - 2^63", now, 0, signed(now + math.MinInt64)},
		{"now - 2^63 + 1", now, 0, signed(now + math.MinInt64 + 1)},
		{"now - 2^63 + tolerance", now, 0, signed(now + math.MinInt64 + 300)},
		{"now + 2^63 (a clock before 1970)", -1, 0, signed(math.MaxInt64)},
		{"now + 2^63 - 1 (a clock before 1970)", -1, 0, signed(math.MaxInt64 - 1)},
		{"MinInt64", now, 0, signed(math.MinInt64)},
		{"MaxInt64", now, 0, signed(math.MaxInt64)},
		{"MinInt64 with the widest tolerance", now, math.MaxInt64, signed(math.MinInt64)},
		{"MaxInt64 with the widest tolerance", now, math.MaxInt64, signed(math.MaxInt64)},
		{"MaxInt64 when the clock says MinInt64", math.MinInt64, math.MaxInt64, signed(math.MaxInt64)},
		{"MinInt64 when the clock says MaxInt64", math.MaxInt64, math.MaxInt64, signed(math.MinInt64)},
		{"0 when the clock says MinInt64", math.MinInt64, 0, signed(0)},
		{"now + 2^63 (does not fit int64)", now, 0, text(strconv.FormatUint(uint64(now)+1<<63, 10))},
		{"MaxInt64 + 1", now, 0, text("9223372036854775808")},
		{"MinInt64 - 1", now, 0, text("-9223372036854775809")},
		{"20 nines", now, 0, text(strings.Repeat("9", 20))},
		{"a huge number", now, 0, text(strings.Repeat("9", 1<<20))},
		{"a huge negative number", now, 0, text("-" + strings.Repeat("9", 1<<20))},
		{"now with many leading zeros", now, 0, text(strings.Repeat("0", 1<<20) + strconv.FormatInt(now, 10))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Verifier{Secrets: []string{vectorSecret}, Now: at(tc.now), Tolerance: tc.tol}
			if err := v.Verify(tc.header, []byte(vectorPayload)); !errors.Is(err, ErrTimestampOutOfRange) {
				t.Errorf("timestamp %.40q: Verify = %v, want ErrTimestampOutOfRange", tc.header.Get(HeaderWebhookTimestamp), err)
			}
		})
	}
	// The extremes themselves verify when the clock is there.
	for _, ts := range []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, math.MaxInt64 - 1, math.MaxInt64} {
		v := Verifier{Secrets: []string{vectorSecret}, Now: at(ts)}
		if err := v.Verify(signed(ts), []byte(vectorPayload)); err != nil {
			t.Errorf("timestamp %d at the same clock: %v", ts, err)
		}
	}
	// At the edges of int64: 300 s apart verifies, 301 s does not.
	for _, c := range []struct {
		now, ts int64
		ok      bool
	}{
		{math.MaxInt64, math.MaxInt64 - 300, true}, {math.MaxInt64 - 300, math.MaxInt64, true},
		{math.MinInt64, math.MinInt64 + 300, true}, {math.MinInt64 + 300, math.MinInt64, true},
		{math.MaxInt64, math.MaxInt64 - 301, false}, {math.MaxInt64 - 301, math.MaxInt64, false},
		{math.MinInt64, math.MinInt64 + 301, false}, {math.MinInt64 + 301, math.MinInt64, false},
	} {
		v := Verifier{Secrets: []string{vectorSecret}, Now: at(c.now)}
		err := v.Verify(signed(c.ts), []byte(vectorPayload))
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrTimestampOutOfRange) {
			t.Errorf("timestamp %d at clock %d: %v", c.ts, c.now, err)
		}
	}
	for _, c := range []struct {
		now, ts int64
		tol     uint64
		want    bool
	}{
		{0, 0, 0, true}, {5, 6, 0, false}, {5, 6, 1, true},
		{math.MaxInt64, math.MinInt64, math.MaxUint64, true},
		{math.MaxInt64, math.MinInt64, math.MaxUint64 - 1, false},
		{-1, math.MaxInt64, 1 << 63, true}, {-1, math.MaxInt64, 1<<63 - 1, false},
		{vectorTimestamp, vectorTimestamp + math.MinInt64, math.MaxInt64, false},
	} {
		if got := withinTolerance(c.now, c.ts, c.tol); got != c.want {
			t.Errorf("withinTolerance(%d, %d, %d) = %v, want %v", c.now, c.ts, c.tol, got, c.want)
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
	if key, err := signingKey(a); err != nil || len(key) != 32 {
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
	if _, err := c.RotateSigningSecret(ctx, "biz", "one", "nope", time.Hour); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("rotating an unknown webhook: %v", err)
	}
}
