package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook/signature"
)

// newDeliveryID returns 32 random hex digits, like the Python package's
// uuid4().hex.
func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// outgoing is a request ready to send, with what history and hooks may see.
type outgoing struct {
	method   string
	url      string // endpoint with the query string
	endpoint string // endpoint as configured, for history
	params   map[string]string
	header   http.Header // the real header, credentials included
	body     []byte
	jsonBody bool
	secrets  []string        // credential values to scrub from anything recorded
	msgID    string          // the delivery id as sent and signed in webhook-id (see headerDeliveryID)
	signKeys []signature.Key // Standard Webhooks keys; empty when unsigned
}

// eventPayload is the "event" object of every body.
type eventPayload struct {
	Code        string         `json:"code"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Info        map[string]any `json:"info"`
}

// buildRequest prepares the request of one delivery in the Python package's
// wire format: the webhook's static data merged with
// {"event": {...}, "delivery_id": "..."}, params as the query string,
// Authorization from auth, user headers last.
func buildRequest(wh *WebhookConfig, event []byte, deliveryID string) (*outgoing, error) {
	o := &outgoing{method: wh.method(), endpoint: wh.Endpoint, params: wh.Params}
	u, err := url.Parse(wh.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: endpoint is not a valid URL: %v", ErrInvalidWebhook, redactURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: endpoint %q is not an absolute http(s) URL", ErrInvalidWebhook, u.Redacted())
	}
	if len(wh.Params) > 0 {
		q := u.Query()
		for k, v := range wh.Params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	o.url = u.String()

	contentType := wh.ContentType
	if contentType == "" {
		contentType = contentTypeJSON
	}
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if mediaType == contentTypeForm {
		var ev any
		if err := json.Unmarshal(event, &ev); err != nil {
			return nil, fmt.Errorf("webhook: encoding form body: %w", err)
		}
		body := make(map[string]any, len(wh.Data)+2)
		for k, v := range wh.Data {
			body[k] = v
		}
		body["event"] = ev
		body["delivery_id"] = deliveryID
		o.body = []byte(formEncode(body))
	} else {
		o.jsonBody = true
		o.body, err = jsonBody(wh.Data, event, deliveryID)
		if err != nil {
			return nil, fmt.Errorf("%w: data cannot be encoded as JSON: %v", ErrInvalidWebhook, err)
		}
	}

	h := make(http.Header, 4+len(wh.Headers))
	h.Set("Content-Type", contentType)
	h.Set("User-Agent", UserAgent)
	if a := wh.Auth; a != nil {
		switch strings.ToLower(a.Type) {
		case "bearer":
			h.Set("Authorization", "Bearer "+a.Token)
			o.secrets = append(o.secrets, a.Token)
		case "basic":
			cred := base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
			h.Set("Authorization", "Basic "+cred)
			o.secrets = append(o.secrets, a.Password, cred)
		case "":
		default:
			return nil, fmt.Errorf("%w: auth type %q is not supported: use bearer or basic", ErrInvalidWebhook, a.Type)
		}
	}
	for _, hd := range wh.Headers {
		if !validHeaderName(hd.Key) || !validHeaderValue(hd.Value) || forbiddenHeaders[strings.ToLower(hd.Key)] {
			return nil, fmt.Errorf("%w: header %q cannot be sent: fix it and apply the webhook again", ErrInvalidWebhook, hd.Key)
		}
		h.Set(hd.Key, hd.Value)
		o.secrets = append(o.secrets, hd.Value)
	}
	o.header = h
	o.msgID = headerDeliveryID(deliveryID)
	for _, secret := range wh.SigningSecrets {
		key, err := signature.ParseSecret(secret)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidWebhook, err)
		}
		o.signKeys = append(o.signKeys, key)
		o.secrets = append(o.secrets, secret, strings.TrimPrefix(secret, SigningSecretPrefix))
	}
	return o, nil
}

// headerDeliveryID is the delivery id as sent in webhook-id and signed: the
// id itself when every byte is visible ASCII ('!' to '~') other than '%',
// which is every generated id; otherwise each other byte (space, tab, '%'
// and every byte of a non-ASCII character) percent-encoded as %XX, upper
// case. The header is then plain ASCII, read identically by every runtime
// (Node and Python read header bytes as Latin-1, so a raw UTF-8 id would be
// signed as one text and verified as another), and no space at either end
// is trimmed away. Escaping '%' keeps the mapping one-to-one: no two ids
// share a webhook-id, and decodeURIComponent, urllib.parse.unquote or
// url.PathUnescape give the id back. The body carries the id unchanged.
func headerDeliveryID(id string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < '!' || c > '~' || c == '%' {
			n++
		}
	}
	if n == 0 {
		return id
	}
	b := make([]byte, 0, len(id)+2*n)
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < '!' || c > '~' || c == '%' {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// sign sets the Standard Webhooks headers of one attempt on h.
func (o *outgoing) sign(h http.Header, now time.Time) {
	if len(o.signKeys) == 0 {
		return
	}
	ts := now.Unix()
	sigs := make([]string, len(o.signKeys))
	for i, key := range o.signKeys {
		sigs[i] = key.Sign(o.msgID, now, o.body)
	}
	h.Set(HeaderWebhookID, o.msgID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, strings.Join(sigs, " "))
}

// jsonBody encodes data merged with the event and the delivery id. The event
// is already encoded once per broadcast.
func jsonBody(data map[string]any, event []byte, deliveryID string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(event) + 64)
	buf.WriteByte('{')
	if len(data) > 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			if k != "event" && k != "delivery_id" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			kb, _ := marshalJSON(k)
			vb, err := marshalJSON(data[k])
			if err != nil {
				return nil, err
			}
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(vb)
			buf.WriteByte(',')
		}
	}
	buf.WriteString(`"event":`)
	buf.Write(event)
	buf.WriteString(`,"delivery_id":`)
	idb, _ := marshalJSON(deliveryID)
	buf.Write(idb)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// formEncode encodes a body as application/x-www-form-urlencoded, nested
// objects and lists in bracket notation (event[info][id]=1, tags[0]=a), which
// Rails, PHP, Express (qs) and Django-style parsers all understand.
func formEncode(body map[string]any) string {
	vals := url.Values{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(prefix+"["+k+"]", e)
			}
		case []any:
			for i, e := range x {
				walk(prefix+"["+strconv.Itoa(i)+"]", e)
			}
		case nil:
			vals.Add(prefix, "")
		case string:
			vals.Add(prefix, x)
		case bool:
			vals.Add(prefix, strconv.FormatBool(x))
		default:
			b, err := marshalJSON(x)
			if err != nil {
				vals.Add(prefix, fmt.Sprint(x))
			} else {
				vals.Add(prefix, string(b))
			}
		}
	}
	for k, v := range body {
		walk(k, v)
	}
	return vals.Encode()
}

// redactedHeader returns a copy of h fit for history and hooks: the
// Authorization value and every custom header value are replaced.
func redactedHeader(h http.Header, wh *WebhookConfig) http.Header {
	out := h.Clone()
	if v := out.Get("Authorization"); v != "" {
		scheme, _, _ := strings.Cut(v, " ")
		out.Set("Authorization", scheme+" "+redacted)
	}
	for _, hd := range wh.Headers {
		out.Set(hd.Key, redacted)
	}
	return out
}

// redacted replaces a credential wherever the library records something.
const redacted = "[REDACTED]"

// scrubber replaces every credential value in recorded text.
type scrubber struct{ r *strings.Replacer }

func newScrubber(secrets []string) scrubber {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, redacted)
		}
	}
	if len(pairs) == 0 {
		return scrubber{}
	}
	return scrubber{strings.NewReplacer(pairs...)}
}

func (s scrubber) string(v string) string {
	if s.r == nil {
		return v
	}
	return s.r.Replace(v)
}
