// Package signature signs and verifies webhook requests the Standard Webhooks
// way (https://www.standardwebhooks.com). It depends on the standard library
// only, so a receiver that checks signatures imports this package and none of
// the sender's (database, YAML, …) dependencies.
//
// A signed request carries three headers:
//
//	webhook-id:        the delivery id, the same on every retry
//	webhook-timestamp: Unix seconds of the attempt
//	webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> (one per secret, space-separated)
//
// A receiver verifies every request in one line with VerifyMiddleware:
//
//	package main
//
//	import (
//		"io"
//		"log"
//		"net/http"
//		"os"
//
//		"github.com/scopehook/webhook/signature"
//	)
//
//	func main() {
//		verify := signature.VerifyMiddleware(&signature.Verifier{Secrets: []string{os.Getenv("WEBHOOK_SIGNING_SECRET")}})
//		http.Handle("/hooks", verify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//			body, _ := io.ReadAll(r.Body) // verified, and intact
//			log.Printf("delivery %s: %s", r.Header.Get(signature.HeaderWebhookID), body)
//			w.WriteHeader(http.StatusNoContent)
//		})))
//		log.Fatal(http.ListenAndServe("127.0.0.1:8081", nil))
//	}
//
// Requests without a valid signature, or signed further than DefaultTolerance
// from the receiver's clock, get 401 Unauthorized. During a secret rotation
// the sender signs with both secrets and the receiver may list either or both
// in Verifier.Secrets.
//
// The sender, github.com/scopehook/webhook, re-exports these names (its
// NewSigningSecret, Sign, Verifier, VerifyMiddleware, header constants and
// errors are this package's).
package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed request.
const (
	// HeaderWebhookID carries the delivery id, the same on every retry.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookTimestamp carries the Unix seconds of the attempt.
	HeaderWebhookTimestamp = "webhook-timestamp"
	// HeaderWebhookSignature carries one "v1,<base64>" signature per
	// signing secret, space-separated.
	HeaderWebhookSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret ("whsec_").
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a webhook-timestamp may be from the receiver's
// clock before Verify refuses it (replay protection).
const DefaultTolerance = 5 * time.Minute

// MaxBodyBytes bounds the body VerifyMiddleware reads (10 MiB).
const MaxBodyBytes = 10 << 20

// Errors of signature verification. Verify returns them wrapped: test with
// errors.Is. Their texts start with "webhook:", as they did when they lived
// in the root package.
var (
	// ErrMissingHeaders means a request lacks webhook-id, webhook-timestamp
	// or webhook-signature.
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrTimestampOutOfRange means webhook-timestamp is malformed or further
	// than the tolerance from now.
	ErrTimestampOutOfRange = errors.New("webhook: signature timestamp out of range")
	// ErrSignatureMismatch means no signature of the request matches any
	// secret.
	ErrSignatureMismatch = errors.New("webhook: signature mismatch")
	// ErrInvalidSecret means a signing secret is not whsec_ followed by the
	// base64 of 24 to 64 bytes.
	ErrInvalidSecret = errors.New("webhook: invalid signing secret")
)

// NewSecret returns a fresh signing secret: "whsec_" and the base64 of 32
// random bytes.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: generating a signing secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// Key is a decoded signing secret, for a sender that signs many messages
// under one secret without decoding it each time. The zero Key is not valid.
type Key struct{ b []byte }

// ParseSecret decodes a signing secret ("whsec_" prefix optional, as
// receivers commonly store it without) into its Key. It fails with
// ErrInvalidSecret, wrapped, when secret is malformed.
func ParseSecret(secret string) (Key, error) {
	raw := strings.TrimPrefix(secret, SecretPrefix)
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return Key{}, fmt.Errorf("%w: not base64 after %q", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return Key{}, fmt.Errorf("%w: %d bytes, want 24 to 64", ErrInvalidSecret, len(key))
	}
	return Key{b: key}, nil
}

// Sign returns the signature "v1,<base64>" of body sent as message msgID at
// timestamp (whole seconds) under k.
func (k Key) Sign(msgID string, timestamp time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(signRaw(k.b, msgID, timestamp.Unix(), body))
}

// Sign returns the Standard Webhooks signature "v1,<base64>" of body sent as
// message msgID at timestamp (whole seconds), under secret ("whsec_" prefix
// optional). It fails with ErrInvalidSecret, wrapped, when secret is
// malformed.
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return key.Sign(msgID, timestamp, body), nil
}

