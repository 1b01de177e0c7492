package webhook

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Fernet tokens written by the Python package under pythonSecret.
var (
	pyTokShared = pythonTokens[0].token // "tok-shared-123"
	pyPassword  = pythonTokens[1].token // "s3cr3t-pw"
	pyPayments  = pythonTokens[2].token // "payments"
)

// pythonExtraBasic is an extra_info column as the Python package writes it
// for a webhook with basic auth and an encrypted header.
var pythonExtraBasic = `{"authorization": {"type": "basic", "token": null, "username": "alice", "password": "` + pyPassword + `"}, ` +
	`"headers": [{"key": "X-Team", "value": "` + pyPayments + `", "doc": "team header"}], "retry_times": 0, "interval": 0}`

func ptr[T any](v T) *T { return &v }

func TestParseStoredExtraAcceptsPythonColumns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want storedExtra
	}{
		{"null column", "", storedExtra{}},
		{"JSON null", "null", storedExtra{}},
		{"JSON null with spaces", " \n null \t", storedExtra{}},
		{"empty object", "{}", storedExtra{}},
		{"basic auth and header", pythonExtraBasic, storedExtra{
			Authorization: &storedAuth{Type: "basic", Username: ptr("alice"), Password: ptr(pyPassword)},
			Headers:       []storedHeader{{Key: "X-Team", Value: ptr(pyPayments), Doc: "team header"}},
			RetryTimes:    ptr(0),
			Interval:      ptr(0.0),
		}},
		{"bearer", `{"authorization": {"type": "bearer", "token": "` + pyTokShared + `", "username": null, "password": null}}`, storedExtra{
			Authorization: &storedAuth{Type: "bearer", Token: ptr(pyTokShared)},
		}},
		{"params and data", `{"params": {"source": "bkflow"}, "data": {"static": "yes"}, "retry_times": 0, "interval": 0}`, storedExtra{
			Params:     map[string]any{"source": "bkflow"},
			Data:       map[string]any{"static": "yes"},
			RetryTimes: ptr(0),
			Interval:   ptr(0.0),
		}},
		{"numbers in data are plain numbers", `{"data": {"n": 3, "f": 1.5, "list": [1, {"x": 2}]}}`, storedExtra{
			Data: map[string]any{"n": int64(3), "f": 1.5, "list": []any{int64(1), map[string]any{"x": int64(2)}}},
		}},
		{"timeout only", `{"timeout": 5}`, storedExtra{Timeout: ptr(5.0)}},
		{"fractional timeout", `{"timeout": 2.5, "interval": 0.25}`, storedExtra{Timeout: ptr(2.5), Interval: ptr(0.25)}},
		{"numeric strings", `{"timeout": "5", "interval": " 1.5 ", "retry_times": "3"}`, storedExtra{Timeout: ptr(5.0), Interval: ptr(1.5), RetryTimes: ptr(3)}},
		{"whole float retry_times", `{"retry_times": 4.0}`, storedExtra{RetryTimes: ptr(4)}},
		{"verify false", `{"verify": false}`, storedExtra{Verify: ptr(false)}},
		{"verify true", `{"verify": true}`, storedExtra{Verify: ptr(true)}},
		{"verify as text", `{"verify": "false"}`, storedExtra{Verify: ptr(false)}},
		{"content type", `{"content_type": "application/x-www-form-urlencoded"}`, storedExtra{ContentType: "application/x-www-form-urlencoded"}},
		{"nulls everywhere", `{"authorization": null, "headers": null, "params": null, "data": null, "timeout": null, "verify": null, "retry_times": null, "interval": null, "content_type": null}`, storedExtra{}},
		{"numeric header value", `{"headers": [{"key": "X-Num", "value": 42}]}`, storedExtra{Headers: []storedHeader{{Key: "X-Num", Value: ptr("42")}}}},
		{"header with null value", `{"headers": [{"key": "X-Empty", "value": null, "doc": null}]}`, storedExtra{Headers: []storedHeader{{Key: "X-Empty"}}}},
		{"empty header list", `{"headers": []}`, storedExtra{Headers: []storedHeader{}}},
		{"unknown keys are ignored", `{"future_option": [1, 2], "timeout": 1}`, storedExtra{Timeout: ptr(1.0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStoredExtra([]byte(tc.raw))
			if err != nil {
				t.Fatalf("parseStoredExtra: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseStoredExtra =\n%s\nwant\n%s", dumpExtra(got), dumpExtra(tc.want))
			}
			// What it parsed can be written back and read again unchanged.
			out, err := marshalJSON(got)
			if err != nil {
				t.Fatalf("marshalJSON: %v", err)
			}
			again, err := parseStoredExtra(out)
			if err != nil {
				t.Fatalf("parseStoredExtra(%s): %v", out, err)
			}
			out2, _ := marshalJSON(again)
			if string(out) != string(out2) {
				t.Fatalf("not stable:\n%s\n%s", out, out2)
			}
		})
	}
}

