package webhook

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the three readers of untrusted text: the events YAML, the
// stored credentials and the extra_info column. Seed corpora are committed
// under testdata/fuzz/<target>/; run one with, for example,
//
//	go test -run='^$' -fuzz=FuzzParseEvents -fuzztime=30s .

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(twoEvents))
	for _, name := range []string{"events.yaml", "events_renamed.yaml", "duplicate.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "events", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"version: 1\nevents:\n",
		"version: 1\nevents: [{code: a, name: A, info: {n: 1, l: [1, 2.5, x], m: {k: ~}}}]\n",
		"version: 1\nevents:\n  - &e {code: a, name: A}\n  - *e\n",
		"version: 1\nevents:\n  - code: a\n    name: A\n    info: &i {x: 1}\n  - code: b\n    name: B\n    info: *i\n",
		"version: 1\nevents:\n  - code: a\n    name: A\n    info: {1: one, true: yes, 2.5: x}\n",
		"version: 1\nevents:\n  - {code: \"*\", name: all}\n",
		"version: 2\nevents: []\n",
		"- code: a\n  name: A\n",
		"version: 1\nevents:\n  - code: a\n    nmae: A\n",
		"version: 1\nevents:\n  - code: !!binary aGVsbG8=\n    name: !!str 1\n    description: !!int 3\n",
		"version: 1\nevents: [\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ParseEvents("events.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvents) {
				t.Fatalf("error %v does not wrap ErrInvalidEvents", err)
			}
			if !strings.Contains(err.Error(), "events.yaml") {
				t.Fatalf("error %v does not name the file", err)
			}
			if evs != nil {
				t.Fatalf("events %v returned along with error %v", evs, err)
			}
			return
		}
		if evs == nil {
			t.Fatal("nil events without an error")
		}
		codes := make(map[string]bool, len(evs))
		for i, ev := range evs {
			if strings.TrimSpace(ev.Code) == "" || strings.TrimSpace(ev.Name) == "" {
				t.Fatalf("events[%d] = %#v: empty code or name accepted", i, ev)
			}
			if msg := validateEvent(ev); msg != "" {
				t.Fatalf("events[%d] = %#v fails validateEvent: %s", i, ev, msg)
			}
			if codes[ev.Code] {
				t.Fatalf("duplicate code %q accepted", ev.Code)
			}
			codes[ev.Code] = true
			if ev.Info != nil {
				b, err := marshalJSON(ev.Info)
				if err != nil {
					t.Fatalf("events[%d].Info %#v does not encode as JSON: %v", i, ev.Info, err)
				}
				var back map[string]any
				if err := json.Unmarshal(b, &back); err != nil || back == nil {
					t.Fatalf("events[%d].Info encodes as %s, which is not a JSON object: %v", i, b, err)
				}
			}
		}
	})
}

func FuzzVaultDecrypt(f *testing.F) {
	secrets := []string{pythonSecret, testSecret}
	own := mustVault(f, false, secrets...)
	legacy := mustVault(f, true, secrets...)
	for _, tc := range pythonTokens {
		f.Add(tc.token)
		f.Add(strings.TrimRight(tc.token, "="))
	}
	for _, tc := range storedWh1Tokens {
		f.Add(tc.token)
	}
	f.Add(mustEncrypt(f, own, "tok-shared-123"))
	f.Add(mustEncrypt(f, own, ""))
	f.Add(mustEncrypt(f, legacy, "s3cr3t-pw"))
	f.Add(mustEncrypt(f, mustVault(f, false, "unconfigured"), "x"))
	for _, s := range []string{"", "payments", "gAAAAA-not-really", "gAAAAA", "wh1:", "wh1:deadbeef:", "wh1:deadbeef:AAAA", "wh1:ad5d5971:" + strings.Repeat("A", 60), "密码"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stored string) {
		plain, err := own.decrypt(stored)
		plain2, err2 := legacy.decrypt(stored)
		if plain != plain2 || (err == nil) != (err2 == nil) {
			t.Fatalf("the write mode changed decryption: %q, %v vs %q, %v", plain, err, plain2, err2)
		}
		known := strings.HasPrefix(stored, tokenPrefix) || strings.HasPrefix(stored, "gAAAAA")
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			if plain != "" {
				t.Fatalf("plain text %q returned along with error %v", plain, err)
			}
			if !known {
				t.Fatalf("a value in no known format failed: %v", err)
			}
			return
		}
		if !known && plain != stored {
			t.Fatalf("legacy plain text %q came back as %q", stored, plain)
		}
		for _, v := range []*vault{own, legacy} {
			enc, err := v.encrypt(plain)
			if err != nil {
				t.Fatalf("encrypt(%q): %v", plain, err)
			}
			back, err := v.decrypt(enc)
			if err != nil || back != plain {
				t.Fatalf("round trip of %q (legacy=%v) through %q: %q, %v", plain, v.legacyFernet, enc, back, err)
			}
			if !v.isCurrent(enc) {
				t.Fatalf("isCurrent(%q) = false for a value just written", enc)
			}
		}
	})
}