// signRaw is the HMAC-SHA256 of "msgID.ts.body" under key.
func signRaw(key []byte, msgID string, ts int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Verifier checks the signatures of incoming webhook requests: the
// receiver's side, in one line with VerifyMiddleware. Its zero value
// verifies nothing (no secret); set Secrets. It is safe for concurrent use.
type Verifier struct {
	// Secrets are the accepted signing secrets ("whsec_…"); a request
	// passes when one of its signatures matches one of them, so a receiver
	// lists both secrets during a rotation.
	Secrets []string
	// Tolerance is how far webhook-timestamp may be from Now. Defaults to
	// DefaultTolerance.
	Tolerance time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

// Verify checks the signature headers h of a request whose body is body. It
// returns ErrMissingHeaders, ErrTimestampOutOfRange, ErrSignatureMismatch or
// ErrInvalidSecret (a configured secret is malformed), wrapped, or nil.
// Signatures are compared in constant time; the timestamp's distance to now
// is computed without overflow for every int64, and a signature's base64 is
// decoded strictly (one signature, one encoding).
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, tsText, sigs := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("%w: need %s, %s and %s", ErrMissingHeaders, HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	// Unix seconds fit in 20 characters; a longer text is refused before
	// it is parsed (or copied into an error).
	tsText = strings.TrimSpace(tsText)
	if len(tsText) > 20 {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrTimestampOutOfRange, HeaderWebhookTimestamp)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrTimestampOutOfRange, HeaderWebhookTimestamp)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if !withinTolerance(now().Unix(), ts, uint64(tolerance/time.Second)) {
		return fmt.Errorf("%w: %d is more than %s from now", ErrTimestampOutOfRange, ts, tolerance)
	}
	if len(v.Secrets) == 0 {
		return fmt.Errorf("%w: the verifier has no secret", ErrSignatureMismatch)
	}
	keys := make([][]byte, 0, len(v.Secrets))
	for _, s := range v.Secrets {
		key, err := ParseSecret(s)
		if err != nil {
			return err
		}
		keys = append(keys, key.b)
	}
	matched := 0
	for _, sig := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		// Strict: one signature has one encoding (no stray padding bits).
		got, err := base64.StdEncoding.Strict().DecodeString(value)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		for _, key := range keys {
			matched |= subtle.ConstantTimeCompare(got, signRaw(key, id, ts, body))
		}
	}
	if matched != 1 {
		return ErrSignatureMismatch
	}
	return nil
}

// withinTolerance reports whether |ts - now| <= tol, for every int64 now
// and ts: the distance is computed in uint64, where it always fits (at most
// 2^64-1), so no timestamp wraps around into range.
func withinTolerance(now, ts int64, tol uint64) bool {
	var d uint64
	if ts >= now {
		d = uint64(ts) - uint64(now)
	} else {
		d = uint64(now) - uint64(ts)
	}
	return d <= tol
}

// VerifyMiddleware returns middleware that lets through only requests whose
// signature v verifies, with their body intact for the next handler; others
// get 401 Unauthorized (400 for a body over MaxBodyBytes).
func VerifyMiddleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
			if err != nil || len(body) > MaxBodyBytes {
				http.Error(w, "request body unreadable or too large", http.StatusBadRequest)
				return
			}
			if err := v.Verify(r.Header, body); err != nil {
				http.Error(w, "invalid webhook signature", http.StatusUnauthorized)
				return
			}
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
	}
}