func dumpExtra(se storedExtra) string {
	b, _ := json.MarshalIndent(se, "", "  ")
	return string(b)
}

func TestParseStoredExtraRejectsWrongTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  string
		want []string
	}{
		{`[]`, []string{"not a JSON object"}},
		{`"text"`, []string{"not a JSON object"}},
		{`{"timeout": 5`, []string{"not a JSON object"}},
		{`{"headers": {}}`, []string{"extra_info.headers", "want a list"}},
		{`{"headers": "X-Team: a"}`, []string{"extra_info.headers", "want a list"}},
		{`{"headers": ["X-Team"]}`, []string{"extra_info.headers", "[0]", "want an object"}},
		{`{"headers": [{"key": "a", "value": "b"}, {"key": 1}]}`, []string{"extra_info.headers", "[1].key", "want a string"}},
		{`{"headers": [{"key": "a", "value": true}]}`, []string{"extra_info.headers", "[0].value", "want a string"}},
		{`{"authorization": "Bearer x"}`, []string{"extra_info.authorization", "want an object"}},
		{`{"authorization": {"type": "bearer", "token": 123}}`, []string{"extra_info.authorization", ".token", "want a string"}},
		{`{"authorization": {"type": ["basic"]}}`, []string{"extra_info.authorization", ".type", "want a string"}},
		{`{"params": []}`, []string{"extra_info.params", "want an object"}},
		{`{"params": "a=b"}`, []string{"extra_info.params", "want an object"}},
		{`{"data": [1]}`, []string{"extra_info.data", "want an object"}},
		{`{"data": "x"}`, []string{"extra_info.data", "want an object"}},
		{`{"content_type": 1}`, []string{"extra_info.content_type", "want a string"}},
		{`{"timeout": "five"}`, []string{"extra_info.timeout", "want a number"}},
		{`{"timeout": true}`, []string{"extra_info.timeout", "want a number"}},
		{`{"timeout": -1}`, []string{"extra_info.timeout", "≥ 0"}},
		{`{"timeout": "NaN"}`, []string{"extra_info.timeout"}},
		{`{"timeout": "Inf"}`, []string{"extra_info.timeout"}},
		{`{"timeout": 1e999}`, []string{"extra_info.timeout"}},
		{`{"interval": {}}`, []string{"extra_info.interval", "want a number"}},
		{`{"interval": -0.5}`, []string{"extra_info.interval"}},
		{`{"retry_times": 1.5}`, []string{"extra_info.retry_times", "whole number"}},
		{`{"retry_times": -1}`, []string{"extra_info.retry_times"}},
		{`{"retry_times": "many"}`, []string{"extra_info.retry_times"}},
		{`{"retry_times": 1e12}`, []string{"extra_info.retry_times"}},
		{`{"verify": "maybe"}`, []string{"extra_info.verify", "true or false"}},
		{`{"verify": 0}`, []string{"extra_info.verify", "want a boolean"}},
	}
	for _, tc := range cases {
		got, err := parseStoredExtra([]byte(tc.raw))
		if err == nil {
			t.Errorf("parseStoredExtra(%s) = %s, want an error", tc.raw, dumpExtra(got))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("parseStoredExtra(%s) error %q does not mention %q", tc.raw, err, w)
			}
		}
		if !reflect.DeepEqual(got, storedExtra{}) {
			t.Errorf("parseStoredExtra(%s) returned %s along with its error", tc.raw, dumpExtra(got))
		}
	}
}

