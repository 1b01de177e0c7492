package webhook

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by the library wrap one of these where it
// applies, so callers branch with errors.Is; the message around it names the
// offending item and what to do. The signature errors (ErrMissingHeaders,
// ErrTimestampOutOfRange, ErrSignatureMismatch, ErrInvalidSigningSecret) are
// those of package signature, re-exported in signature.go.
var (
	// ErrInvalidConfig means a Config passed to New is unusable.
	ErrInvalidConfig = errors.New("webhook: invalid config")
	// ErrEventNotFound means an event code is not in the webhook_event table.
	// Run SyncEvents with a file that defines it.
	ErrEventNotFound = errors.New("webhook: event not found")
	// ErrInvalidWebhook means a webhook configuration failed validation;
	// nothing was written.
	ErrInvalidWebhook = errors.New("webhook: invalid webhook")
	// ErrInvalidSubscription means a subscription names an unknown webhook or
	// event; nothing was written.
	ErrInvalidSubscription = errors.New("webhook: invalid subscription")
	// ErrInvalidEvents means an events YAML file failed validation; nothing
	// was written.
	ErrInvalidEvents = errors.New("webhook: invalid events file")
	// ErrInvalidArgument means an argument of a call is malformed, such as an
	// empty event code or an over-long delivery id.
	ErrInvalidArgument = errors.New("webhook: invalid argument")
	// ErrDecrypt means a stored credential could not be decrypted with the
	// configured private secret(s). It affects only the webhook that holds it.
	ErrDecrypt = errors.New("webhook: cannot decrypt credential")
	// ErrUnexpectedStatus means the endpoint answered with a status outside
	// 2xx (redirects included: they are never followed).
	ErrUnexpectedStatus = errors.New("webhook: endpoint answered with a non-2xx status")
	// ErrWebhookNotFound means no webhook has the given scope and code.
	ErrWebhookNotFound = errors.New("webhook: webhook not found")
	// ErrDeliveryNotFound means no delivery, in the outbox or in history, has
	// the given delivery id.
	ErrDeliveryNotFound = errors.New("webhook: delivery not found")
	// ErrWorkersRunning is returned by Start when the workers of this client
	// already run.
	ErrWorkersRunning = errors.New("webhook: workers already started")
	// ErrPayloadTooLarge means a request body exceeds Config.MaxPayloadBytes.
	ErrPayloadTooLarge = errors.New("webhook: payload too large")
	// ErrCircuitOpen means a webhook's circuit breaker is open: its endpoint kept
	// failing, or asked for a pause, and it is not sent to until a probe
	// succeeds.
	ErrCircuitOpen = errors.New("webhook: circuit open")
	// ErrForbiddenAddress means an endpoint resolves to an address the SSRF
	// guard refuses; no connection was made.
	ErrForbiddenAddress = errors.New("webhook: endpoint address is forbidden")
	// ErrWebhookExists means CreateWebhook was given a code its scope
	// already has.
	ErrWebhookExists = errors.New("webhook: webhook already exists")
	// ErrPreconditionFailed means a change was asked on a version of a
	// webhook (ChangeOptions.IfMatch) that is not the stored one any more.
	ErrPreconditionFailed = errors.New("webhook: webhook changed since it was read")
	// ErrInvalidToken means a portal token is malformed, tampered with,
	// signed with another secret, or expired.
	ErrInvalidToken = errors.New("webhook: invalid portal token")
)

// standalone is an error whose message says everything by itself and which
// matches its sentinel with errors.Is, without the sentinel's text repeated
// at its end ("webhook: …: webhook: …").
type standalone struct {
	msg      string
	sentinel error
}

func (e *standalone) Error() string { return e.msg }
func (e *standalone) Unwrap() error { return e.sentinel }

// errorf returns a standalone error wrapping sentinel.
func errorf(sentinel error, format string, args ...any) error {
	return &standalone{msg: fmt.Sprintf(format, args...), sentinel: sentinel}
}