func FuzzParseStoredExtra(f *testing.F) {
	c := newOfflineClient(f, Config{PrivateSecret: pythonSecret})
	for _, s := range []string{
		pythonExtraBasic,
		`{"params": {"source": "bkflow"}, "data": {"static": "yes"}, "retry_times": 0, "interval": 0}`,
		`{"timeout": 5}`,
		`{"timeout": "5", "interval": "0.5", "retry_times": "3", "verify": "false"}`,
		`{"authorization": {"type": "bearer", "token": "` + pyTokShared + `", "username": null, "password": null}}`,
		`{"headers": [{"key": "X-Num", "value": 42, "doc": null}], "content_type": "application/x-www-form-urlencoded"}`,
		`{"data": {"big": 1e400, "neg": -0, "f": 1.0, "nested": [{"a": [1, 2]}]}, "params": {"n": 1e400, "o": {"x": 1}}}`,
		`{"headers": {}}`,
		`{"verify": false, "retry_times": 50}`,
		`null`,
		``,
		`[]`,
		`{"timeout": 5} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		se, err := parseStoredExtra(raw)
		row := &webhookRow{Code: "wh", Name: "W", Endpoint: "https://example.com", ScopeType: "t", ScopeCode: "1", Method: "POST", ExtraInfo: raw}
		wh, derr := c.decodeWebhook(row)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "extra_info") {
				t.Fatalf("error %q does not name extra_info", err)
			}
			if !errors.Is(derr, ErrInvalidWebhook) {
				t.Fatalf("decodeWebhook of a malformed column: %v, want ErrInvalidWebhook", derr)
			}
			return
		}
		out, err := marshalJSON(se)
		if err != nil {
			t.Fatalf("marshalJSON(%#v): %v", se, err)
		}
		se2, err := parseStoredExtra(out)
		if err != nil {
			t.Fatalf("parseStoredExtra rejects its own output %s: %v", out, err)
		}
		out2, err := marshalJSON(se2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %s then %s (%v)", out, out2, err)
		}
		if derr != nil {
			if !errors.Is(derr, ErrDecrypt) {
				t.Fatalf("decodeWebhook of a well-formed column: %v, want nil or ErrDecrypt", derr)
			}
			return
		}
		if wh.RetryTimes < 0 || wh.RetryTimes > maxRetryTimes {
			t.Fatalf("RetryTimes %d out of range", wh.RetryTimes)
		}
	})
}

// FuzzCanonicalHost feeds arbitrary endpoint host names to the SSRF guard's
// normalisation: it never panics, a name it lets through is a lowercase
// ASCII host name that no resolver reads as an IPv4 address and that
// normalises to itself, and an address it returns is what the standard
// parser reads.
func FuzzCanonicalHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "EXAMPLE.com.", "169.254.169.254", "0xa9fea9fe", "169.254.43518", "2852039166",
		"0251.0376.0251.0376", "::ffff:169.254.169.254", "fe80::1%eth0", "169\u3002254\uff0e169\uff61254",
		"\uff11\uff16\uff19.254.169.254", "xn--bcher-kva.example", "a..b", "-a.com", "", ".", "a_b.internal",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		name, ip, err := canonicalHost(host)
		if err != nil {
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("canonicalHost(%q): error %v does not wrap ErrForbiddenAddress", host, err)
			}
			return
		}
		if ip.IsValid() {
			if name != "" {
				t.Fatalf("canonicalHost(%q) returned both %q and %v", host, name, ip)
			}
			return
		}
		if !isASCII(name) || strings.ToLower(name) != name || !validHostName(name) || endsInNumber(name) {
			t.Fatalf("canonicalHost(%q) let through %q", host, name)
		}
		if again, ip2, err := canonicalHost(name); err != nil || again != name || ip2.IsValid() {
			t.Fatalf("canonicalHost(%q) = %q, which normalises to %q, %v, %v", host, name, again, ip2, err)
		}
	})
}

// FuzzVerifyPortalToken: whatever a caller presents as a portal token,
// VerifyPortalToken never panics, and only the tokens it signed verify.
func FuzzVerifyPortalToken(f *testing.F) {
	c := newOfflineClient(f, Config{})
	good, err := c.PortalToken(Scope{"shop", "s1"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, "", "whp1.", "whp1..", "whp1.e30.AAAA", good + "x", strings.ToUpper(good)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := c.VerifyPortalToken(token)
		if err == nil && token != good {
			// Another valid token must carry a valid signature of its own
			// body: re-signing reproduces it.
			body, _, _ := strings.Cut(strings.TrimPrefix(token, portalTokenPrefix), ".")
			key, _ := portalKey(c.cfg.PrivateSecret)
			if !strings.HasSuffix(token, "."+base64.RawURLEncoding.EncodeToString(portalMAC(key, body))) {
				t.Fatalf("a token it did not sign verified: %q → %+v", token, claims)
			}
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error %v is not ErrInvalidToken", err)
		}
	})
}

// FuzzMarshalJSONString: the fast paths of marshalJSON and
// appendJSONString for plain strings write exactly what the encoder writes.
func FuzzMarshalJSONString(f *testing.F) {
	for _, s := range []string{"", "abc", "a\"b", "a\\b", "<&>", "é", "\x7f", "\x1f", "delivery-0123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := marshalJSON(s)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if !bytes.Equal(got, want) {
			t.Fatalf("marshalJSON(%q) = %s, the encoder writes %s", s, got, want)
		}
		if got := appendJSONString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("appendJSONString(x, %q) = %s, want x%s", s, got, want)
		}
	})
}