func TestDecodeWebhookFromPythonRow(t *testing.T) {
	t.Parallel()
	c := newOfflineClient(t, Config{PrivateSecret: pythonSecret})
	row := func(extra string) *webhookRow {
		r := &webhookRow{
			Code: "wh1", Name: "Webhook 1", Endpoint: "https://example.com/hook",
			ScopeType: "template", ScopeCode: "1", Method: "POST", EnableWebhook: true,
		}
		if extra != "" {
			r.ExtraInfo = jsonText(extra)
		}
		return r
	}
	base := WebhookConfig{Code: "wh1", Name: "Webhook 1", Endpoint: "https://example.com/hook", Method: "POST"}
	with := func(f func(*WebhookConfig)) WebhookConfig {
		wh := base
		f(&wh)
		return wh
	}
	cases := []struct {
		name  string
		extra string
		want  WebhookConfig
	}{
		{"basic auth and header", pythonExtraBasic, with(func(wh *WebhookConfig) {
			wh.Auth = &Auth{Type: "basic", Username: "alice", Password: "s3cr3t-pw"}
			wh.Headers = []Header{{Key: "X-Team", Value: "payments", Doc: "team header"}}
			wh.RetryTimes, wh.RetryInterval = 0, 0
		})},
		{"bearer", `{"authorization": {"type": "bearer", "token": "` + pyTokShared + `", "username": null, "password": null}, "retry_times": 3, "interval": 1.5, "timeout": 7}`, with(func(wh *WebhookConfig) {
			wh.Auth = &Auth{Type: "bearer", Token: "tok-shared-123"}
			wh.RetryTimes, wh.RetryInterval, wh.Timeout = 3, 1500*time.Millisecond, 7*time.Second
		})},
		{"params and data", `{"params": {"source": "bkflow", "page": 2, "none": null}, "data": {"static": "yes"}, "retry_times": 0, "interval": 0}`, with(func(wh *WebhookConfig) {
			wh.Params = map[string]string{"source": "bkflow", "page": "2", "none": ""}
			wh.Data = map[string]any{"static": "yes"}
			wh.RetryTimes, wh.RetryInterval = 0, 0
		})},
		{"python defaults when absent", `{"timeout": 5}`, with(func(wh *WebhookConfig) {
			wh.Timeout = 5 * time.Second
			wh.RetryTimes, wh.RetryInterval = legacyRetries, legacyInterval
		})},
		{"null column", "", with(func(wh *WebhookConfig) {
			wh.RetryTimes, wh.RetryInterval = 2, 2*time.Second
		})},
		{"JSON null", "null", with(func(wh *WebhookConfig) {
			wh.RetryTimes, wh.RetryInterval = 2, 2*time.Second
		})},
		{"verify false", `{"verify": false}`, with(func(wh *WebhookConfig) {
			wh.RetryTimes, wh.RetryInterval = 2, 2*time.Second
			wh.InsecureSkipVerify = true
		})},
		{"verify true", `{"verify": true}`, with(func(wh *WebhookConfig) {
			wh.RetryTimes, wh.RetryInterval = 2, 2*time.Second
		})},
		{"retry_times above the cap", `{"retry_times": 50, "interval": "3"}`, with(func(wh *WebhookConfig) {
			wh.RetryTimes, wh.RetryInterval = maxRetryTimes, 3*time.Second
		})},
		{"legacy plain-text credentials", `{"authorization": {"type": "bearer", "token": "plain-token"}, "headers": [{"key": "X-Team", "value": "payments"}]}`, with(func(wh *WebhookConfig) {
			wh.Auth = &Auth{Type: "bearer", Token: "plain-token"}
			wh.Headers = []Header{{Key: "X-Team", Value: "payments"}}
			wh.RetryTimes, wh.RetryInterval = 2, 2*time.Second
		})},
		{"authorization without type", `{"authorization": {"type": "", "token": null}}`, with(func(wh *WebhookConfig) {
			wh.RetryTimes, wh.RetryInterval = 2, 2*time.Second
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.decodeWebhook(row(tc.extra))
			if err != nil {
				t.Fatalf("decodeWebhook: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeWebhook =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}

	disabled := row(`{"verify": false}`)
	disabled.EnableWebhook, disabled.Method = false, "GET"
	if got, err := c.decodeWebhook(disabled); err != nil || !got.Disabled || got.Method != "GET" || !got.InsecureSkipVerify {
		t.Fatalf("disabled GET row: %#v, %v", got, err)
	}
}

func TestDecodeWebhookErrors(t *testing.T) {
	t.Parallel()
	right := newOfflineClient(t, Config{PrivateSecret: pythonSecret})
	wrong := newOfflineClient(t, Config{PrivateSecret: "not-the-python-secret"})
	row := &webhookRow{Code: "wh1", Name: "W", Endpoint: "https://example.com", ScopeType: "template", ScopeCode: "7", Method: "POST", EnableWebhook: true}

	row.ExtraInfo = jsonText(pythonExtraBasic)
	_, err := wrong.decodeWebhook(row)
	if !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "auth password") || !strings.Contains(err.Error(), `"wh1"`) || !strings.Contains(err.Error(), "template/7") {
		t.Fatalf("wrong secret: error = %v, want ErrDecrypt naming the webhook, its scope and the auth password", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("error leaks the password: %v", err)
	}

	row.ExtraInfo = jsonText(`{"headers": [{"key": "X-Team", "value": "` + pyPayments + `"}]}`)
	_, err = wrong.decodeWebhook(row)
	if !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), `header "X-Team"`) || strings.Contains(err.Error(), "payments") {
		t.Fatalf("wrong secret, header: error = %v", err)
	}

	row.ExtraInfo = jsonText(`{"authorization": {"type": "bearer", "token": "` + pyTokShared + `"}}`)
	if _, err = wrong.decodeWebhook(row); !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "auth token") {
		t.Fatalf("wrong secret, token: error = %v", err)
	}
	if got, err := right.decodeWebhook(row); err != nil || got.Auth == nil || got.Auth.Token != "tok-shared-123" {
		t.Fatalf("right secret: %#v, %v", got, err)
	}

	row.ExtraInfo = jsonText(`{"headers": {}}`)
	_, err = right.decodeWebhook(row)
	if !errors.Is(err, ErrInvalidWebhook) || !strings.Contains(err.Error(), "extra_info.headers") || !strings.Contains(err.Error(), "template/7") {
		t.Fatalf("malformed extra_info: error = %v, want ErrInvalidWebhook naming extra_info.headers", err)
	}
}

// TestDecodeWebhookReadsWhatEncodeExtraWrites checks the library's own
// writer against its reader, with credentials in both formats.
func TestDecodeWebhookReadsWhatEncodeExtraWrites(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		c := newOfflineClient(t, Config{PrivateSecret: pythonSecret, LegacyFernet: legacy})
		in := WebhookConfig{
			Code: "wh", Name: "W", Endpoint: "https://example.com/h", Method: "POST",
			ContentType:        "application/x-www-form-urlencoded",
			Headers:            []Header{{Key: "X-Team", Value: "payments", Doc: "team header"}, {Key: "X-Empty"}},
			Params:             map[string]string{"source": "bkflow"},
			Data:               map[string]any{"static": "yes", "n": int64(2)},
			Auth:               &Auth{Type: "basic", Username: "alice", Password: "s3cr3t-pw"},
			Timeout:            1500 * time.Millisecond,
			RetryTimes:         0,
			RetryInterval:      0,
			InsecureSkipVerify: true,
		}
		raw, err := c.encodeExtra(&in, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"s3cr3t-pw", `"payments"`} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("legacy=%v: extra_info %s holds a credential in clear", legacy, raw)
			}
		}
		if legacy && !strings.Contains(string(raw), `"gAAAAA`) {
			t.Fatalf("LegacyFernet extra_info %s holds no Fernet token", raw)
		}
		got, err := c.decodeWebhook(&webhookRow{Code: "wh", Name: "W", Endpoint: "https://example.com/h", Method: "POST", EnableWebhook: true, ExtraInfo: raw})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("legacy=%v: round trip through %s\n got %#v\nwant %#v", legacy, raw, got, in)
		}
	}
}

