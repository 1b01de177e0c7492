package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	maxRetryTimes  = 20
	// maxInFlightLimit bounds WebhookConfig.MaxInFlight.
	maxInFlightLimit = 10000
	legacyRetries    = 2               // the Python package's retry_times when unset
	legacyInterval   = 2 * time.Second // the Python package's interval when unset
	contentTypeJSON  = "application/json"
	contentTypeForm  = "application/x-www-form-urlencoded"
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
	// At most 20.
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
}

// Header is a custom request header. Its value is encrypted at rest and
// redacted in history.
type Header struct {
	Key   string
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

// storedExtra is the extra_info column of webhook_webhook as the Python
// package writes it. Credential fields hold stored (encrypted) values.
type storedExtra struct {
	Authorization *storedAuth    `json:"authorization,omitempty"`
	Headers       []storedHeader `json:"headers,omitempty"`
	Params        map[string]any `json:"params,omitempty"`
	Data          map[string]any `json:"data,omitempty"`
	ContentType   string         `json:"content_type,omitempty"`
	Timeout       *float64       `json:"timeout,omitempty"`
	Verify        *bool          `json:"verify,omitempty"`
	RetryTimes    *int           `json:"retry_times,omitempty"`
	Interval      *float64       `json:"interval,omitempty"`
	// SigningSecrets is this library's addition: encrypted Standard
	// Webhooks secrets, the current one first, retired ones with an expiry.
	SigningSecrets []storedSecret `json:"signing_secrets,omitempty"`
	// Delivery controls of this library: ordering, rate limit, in-flight cap.
	Ordered     bool     `json:"ordered,omitempty"`
	RateLimit   *float64 `json:"rate_limit,omitempty"`
	MaxInFlight *int     `json:"max_in_flight,omitempty"`
}

type storedSecret struct {
	Secret    string     `json:"secret"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

type storedAuth struct {
	Type     string  `json:"type"`
	Token    *string `json:"token"`
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type storedHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
	Doc   string  `json:"doc,omitempty"`
}

// parseStoredExtra reads an extra_info column. It accepts what the Python
// package writes (numbers as JSON numbers or numeric strings, nulls for unset
// credentials) and rejects anything else with an error naming the field.
func parseStoredExtra(raw []byte) (storedExtra, error) {
	var se storedExtra
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return se, nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return se, fmt.Errorf("extra_info is not a JSON object: %w", err)
	}
	for k, v := range m {
		if v == nil {
			continue
		}
		var err error
		switch k {
		case "authorization":
			se.Authorization, err = parseStoredAuth(v)
		case "headers":
			se.Headers, err = parseStoredHeaders(v)
		case "params":
			obj, ok := v.(map[string]any)
			if !ok {
				err = fmt.Errorf("is %s, want an object", jsonKind(v))
			}
			se.Params = obj
		case "data":
			obj, ok := v.(map[string]any)
			if !ok {
				err = fmt.Errorf("is %s, want an object", jsonKind(v))
			}
			se.Data = normalizeNumbers(obj).(map[string]any)
		case "content_type":
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("is %s, want a string", jsonKind(v))
			}
			se.ContentType = s
		case "timeout":
			se.Timeout, err = parseNumber(v)
		case "interval":
			se.Interval, err = parseNumber(v)
		case "retry_times":
			var f *float64
			f, err = parseNumber(v)
			if err == nil {
				if *f != math.Trunc(*f) || *f < 0 || *f > math.MaxInt32 {
					err = fmt.Errorf("is %v, want a whole number ≥ 0", *f)
				} else {
					n := int(*f)
					se.RetryTimes = &n
				}
			}
		case "signing_secrets":
			se.SigningSecrets, err = parseStoredSecrets(v)
		case "ordered":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("is %s, want a boolean", jsonKind(v))
			}
			se.Ordered = b
		case "rate_limit":
			se.RateLimit, err = parseNumber(v)
			if err == nil && (*se.RateLimit < 0 || math.IsInf(*se.RateLimit, 0)) {
				err = fmt.Errorf("is %v, want a number ≥ 0", *se.RateLimit)
			}
		case "max_in_flight":
			var f *float64
			f, err = parseNumber(v)
			if err == nil {
				if *f != math.Trunc(*f) || *f < 0 || *f > maxInFlightLimit {
					err = fmt.Errorf("is %v, want a whole number from 0 to %d", *f, maxInFlightLimit)
				} else {
					n := int(*f)
					se.MaxInFlight = &n
				}
			}
		case "verify":
			switch b := v.(type) {
			case bool:
				se.Verify = &b
			case string:
				bv, perr := strconv.ParseBool(b)
				if perr != nil {
					err = fmt.Errorf("is %q, want true or false", b)
				}
				se.Verify = &bv
			default:
				err = fmt.Errorf("is %s, want a boolean", jsonKind(v))
			}
		}
		if err != nil {
			sep := " "
			if msg := err.Error(); strings.HasPrefix(msg, "[") || strings.HasPrefix(msg, ".") {
				sep = "" // a path inside the field: extra_info.headers[0].key
			}
			return storedExtra{}, fmt.Errorf("extra_info.%s%s%w", k, sep, err)
		}
	}
	return se, nil
}

func parseStoredSecrets(v any) ([]storedSecret, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want a list", jsonKind(v))
	}
	out := make([]storedSecret, 0, len(list))
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d] is %s, want an object", i, jsonKind(item))
		}
		var ss storedSecret
		if ss.Secret, ok = obj["secret"].(string); !ok {
			return nil, fmt.Errorf("[%d].secret is %s, want a string", i, jsonKind(obj["secret"]))
		}
		if e, present := obj["expires_at"]; present && e != nil {
			text, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("[%d].expires_at is %s, want a time", i, jsonKind(e))
			}
			t, err := time.Parse(time.RFC3339Nano, text)
			if err != nil {
				return nil, fmt.Errorf("[%d].expires_at is not an RFC 3339 time", i)
			}
			ss.ExpiresAt = &t
		}
		out = append(out, ss)
	}
	return out, nil
}

func parseStoredAuth(v any) (*storedAuth, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want an object", jsonKind(v))
	}
	a := &storedAuth{}
	for k, f := range obj {
		if f == nil {
			continue
		}
		s, ok := f.(string)
		if !ok {
			return nil, fmt.Errorf(".%s is %s, want a string", k, jsonKind(f))
		}
		switch k {
		case "type":
			a.Type = s
		case "token":
			a.Token = &s
		case "username":
			a.Username = &s
		case "password":
			a.Password = &s
		}
	}
	return a, nil
}

func parseStoredHeaders(v any) ([]storedHeader, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want a list", jsonKind(v))
	}
	out := make([]storedHeader, 0, len(list))
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d] is %s, want an object", i, jsonKind(item))
		}
		var h storedHeader
		for k, f := range obj {
			if f == nil {
				continue
			}
			s, ok := f.(string)
			if !ok {
				if n, isNum := f.(json.Number); isNum && k == "value" {
					s = n.String()
				} else {
					return nil, fmt.Errorf("[%d].%s is %s, want a string", i, k, jsonKind(f))
				}
			}
			switch k {
			case "key":
				h.Key = s
			case "value":
				h.Value = &s
			case "doc":
				h.Doc = s
			}
		}
		out = append(out, h)
	}
	return out, nil
}

func parseNumber(v any) (*float64, error) {
	var f float64
	var err error
	switch n := v.(type) {
	case json.Number:
		f, err = n.Float64()
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(n), 64)
	default:
		return nil, fmt.Errorf("is %s, want a number", jsonKind(v))
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return nil, fmt.Errorf("is %v, want a number ≥ 0", v)
	}
	return &f, nil
}

// normalizeNumbers turns json.Number values back into float64 or int64 so
// that re-encoding keeps them as numbers and comparisons are stable.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f) // 2.0, -0.0 and 1e3 are whole: one encoding each
			}
			return f
		}
		return x.String()
	default:
		return v
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// seconds converts a duration to the number of seconds the Python package
// stores (a whole number when it is one).
func seconds(d time.Duration) *float64 {
	f := d.Seconds()
	return &f
}

func fromSeconds(f *float64) time.Duration {
	if f == nil {
		return 0
	}
	ns := *f * float64(time.Second)
	if ns >= math.MaxInt64 { // float64(math.MaxInt64) is 2^63: out of range
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns)
}

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

// encodeExtra builds the extra_info column for wh, encrypting credentials.
// prev is the stored column of the same webhook, if any: a credential whose
// plain text did not change keeps its stored ciphertext, so that applying an
// unchanged configuration writes nothing new.
func (c *Client) encodeExtra(wh *WebhookConfig, prev *storedExtra) ([]byte, error) {
	reuse := func(old *string, plain string) (*string, error) {
		if old != nil && *old != "" && c.vault.isCurrent(*old) {
			if p, err := c.vault.decrypt(*old); err == nil && p == plain {
				return old, nil
			}
		}
		enc, err := c.vault.encrypt(plain)
		if err != nil {
			return nil, err
		}
		return &enc, nil
	}
	se := storedExtra{
		ContentType: wh.ContentType,
		Data:        wh.Data,
		Timeout:     nil,
		RetryTimes:  &wh.RetryTimes,
		Interval:    seconds(wh.RetryInterval),
	}
	if wh.Timeout > 0 {
		se.Timeout = seconds(wh.Timeout)
	}
	if wh.InsecureSkipVerify {
		f := false
		se.Verify = &f
	}
	se.Ordered = wh.Ordered
	if wh.RateLimit > 0 {
		r := wh.RateLimit
		se.RateLimit = &r
	}
	if wh.MaxInFlight > 0 {
		n := wh.MaxInFlight
		se.MaxInFlight = &n
	}
	if len(wh.Params) > 0 {
		se.Params = make(map[string]any, len(wh.Params))
		for k, v := range wh.Params {
			se.Params[k] = v
		}
	}
	if wh.Auth != nil {
		a := &storedAuth{Type: wh.Auth.Type}
		var prevAuth *storedAuth
		if prev != nil {
			prevAuth = prev.Authorization
		}
		var err error
		switch strings.ToLower(wh.Auth.Type) {
		case "bearer":
			var old *string
			if prevAuth != nil {
				old = prevAuth.Token
			}
			if a.Token, err = reuse(old, wh.Auth.Token); err != nil {
				return nil, err
			}
		case "basic":
			u := wh.Auth.Username
			a.Username = &u
			var old *string
			if prevAuth != nil {
				old = prevAuth.Password
			}
			if wh.Auth.Password != "" {
				if a.Password, err = reuse(old, wh.Auth.Password); err != nil {
					return nil, err
				}
			}
		}
		se.Authorization = a
	}
	for i, h := range wh.Headers {
		var old *string
		if prev != nil && i < len(prev.Headers) && prev.Headers[i].Key == h.Key {
			old = prev.Headers[i].Value
		}
		v, err := reuse(old, h.Value)
		if err != nil {
			return nil, err
		}
		se.Headers = append(se.Headers, storedHeader{Key: h.Key, Value: v, Doc: h.Doc})
	}
	for _, secret := range wh.SigningSecrets {
		ss := storedSecret{}
		var old *string
		if prev != nil {
			for _, p := range prev.SigningSecrets {
				if plain, err := c.vault.decrypt(p.Secret); err == nil && plain == secret {
					old, ss.ExpiresAt = &p.Secret, p.ExpiresAt
					break
				}
			}
		}
		v, err := reuse(old, secret)
		if err != nil {
			return nil, err
		}
		ss.Secret = *v
		se.SigningSecrets = append(se.SigningSecrets, ss)
	}
	return marshalJSON(se)
}

// decodeWebhook turns a stored row into a configuration with decrypted
// credentials. It fails with ErrDecrypt when a credential does not decrypt
// and ErrInvalidWebhook when extra_info is malformed.
func (c *Client) decodeWebhook(row *webhookRow) (WebhookConfig, error) {
	wh := WebhookConfig{
		Code:     row.Code,
		Name:     row.Name,
		Endpoint: row.Endpoint,
		Method:   row.Method,
		Disabled: !row.EnableWebhook,
	}
	se, err := parseStoredExtra(row.ExtraInfo)
	if err != nil {
		return wh, fmt.Errorf("%w: webhook %q of scope %s/%s: %v", ErrInvalidWebhook, row.Code, row.ScopeType, row.ScopeCode, err)
	}
	wh.ContentType = se.ContentType
	wh.Data = se.Data
	wh.Timeout = fromSeconds(se.Timeout)
	wh.RetryTimes = legacyRetries
	if se.RetryTimes != nil {
		wh.RetryTimes = min(*se.RetryTimes, maxRetryTimes)
	}
	wh.RetryInterval = legacyInterval
	if se.Interval != nil {
		wh.RetryInterval = fromSeconds(se.Interval)
	}
	wh.InsecureSkipVerify = se.Verify != nil && !*se.Verify
	wh.Ordered = se.Ordered
	if se.RateLimit != nil {
		wh.RateLimit = *se.RateLimit
	}
	if se.MaxInFlight != nil {
		wh.MaxInFlight = *se.MaxInFlight
	}
	if len(se.Params) > 0 {
		wh.Params = make(map[string]string, len(se.Params))
		for k, v := range se.Params {
			switch x := v.(type) {
			case string:
				wh.Params[k] = x
			case nil:
				wh.Params[k] = ""
			default:
				b, _ := marshalJSON(normalizeNumbers(x))
				wh.Params[k] = string(b)
			}
		}
	}
	fail := func(what string, err error) (WebhookConfig, error) {
		return wh, fmt.Errorf("webhook %q of scope %s/%s: %s: %w", row.Code, row.ScopeType, row.ScopeCode, what, err)
	}
	if a := se.Authorization; a != nil && a.Type != "" {
		wh.Auth = &Auth{Type: a.Type}
		if a.Username != nil {
			wh.Auth.Username = *a.Username
		}
		if a.Token != nil {
			if wh.Auth.Token, err = c.vault.decrypt(*a.Token); err != nil {
				return fail("auth token", err)
			}
		}
		if a.Password != nil {
			if wh.Auth.Password, err = c.vault.decrypt(*a.Password); err != nil {
				return fail("auth password", err)
			}
		}
	}
	now := c.now()
	for i, ss := range se.SigningSecrets {
		if ss.ExpiresAt != nil && !ss.ExpiresAt.After(now) {
			continue // retired after its grace period
		}
		plain, err := c.vault.decrypt(ss.Secret)
		if err != nil {
			return fail(fmt.Sprintf("signing secret %d", i), err)
		}
		wh.SigningSecrets = append(wh.SigningSecrets, plain)
	}
	for _, h := range se.Headers {
		hd := Header{Key: h.Key, Doc: h.Doc}
		if h.Value != nil {
			if hd.Value, err = c.vault.decrypt(*h.Value); err != nil {
				return fail(fmt.Sprintf("header %q", h.Key), err)
			}
		}
		wh.Headers = append(wh.Headers, hd)
	}
	return wh, nil
}
