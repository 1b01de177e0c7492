package signature

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
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, SecretPrefix)} {
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
	other, _ := NewSecret()
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
		{"malformed secret", Verifier{Secrets: []string{"whsec_not base64!"}, Now: at(vectorTimestamp)}, vectorHeader(vectorTimestamp, vectorSignature), vectorPayload, ErrInvalidSecret},
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

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || !strings.HasPrefix(a, SecretPrefix) {
		t.Fatalf("secrets %q %q", a, b)
	}
	if key, err := ParseSecret(a); err != nil || len(key.b) != 32 {
		t.Fatalf("key: %d bytes, %v", len(key.b), err)
	}
	for _, bad := range []string{"whsec_", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30), "plain text"} {
		if _, err := Sign(bad, "id", time.Now(), nil); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("Sign with %q: %v", bad, err)
		}
	}
}

// During a rotation the sender signs with every secret, space-separated: a
// receiver holding either secret, or both, accepts the request; one holding
// neither refuses it. Signatures of other versions and garbage around them
// are skipped, not fatal.
func TestVerifierRotation(t *testing.T) {
	t.Parallel()
	oldSecret, _ := NewSecret()
	newSecret, _ := NewSecret()
	third, _ := NewSecret()
	now := time.Unix(vectorTimestamp, 0)
	body := []byte(`{"event": {"code": "order_paid"}}`)
	sigOld, err := Sign(oldSecret, "msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	sigNew, _ := Sign(newSecret, "msg_1", now, body)
	h := http.Header{}
	h.Set(HeaderWebhookID, "msg_1")
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderWebhookSignature, "v2,abc "+sigNew+"  garbage v1, "+sigOld)
	for _, c := range []struct {
		name    string
		secrets []string
		ok      bool
	}{
		{"old only", []string{oldSecret}, true},
		{"new only", []string{newSecret}, true},
		{"both", []string{newSecret, oldSecret}, true},
		{"unrelated and old", []string{third, oldSecret}, true},
		{"neither", []string{third}, false},
	} {
		err := (&Verifier{Secrets: c.secrets, Now: func() time.Time { return now }}).Verify(h, body)
		if c.ok && err != nil || !c.ok && !errors.Is(err, ErrSignatureMismatch) {
			t.Errorf("%s: Verify = %v", c.name, err)
		}
	}
}

// A signature decodes strictly: the vector's signature with a different
// last base64 character that decodes to the same bytes under lenient
// decoding ("…OG=" instead of "…OE=") is refused, and so is one with the
// padding dropped or a byte missing.
func TestVerifierStrictBase64(t *testing.T) {
	t.Parallel()
	v := &Verifier{Secrets: []string{vectorSecret}, Now: func() time.Time { return time.Unix(vectorTimestamp, 0) }}
	for _, sig := range []string{
		strings.TrimSuffix(vectorSignature, "E=") + "G=",
		strings.TrimSuffix(vectorSignature, "="),
		vectorSignature[:len(vectorSignature)-4] + "====",
		"v1," + strings.Repeat("A", 44),
	} {
		if err := v.Verify(vectorHeader(vectorTimestamp, sig), []byte(vectorPayload)); !errors.Is(err, ErrSignatureMismatch) {
			t.Errorf("signature %q: Verify = %v, want ErrSignatureMismatch", sig, err)
		}
	}
	// Spaces around the timestamp are ignored, as before.
	h := vectorHeader(vectorTimestamp, vectorSignature)
	h.Set(HeaderWebhookTimestamp, " 1614265330 ")
	if err := v.Verify(h, []byte(vectorPayload)); err != nil {
		t.Errorf("padded timestamp: %v", err)
	}
}

// A Verifier is safe for concurrent use (run with -race).
func TestVerifierConcurrent(t *testing.T) {
	t.Parallel()
	v := &Verifier{Secrets: []string{vectorSecret}, Now: func() time.Time { return time.Unix(vectorTimestamp, 0) }}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if err := v.Verify(vectorHeader(vectorTimestamp, vectorSignature), []byte(vectorPayload)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// VerifyMiddleware passes a correctly signed request to the next handler
// with its body intact, and refuses unsigned, forged, replayed and oversized
// ones without calling it.
func TestVerifyMiddleware(t *testing.T) {
	t.Parallel()
	secret, _ := NewSecret()
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(VerifyMiddleware(&Verifier{Secrets: []string{secret}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, fmt.Sprintf("%d:%s", r.ContentLength, b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(srv.Close)
	post := func(h http.Header, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
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
	signed := func(at time.Time, body string) http.Header {
		sig, err := Sign(secret, "msg_1", at, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(HeaderWebhookID, "msg_1")
		h.Set(HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
		h.Set(HeaderWebhookSignature, sig)
		return h
	}
	if code := post(signed(time.Now(), `{"a":1}`), `{"a":1}`); code != http.StatusNoContent {
		t.Errorf("signed request: %d", code)
	}
	if code := post(http.Header{}, "{}"); code != http.StatusUnauthorized {
		t.Errorf("unsigned request: %d", code)
	}
	if code := post(signed(time.Now(), `{"a":1}`), `{"a":2}`); code != http.StatusUnauthorized {
		t.Errorf("forged body: %d", code)
	}
	if code := post(signed(time.Now().Add(-time.Hour), `{"a":1}`), `{"a":1}`); code != http.StatusUnauthorized {
		t.Errorf("replayed request: %d", code)
	}
	big := strings.Repeat("x", MaxBodyBytes+1)
	if code := post(signed(time.Now(), big), big); code != http.StatusBadRequest {
		t.Errorf("oversized body: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || bodies[0] != `7:{"a":1}` {
		t.Errorf("handler saw %q", bodies)
	}
}