func TestDecodeWebhookHugeDurationsDoNotOverflow(t *testing.T) {
	t.Parallel()
	c := newOfflineClient(t, Config{PrivateSecret: pythonSecret})
	for _, extra := range []string{`{"timeout": 1e10}`, `{"interval": 1e10}`, `{"timeout": "9300000000", "interval": 1e300}`} {
		wh, err := c.decodeWebhook(&webhookRow{Code: "wh", Name: "W", Endpoint: "https://example.com", Method: "POST", ExtraInfo: jsonText(extra)})
		if err != nil {
			t.Fatal(err)
		}
		if wh.Timeout < 0 || wh.RetryInterval < 0 {
			t.Fatalf("%s: Timeout %v, RetryInterval %v; want non-negative (clamped)", extra, wh.Timeout, wh.RetryInterval)
		}
		if msg := wh.validate(); msg != "" {
			t.Fatalf("%s: decoded config fails validate: %s", extra, msg)
		}
	}
	wh, _ := c.decodeWebhook(&webhookRow{Code: "wh", Name: "W", Endpoint: "https://example.com", Method: "POST", ExtraInfo: jsonText(`{"timeout": 1e10}`)})
	if wh.Timeout != time.Duration(1<<63-1) {
		t.Fatalf("Timeout = %v, want the largest Duration", wh.Timeout)
	}
}

func TestParseStoredExtraErrorPathHasNoSpace(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		`{"headers": ["X-Team"]}`:                           "extra_info.headers[0] is a string",
		`{"headers": [{"key": "a"}, {"key": 1}]}`:           "extra_info.headers[1].key is a number",
		`{"authorization": {"type": "bearer", "token": 1}}`: "extra_info.authorization.token is a number",
		`{"headers": {}}`:                                   "extra_info.headers is an object",
	} {
		_, err := parseStoredExtra([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseStoredExtra(%s) error = %v, want it to contain %q", raw, err, want)
		}
	}
}
