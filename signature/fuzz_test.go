package signature

import (
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary signature headers and bodies to
// Verifier.Verify: it never panics, and it accepts a request only when one
// of the request's signatures is the one Sign computes. Seeds are committed
// under testdata/fuzz/FuzzVerify; run it with
//
//	go test -run='^$' -fuzz=FuzzVerify -fuzztime=30s ./signature/
func FuzzVerify(f *testing.F) {
	f.Add(vectorMsgID, "1614265330", vectorSignature, []byte(vectorPayload))
	f.Add(vectorMsgID, "1614265330", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+vectorSignature, []byte(vectorPayload))
	f.Add("", "", "", []byte{})
	f.Add("id", "-1", "v1,", []byte("x"))
	f.Add("id", "99999999999999999999", "v1,AAAA v2,BBBB ,, v1", []byte("{}"))
	// Timestamps at the extremes of int64, each signed correctly so that
	// only the timestamp check stands between them and acceptance: now-2^63
	// once wrapped into range.
	for _, ts := range []int64{math.MinInt64, math.MinInt64 + 1, vectorTimestamp + math.MinInt64, vectorTimestamp + math.MinInt64 + 1, -1, 0, math.MaxInt64 - 1, math.MaxInt64} {
		sig, _ := Sign(vectorSecret, vectorMsgID, time.Unix(ts, 0), []byte(vectorPayload))
		f.Add(vectorMsgID, strconv.FormatInt(ts, 10), sig, []byte(vectorPayload))
	}
	for _, ts := range []string{
		strconv.FormatUint(vectorTimestamp+1<<63, 10), // now+2^63: past MaxInt64
		"9223372036854775808", "-9223372036854775809", "+9223372036854775807", " -9223372036854775808 ",
		strings.Repeat("9", 4096), "-" + strings.Repeat("9", 4096), strings.Repeat("0", 4096) + "1614265330",
	} {
		f.Add(vectorMsgID, ts, vectorSignature, []byte(vectorPayload))
	}
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		v := &Verifier{Secrets: []string{vectorSecret}, Now: func() time.Time { return time.Unix(vectorTimestamp, 0) }, Tolerance: 100 * 365 * 24 * time.Hour}
		h := http.Header{}
		h.Set(HeaderWebhookID, id)
		h.Set(HeaderWebhookTimestamp, ts)
		h.Set(HeaderWebhookSignature, sigs)
		err := v.Verify(h, body)
		if err == nil {
			n, perr := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
			if perr != nil {
				t.Fatalf("accepted a malformed timestamp %q", ts)
			}
			if d := math.Abs(float64(n) - float64(vectorTimestamp)); d > v.Tolerance.Seconds()+1 {
				t.Fatalf("accepted timestamp %d, %.0f s from now, beyond the tolerance", n, d)
			}
			want, _ := Sign(vectorSecret, h.Get(HeaderWebhookID), time.Unix(n, 0), body)
			if !slices.Contains(strings.Fields(h.Get(HeaderWebhookSignature)), want) {
				t.Fatalf("accepted signatures %q without %q", sigs, want)
			}
			return
		}
		if !errors.Is(err, ErrMissingHeaders) && !errors.Is(err, ErrTimestampOutOfRange) && !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("unexpected error %v", err)
		}
		// What Sign produces for the same input always verifies.
		if n, perr := strconv.ParseInt(strings.TrimSpace(ts), 10, 64); perr == nil && id != "" && strings.TrimSpace(ts) != "" && validHeaderValue(id) {
			sig, _ := Sign(vectorSecret, h.Get(HeaderWebhookID), time.Unix(n, 0), body)
			h.Set(HeaderWebhookSignature, sig)
			if err := v.Verify(h, body); err != nil && !errors.Is(err, ErrTimestampOutOfRange) {
				t.Fatalf("a correct signature failed: %v", err)
			}
		}
	})
}

// validHeaderValue reports whether s has no control character other than
// tab, as the root package's check of header values does.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
