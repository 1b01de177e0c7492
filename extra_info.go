package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The extra_info column of webhook_webhook, in the format the Python package
// writes and reads: parsing it, building it, and reading a stored row into
// the configuration the library sends with. The credentials inside it are
// encrypted and decrypted in credentials.go.

// Values the Python package uses where extra_info leaves a setting unset.
const (
	legacyRetries  = 2               // retry_times
	legacyInterval = 2 * time.Second // interval
)

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
	// Traceparent false stops the traceparent header (absent: sent).
	Traceparent *bool `json:"traceparent,omitempty"`
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
		case "traceparent":
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("is %s, want a boolean", jsonKind(v))
			}
			se.Traceparent = &b
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

// auth returns the stored authorization, or nil when there is none: the
// Python package writes an authorization without a type for "no auth".
func (se *storedExtra) auth() *storedAuth {
	if se.Authorization == nil || se.Authorization.Type == "" {
		return nil
	}
	return se.Authorization
}

// activeAt reports whether a signing secret still signs at now: it has no
// expiry, or its grace period has not ended.
func (ss *storedSecret) activeAt(now time.Time) bool {
	return ss.ExpiresAt == nil || ss.ExpiresAt.After(now)
}

// storedExtraOf builds the extra_info column of wh without its credentials,
// which sealCredentials adds, encrypted.
func storedExtraOf(wh *WebhookConfig) storedExtra {
	retries := wh.RetryTimes
	se := storedExtra{
		ContentType: wh.ContentType,
		Data:        wh.Data,
		RetryTimes:  &retries,
		Interval:    seconds(wh.RetryInterval),
		Ordered:     wh.Ordered,
	}
	if wh.NoTraceparent {
		f := false
		se.Traceparent = &f
	}
	if wh.Timeout > 0 {
		se.Timeout = seconds(wh.Timeout)
	}
	if wh.InsecureSkipVerify {
		f := false
		se.Verify = &f
	}
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
	return se
}

// webhookFromRow reads a stored webhook row into the configuration the
// library sends with, its credentials left out (openCredentials decrypts
// them from the returned column). It is the one place where the defaults
// and caps of a stored row are applied, so that the sending path
// (decodeWebhook) and the operator tools (Webhooks) cannot disagree:
//
//   - Method is upper-cased, POST when the column is empty;
//   - RetryTimes is legacyRetries when unset and at most maxRetryTimes (the
//     Python package does not check it);
//   - RetryInterval is legacyInterval when unset;
//   - verify: false turns InsecureSkipVerify on;
//   - params that are not strings become their JSON text.
//
// Timeout and ContentType stay as stored, zero when unset, as in any
// WebhookConfig: each request then uses Config.Timeout and
// application/json. Keeping them zero keeps ScopeWebhooks' result equal to
// what was applied.
//
// When extra_info is malformed, the returned configuration holds the
// columns of the row and the error names the offending field.
func webhookFromRow(row *webhookRow) (WebhookConfig, storedExtra, error) {
	wh := WebhookConfig{
		Code:     row.Code,
		Name:     row.Name,
		Endpoint: row.Endpoint,
		Method:   row.Method,
		Disabled: !row.EnableWebhook,
	}
	wh.Method = wh.method()
	se, err := parseStoredExtra(row.ExtraInfo)
	if err != nil {
		return wh, storedExtra{}, err
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
	wh.NoTraceparent = se.Traceparent != nil && !*se.Traceparent
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
	return wh, se, nil
}

// encodeExtra builds the extra_info column for wh, encrypting credentials.
// prev is the stored column of the same webhook, if any: a credential whose
// plain text did not change keeps its stored ciphertext, so that applying an
// unchanged configuration writes nothing new.
func (c *Client) encodeExtra(wh *WebhookConfig, prev *storedExtra) ([]byte, error) {
	se := storedExtraOf(wh)
	if err := c.sealCredentials(&se, wh, prev); err != nil {
		return nil, err
	}
	return marshalJSON(se)
}

// decodeWebhook turns a stored row into the configuration the library sends
// with (webhookFromRow), credentials decrypted. It fails with ErrDecrypt
// when a credential does not decrypt and ErrInvalidWebhook when extra_info
// is malformed.
func (c *Client) decodeWebhook(row *webhookRow) (WebhookConfig, error) {
	wh, _, err := c.decodeWebhookRetiring(row)
	return wh, err
}

// decodeWebhookRetiring is decodeWebhook that also returns when the first
// of the signing secrets it kept retires, zero if none does.
func (c *Client) decodeWebhookRetiring(row *webhookRow) (WebhookConfig, time.Time, error) {
	wh, se, err := webhookFromRow(row)
	if err != nil {
		return wh, time.Time{}, fmt.Errorf("%w: webhook %q of scope %s/%s: %v", ErrInvalidWebhook, row.Code, row.ScopeType, row.ScopeCode, err)
	}
	now := c.now()
	if err := c.openCredentials(&wh, &se, now); err != nil {
		return wh, time.Time{}, fmt.Errorf("webhook %q of scope %s/%s: %w", row.Code, row.ScopeType, row.ScopeCode, err)
	}
	var retires time.Time
	for i := range se.SigningSecrets {
		if at := se.SigningSecrets[i].ExpiresAt; at != nil && at.After(now) && (retires.IsZero() || at.Before(retires)) {
			retires = *at
		}
	}
	return wh, retires, nil
}
