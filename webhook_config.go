package webhook

import (
	"strings"
	"time"
)

// Media types of a request body (WebhookConfig.ContentType).
const (
	contentTypeJSON = "application/json" // the default
	contentTypeForm = "application/x-www-form-urlencoded"
)

// WebhookConfig is one endpoint configuration inside a scope: where to send,
// how, and with which credentials. ApplyScopeWebhooks stores it (credentials
// encrypted) and ScopeWebhooks returns it decrypted.
type WebhookConfig struct {
	// Code identifies the webhook within its scope (at most 255 characters).
	Code string
	// Name is a human-readable name (at most 255 characters).
	Name string
	// Endpoint is the absolute http or https URL requests go to (at most
	// 200 characters, no user:password part: use Auth).
	Endpoint string
	// Method is "POST" (the default when empty) or "GET". A GET request
	// still carries the JSON body, as the Python package sends it.
	Method string
	// Disabled webhooks are kept but never sent to.
	Disabled bool
	// ContentType of the request body. Defaults to "application/json".
	// "application/x-www-form-urlencoded" encodes the body as a form, nested
	// values in bracket notation (event[info][key]=value); any other type
	// is sent a JSON body under that Content-Type.
	ContentType string
	// Headers are added to every request, after the library's own headers;
	// their values are encrypted at rest.
	Headers []Header
	// Params become the query string of every request.
	Params map[string]string
	// Data is static content merged into every JSON body, under the "event"
	// and "delivery_id" keys that the library sets.
	Data map[string]any
	// Auth sets the Authorization header; nil means none.
	Auth *Auth
	// Timeout bounds one request. Zero means Config.Timeout.
	Timeout time.Duration
	// RetryTimes is the number of attempts after the first one when a
	// request fails (network error or non-2xx status other than 410 Gone).
	// At most 20; a larger stored retry_times (the Python package does not
	// check it) is read as 20, and a stored webhook without one has 2, as
	// in the Python package. With zero, DefaultRetryPolicy follows
	// DefaultRetrySchedule instead.
	RetryTimes int
	// RetryInterval is the delay before the first retry; later ones grow
	// with jittered exponential backoff. Zero means DefaultRetryInterval.
	RetryInterval time.Duration
	// InsecureSkipVerify turns TLS certificate verification off for this
	// webhook (the Python package's "verify": false). Leave it false.
	InsecureSkipVerify bool
	// SigningSecrets sign every request with Standard Webhooks headers
	// (webhook-id, webhook-timestamp, webhook-signature), one signature per
	// secret; the first is the current one. Each is "whsec_" and the base64
	// of 24 to 64 bytes (NewSigningSecret makes one). Encrypted at rest.
	// RotateSigningSecret adds a new one and retires the old ones after a
	// grace period.
	SigningSecrets []string
	// Ordered delivers this webhook's durable deliveries one at a time, in
	// the order they were enqueued: the next is sent once the previous one
	// succeeded or finally failed, so a failing delivery holds back only
	// this webhook. Broadcast is not affected. Stored in extra_info as
	// "ordered".
	Ordered bool
	// RateLimit caps the requests per second sent to this webhook by each
	// instance (durable deliveries wait for their turn; Broadcast waits
	// too). Zero means no limit. Stored in extra_info as "rate_limit".
	RateLimit float64
	// MaxInFlight caps how many durable deliveries of this webhook one
	// instance sends at once. Zero means Config.MaxInFlightPerWebhook; an
	// ordered webhook always has one. Stored in extra_info as
	// "max_in_flight".
	MaxInFlight int
	// NoTraceparent stops sending the W3C traceparent header to this
	// webhook (Config.DisableTraceparent does it for all). Stored in
	// extra_info as "traceparent": false.
	NoTraceparent bool
}

// Header is a custom request header. Its value is encrypted at rest and
// redacted in history.
type Header struct {
	// Key is the header name, an RFC 9110 token.
	Key string
	// Value is the header value, without control characters.
	Value string
	// Doc describes the header for operators; it is not sent.
	Doc string
}

// Auth is the Authorization of a webhook's requests.
type Auth struct {
	// Type is "bearer" or "basic", matched without regard to case.
	Type string
	// Token is the bearer token; encrypted at rest.
	Token string
	// Username is the basic-auth user name; stored as it is.
	Username string
	// Password is the basic-auth password; encrypted at rest.
	Password string
}

// clone returns a deep copy, so that the library never shares the caller's
// slices or maps.
func (wh WebhookConfig) clone() WebhookConfig {
	out := wh
	out.Headers = append([]Header(nil), wh.Headers...)
	if wh.Params != nil {
		out.Params = make(map[string]string, len(wh.Params))
		for k, v := range wh.Params {
			out.Params[k] = v
		}
	}
	if wh.Data != nil {
		out.Data = deepCopyJSON(wh.Data).(map[string]any)
	}
	if wh.Auth != nil {
		a := *wh.Auth
		out.Auth = &a
	}
	out.SigningSecrets = append([]string(nil), wh.SigningSecrets...)
	return out
}

// deepCopyJSON copies maps and slices of JSON-like values.
func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopyJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopyJSON(e)
		}
		return s
	default:
		return v
	}
}

// method returns the HTTP method to use.
func (wh *WebhookConfig) method() string {
	if wh.Method == "" {
		return "POST"
	}
	return strings.ToUpper(wh.Method)
}
