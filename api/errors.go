package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/scopehook/webhook"
)

// Error codes: the "code" of every error object, stable across versions.
// A client branches on the code, never on the message.
const (
	CodeInvalidArgument      = "invalid_argument"       // 400: a parameter, header or body field is malformed
	CodeInvalidWebhook       = "invalid_webhook"        // 400: webhook.ErrInvalidWebhook
	CodeInvalidSubscription  = "invalid_subscription"   // 400: webhook.ErrInvalidSubscription (unknown event)
	CodeUnauthorized         = "unauthorized"           // 401: no credentials, or invalid or expired ones
	CodeForbiddenScope       = "forbidden_scope"        // 403: the caller may not use this scope or route
	CodeNotFound             = "not_found"              // 404: no such route
	CodeWebhookNotFound      = "webhook_not_found"      // 404: webhook.ErrWebhookNotFound
	CodeDeliveryNotFound     = "delivery_not_found"     // 404: webhook.ErrDeliveryNotFound
	CodeMethodNotAllowed     = "method_not_allowed"     // 405
	CodeWebhookExists        = "webhook_exists"         // 409: webhook.ErrWebhookExists
	CodePreconditionFailed   = "precondition_failed"    // 412: webhook.ErrPreconditionFailed (If-Match)
	CodePayloadTooLarge      = "payload_too_large"      // 413: the body exceeds Options.MaxBodyBytes
	CodeUnsupportedMediaType = "unsupported_media_type" // 415: a body that is not application/json
	CodeIdempotencyKeyReused = "idempotency_key_reused" // 422: an Idempotency-Key sent again with another request
	CodeInternal             = "internal"               // 500: logged under the reference the message gives
)

// apiError is an error answered as it is, with its status, code and
// message (which never holds a credential).
type apiError struct {
	status  int
	code    string
	msg     string
	details map[string]any
}

func (e *apiError) Error() string { return e.msg }

func newError(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

// badArg is a 400 invalid_argument about one parameter or field.
func badArg(field, msg string) *apiError {
	e := newError(http.StatusBadRequest, CodeInvalidArgument, msg)
	if field != "" {
		e.details = map[string]any{"field": field}
	}
	return e
}

// reply is a response as the handler writes it and the idempotency store
// keeps it.
type reply struct {
	status   int
	etag     string
	location string
	allow    string
	// challenge is the WWW-Authenticate header of a 401.
	challenge string
	replayed  bool
	body      []byte // JSON; nil for 204
}

// size is about what the reply holds in memory.
func (rp *reply) size() int { return len(rp.body) + len(rp.etag) + len(rp.location) + 64 }

// jsonReply encodes v as the body of a reply with status.
func jsonReply(status int, v any) (reply, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return reply{}, err
	}
	return reply{status: status, body: append(b, '\n')}, nil
}

type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

func errorReply(status int, code, msg string, details map[string]any) reply {
	b, _ := json.Marshal(errorBody{Error: errorObject{Code: code, Message: msg, Details: details}})
	return reply{status: status, body: append(b, '\n')}
}

func internalReply(ref string) reply {
	return errorReply(http.StatusInternalServerError, CodeInternal,
		"internal error: it was logged with reference "+ref+"; give the reference to the service's operators, or retry later",
		map[string]any{"reference": ref})
}

// fail turns an error into its reply: an apiError as it is, the library's
// sentinels into their codes, anything else into a logged 500.
func (h *handler) fail(r *http.Request, err error) reply {
	var ae *apiError
	if errors.As(err, &ae) {
		return errorReply(ae.status, ae.code, ae.msg, ae.details)
	}
	if status, code, ok := sentinelCode(err); ok {
		return errorReply(status, code, err.Error(), nil)
	}
	ref := newRef()
	h.log.Error("api: internal error", "ref", ref, "method", r.Method, "path", r.URL.Path, "err", err)
	return internalReply(ref)
}

// sentinelCode maps the library's errors, whose messages name the
// offending item and what to do and never hold a credential, to their
// status and code.
func sentinelCode(err error) (int, string, bool) {
	switch {
	case errors.Is(err, webhook.ErrWebhookNotFound):
		return http.StatusNotFound, CodeWebhookNotFound, true
	case errors.Is(err, webhook.ErrDeliveryNotFound):
		return http.StatusNotFound, CodeDeliveryNotFound, true
	case errors.Is(err, webhook.ErrWebhookExists):
		return http.StatusConflict, CodeWebhookExists, true
	case errors.Is(err, webhook.ErrPreconditionFailed):
		return http.StatusPreconditionFailed, CodePreconditionFailed, true
	case errors.Is(err, webhook.ErrInvalidWebhook):
		return http.StatusBadRequest, CodeInvalidWebhook, true
	case errors.Is(err, webhook.ErrInvalidSubscription):
		return http.StatusBadRequest, CodeInvalidSubscription, true
	case errors.Is(err, webhook.ErrInvalidArgument):
		return http.StatusBadRequest, CodeInvalidArgument, true
	}
	return 0, "", false
}

// newRef returns a short random reference that ties an error answered to
// its log line.
func newRef() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeReply writes a reply with its headers.
func writeReply(w http.ResponseWriter, rp reply) {
	hdr := w.Header()
	if rp.etag != "" {
		hdr.Set("ETag", rp.etag)
	}
	if rp.location != "" {
		hdr.Set("Location", rp.location)
	}
	if rp.allow != "" {
		hdr.Set("Allow", rp.allow)
	}
	if rp.challenge != "" {
		hdr.Set("WWW-Authenticate", rp.challenge)
	}
	if rp.replayed {
		hdr.Set("Idempotent-Replayed", "true")
	}
	if rp.body == nil {
		w.WriteHeader(rp.status)
		return
	}
	hdr.Set("Content-Type", "application/json")
	w.WriteHeader(rp.status)
	_, _ = w.Write(rp.body)
}
