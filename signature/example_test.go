package signature_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook/signature"
)

// The Standard Webhooks specification's published test vector.
const (
	secret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	msgID   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	sentAt  = 1614265330
	payload = `{"test": 2432232314}`
)

// Sign computes the webhook-signature value of one request.
func ExampleSign() {
	sig, err := signature.Sign(secret, msgID, time.Unix(sentAt, 0), []byte(payload))
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// NewSecret makes the secret shared by a sender and its receiver.
func ExampleNewSecret() {
	s, err := signature.NewSecret()
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(s, signature.SecretPrefix), len(s))
	// Output: true 50
}

// Verify checks the headers and body of a request; its errors tell why a
// request is refused. Now is fixed here so the output is the same on every
// run; a receiver leaves it nil.
func ExampleVerifier_Verify() {
	h := http.Header{}
	h.Set(signature.HeaderWebhookID, msgID)
	h.Set(signature.HeaderWebhookTimestamp, strconv.Itoa(sentAt))
	h.Set(signature.HeaderWebhookSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	v := &signature.Verifier{Secrets: []string{secret}, Now: func() time.Time { return time.Unix(sentAt+60, 0) }}
	fmt.Println(v.Verify(h, []byte(payload)))
	fmt.Println(errors.Is(v.Verify(h, []byte(`{"test": 0}`)), signature.ErrSignatureMismatch))

	late := &signature.Verifier{Secrets: []string{secret}, Now: func() time.Time { return time.Unix(sentAt+3600, 0) }}
	fmt.Println(errors.Is(late.Verify(h, []byte(payload)), signature.ErrTimestampOutOfRange))
	// Output:
	// <nil>
	// true
	// true
}

// During a rotation the sender signs each request once per secret; a
// receiver lists the secrets it accepts.
func ExampleVerifier_rotation() {
	oldSecret, newSecret := secret, "whsec_"+strings.Repeat("QUJD", 8)
	at := time.Unix(sentAt, 0)
	sigOld, _ := signature.Sign(oldSecret, msgID, at, []byte(payload))
	sigNew, _ := signature.Sign(newSecret, msgID, at, []byte(payload))

	h := http.Header{}
	h.Set(signature.HeaderWebhookID, msgID)
	h.Set(signature.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(signature.HeaderWebhookSignature, sigNew+" "+sigOld)

	now := func() time.Time { return at }
	fmt.Println((&signature.Verifier{Secrets: []string{oldSecret}, Now: now}).Verify(h, []byte(payload)))
	fmt.Println((&signature.Verifier{Secrets: []string{newSecret}, Now: now}).Verify(h, []byte(payload)))
	// Output:
	// <nil>
	// <nil>
}

// VerifyMiddleware guards a handler: it sees only verified requests, body
// intact; the others get 401.
func ExampleVerifyMiddleware() {
	v := &signature.Verifier{Secrets: []string{secret}, Now: func() time.Time { return time.Unix(sentAt, 0) }}
	handler := signature.VerifyMiddleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))

	send := func(sig string) int {
		r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(payload))
		r.Header.Set(signature.HeaderWebhookID, msgID)
		r.Header.Set(signature.HeaderWebhookTimestamp, strconv.Itoa(sentAt))
		r.Header.Set(signature.HeaderWebhookSignature, sig)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
	fmt.Println(send("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="))
	fmt.Println(send("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="))
	// Output:
	// 204
	// 401
}
