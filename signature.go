package webhook

import (
	"context"
	"net/http"
	"time"

	"github.com/scopehook/webhook/signature"
)

// Standard Webhooks signatures (https://www.standardwebhooks.com) live in
// the standard-library-only package github.com/scopehook/webhook/signature;
// the names below are that package's, kept here for compatibility. A
// receiver that only verifies should import the subpackage, which pulls in
// none of this package's dependencies.

// Header names of a signed request: the same as the signature package's
// (signature.HeaderWebhookID, …); receivers should import
// github.com/scopehook/webhook/signature.
const (
	HeaderWebhookID        = signature.HeaderWebhookID
	HeaderWebhookTimestamp = signature.HeaderWebhookTimestamp
	HeaderWebhookSignature = signature.HeaderWebhookSignature
)

// SigningSecretPrefix starts every signing secret. It is the same as
// signature.SecretPrefix; receivers should import
// github.com/scopehook/webhook/signature.
const SigningSecretPrefix = signature.SecretPrefix

// DefaultTolerance is how far a webhook-timestamp may be from the receiver's
// clock before Verify refuses it. It is the same as
// signature.DefaultTolerance; receivers should import
// github.com/scopehook/webhook/signature.
const DefaultTolerance = signature.DefaultTolerance

// MaxVerifiedBodyBytes bounds the body VerifyMiddleware reads. It is the same
// as signature.MaxBodyBytes; receivers should import
// github.com/scopehook/webhook/signature.
const MaxVerifiedBodyBytes = signature.MaxBodyBytes

// Errors of signature verification: the same values as the signature
// package's, so errors.Is matches either name; receivers should import
// github.com/scopehook/webhook/signature.
var (
	// ErrMissingHeaders is signature.ErrMissingHeaders: a request lacks
	// webhook-id, webhook-timestamp or webhook-signature.
	ErrMissingHeaders = signature.ErrMissingHeaders
	// ErrTimestampOutOfRange is signature.ErrTimestampOutOfRange:
	// webhook-timestamp is malformed or further than the tolerance from now.
	ErrTimestampOutOfRange = signature.ErrTimestampOutOfRange
	// ErrSignatureMismatch is signature.ErrSignatureMismatch: no signature of
	// the request matches any secret.
	ErrSignatureMismatch = signature.ErrSignatureMismatch
	// ErrInvalidSigningSecret is signature.ErrInvalidSecret: a signing secret
	// is not whsec_ followed by the base64 of 24 to 64 bytes.
	ErrInvalidSigningSecret = signature.ErrInvalidSecret
)

// NewSigningSecret returns a fresh signing secret: "whsec_" and the base64
// of 32 random bytes. It is the same as signature.NewSecret; receivers
// should import github.com/scopehook/webhook/signature.
func NewSigningSecret() (string, error) { return signature.NewSecret() }

// Sign returns the Standard Webhooks signature "v1,<base64>" of body sent as
// message msgID at timestamp, under secret. It is the same as
// signature.Sign; receivers should import
// github.com/scopehook/webhook/signature.
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	return signature.Sign(secret, msgID, timestamp, body)
}

// Verifier checks the signatures of incoming webhook requests. It is the
// same type as signature.Verifier (an alias: same fields, same Verify);
// receivers should import github.com/scopehook/webhook/signature.
type Verifier = signature.Verifier

// VerifyMiddleware returns middleware that lets through only requests whose
// signature v verifies, with their body intact for the next handler; others
// get 401 Unauthorized (400 for a body over MaxVerifiedBodyBytes). It is the
// same as signature.VerifyMiddleware; receivers should import
// github.com/scopehook/webhook/signature.
func VerifyMiddleware(v *Verifier) func(http.Handler) http.Handler {
	return signature.VerifyMiddleware(v)
}

// RotateSigningSecret makes a fresh signing secret the current one of the
// webhook code in the scope, and keeps its previous secrets signing for
// grace (each request carries one signature per secret, so receivers can
// switch secrets at their own pace); after grace they are dropped. It
// returns the new secret, to be handed to the receiver. A grace of zero
// drops the old secrets at once.
func (c *Client) RotateSigningSecret(ctx context.Context, scopeType, scopeCode, code string, grace time.Duration) (string, error) {
	return c.RotateWebhookSecret(ctx, Scope{scopeType, scopeCode}, code, grace, ChangeOptions{})
}
