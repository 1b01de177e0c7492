package webhook

import "errors"

// Sentinel errors. Errors returned by the library wrap one of these where it
// applies, so callers branch with errors.Is; the message around it names the
// offending item and what to do.
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
)
