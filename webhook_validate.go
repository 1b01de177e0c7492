package webhook

import (
	"fmt"
	"math"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/scopehook/webhook/signature"
)

// Column sizes of the Python package's tables.
const (
	maxCodeLen     = 255
	maxNameLen     = 255
	maxEndpointLen = 200
	maxScopeLen    = 64
	maxDeliveryID  = 64
)

// Limits of a webhook's settings. A stored value beyond them, which the
// Python package does not check, is capped (maxRetryTimes, see
// webhookFromRow) or refused (maxInFlightLimit, see parseStoredExtra).
const (
	// maxRetryTimes bounds WebhookConfig.RetryTimes.
	maxRetryTimes = 20
	// maxInFlightLimit bounds WebhookConfig.MaxInFlight.
	maxInFlightLimit = 10000
)

// forbiddenHeaders may not be set by a webhook's custom headers: the
// transport or the signature owns them.
var forbiddenHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
}

// validate checks one webhook configuration and returns a description of
// the first problem, or "" when there is none.
func (wh *WebhookConfig) validate() string {
	switch {
	case strings.TrimSpace(wh.Code) == "":
		return "code is empty"
	case utf8.RuneCountInString(wh.Code) > maxCodeLen:
		return fmt.Sprintf("code is longer than %d characters", maxCodeLen)
	case wh.Code == "*":
		return `code "*" is reserved for "all events" in subscriptions`
	case strings.TrimSpace(wh.Name) == "":
		return "name is empty"
	case utf8.RuneCountInString(wh.Name) > maxNameLen:
		return fmt.Sprintf("name is longer than %d characters", maxNameLen)
	case !utf8.ValidString(wh.Code) || !utf8.ValidString(wh.Name):
		return "code or name is not valid UTF-8"
	}
	if msg := validateEndpoint(wh.Endpoint); msg != "" {
		return msg
	}
	switch strings.ToUpper(wh.Method) {
	case "", "GET", "POST":
	default:
		return fmt.Sprintf("method %q is not supported: use GET or POST", wh.Method)
	}
	if wh.ContentType != "" {
		if _, _, err := mime.ParseMediaType(wh.ContentType); err != nil || strings.ContainsAny(wh.ContentType, "\r\n") {
			return fmt.Sprintf("content type %q is not a valid media type", wh.ContentType)
		}
	}
	for i, h := range wh.Headers {
		if !validHeaderName(h.Key) {
			return fmt.Sprintf("headers[%d]: %q is not a valid header name", i, h.Key)
		}
		if forbiddenHeaders[strings.ToLower(h.Key)] {
			return fmt.Sprintf("headers[%d]: header %q is set by the library and cannot be overridden", i, h.Key)
		}
		if !validHeaderValue(h.Value) {
			return fmt.Sprintf("headers[%d] (%s): the value contains a control character such as CR or LF", i, h.Key)
		}
	}
	for k := range wh.Params {
		if k == "" {
			return "params has an empty key"
		}
	}
	for _, k := range []string{"event", "delivery_id"} {
		if _, ok := wh.Data[k]; ok {
			return fmt.Sprintf("data key %q is reserved: the library sets it in every body", k)
		}
	}
	if wh.Data != nil {
		if _, err := marshalJSON(wh.Data); err != nil {
			return fmt.Sprintf("data cannot be encoded as JSON: %v", err)
		}
	}
	if a := wh.Auth; a != nil {
		switch strings.ToLower(a.Type) {
		case "bearer":
			if a.Token == "" {
				return "auth type bearer needs a token"
			}
			if !validHeaderValue(a.Token) {
				return "auth token contains a control character such as CR or LF"
			}
		case "basic":
			if a.Username == "" {
				return "auth type basic needs a username"
			}
			if strings.Contains(a.Username, ":") {
				return "auth username contains ':', which basic auth cannot carry"
			}
		default:
			return fmt.Sprintf("auth type %q is not supported: use bearer or basic", a.Type)
		}
	}
	for i, secret := range wh.SigningSecrets {
		if _, err := signature.ParseSecret(secret); err != nil {
			return fmt.Sprintf("signing secret %d: %v (NewSigningSecret makes a valid one)", i, err)
		}
	}
	switch {
	case wh.Timeout < 0:
		return "timeout is negative"
	case wh.RetryTimes < 0 || wh.RetryTimes > maxRetryTimes:
		return fmt.Sprintf("retry times %d is out of range 0..%d", wh.RetryTimes, maxRetryTimes)
	case wh.RetryInterval < 0:
		return "retry interval is negative"
	case wh.RateLimit < 0 || math.IsNaN(wh.RateLimit) || math.IsInf(wh.RateLimit, 0):
		return "rate limit must be a number of requests per second ≥ 0 (0 for none)"
	case wh.MaxInFlight < 0 || wh.MaxInFlight > maxInFlightLimit:
		return fmt.Sprintf("max in flight %d is out of range 0..%d", wh.MaxInFlight, maxInFlightLimit)
	}
	return ""
}

func validateEndpoint(endpoint string) string {
	if endpoint == "" {
		return "endpoint is empty"
	}
	if utf8.RuneCountInString(endpoint) > maxEndpointLen {
		return fmt.Sprintf("endpoint is longer than %d characters", maxEndpointLen)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Sprintf("endpoint is not a valid URL: %v", redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("endpoint scheme %q is not supported: use an absolute http:// or https:// URL", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "endpoint has no host: use an absolute http:// or https:// URL"
	}
	if u.User != nil {
		return "endpoint contains user credentials: remove them from the URL and use Auth (they would be stored in clear text)"
	}
	return ""
}

// redactURLError drops the URL from a url.Error so a credential inside it
// cannot leak into a message.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters but horizontal tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
