package admin

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
)

// shellArgs runs command in /bin/sh with curl defined as a function that
// prints its arguments, and returns them.
func shellArgs(t *testing.T, command string) []string {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the command line in")
	}
	script := `curl() { for a in "$@"; do printf '%s\0' "$a"; done; }` + "\n" + command + "\n"
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, command)
	}
	args := strings.Split(string(out), "\x00")
	return args[:len(args)-1]
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", "it's", "''", `'\''`, `"$HOME" $(id) ` + "`id`" + ` \n \\ ; & | < > * ? ~ # ! %`,
		"line one\nline two\r\n\ttabbed", "dollar $1 ${x}", "订单 1 ✓", "a\x00b", strings.Repeat("'", 50),
	} {
		got := shellArgs(t, "curl "+shellQuote(s))
		want := strings.ReplaceAll(s, "\x00", "")
		if len(got) != 1 || got[0] != want {
			t.Errorf("shellQuote(%q) reads back as %q", s, got)
		}
	}
	for _, m := range []string{"POST", "GET", "get", "PO ST", "X;id", ""} {
		got := shellArgs(t, "curl -X "+shellWord(m))
		if len(got) != 2 || got[1] != m {
			t.Errorf("shellWord(%q) reads back as %q", m, got)
		}
	}
}

func TestCurlCommand(t *testing.T) {
	t.Parallel()
	body := json.RawMessage(`{"event":{"code":"it's \"quoted\"","info":{"cmd":"$(rm -rf /) ` + "`id`" + `"}},"delivery_id":"d-1"}`)
	req := webhook.HistoryRequest{
		URL: "https://hooks.example.com/in?fixed=1", Method: "POST",
		Params: map[string]any{"tenant": "acme's", "n": 2},
		Header: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer [REDACTED]", "X-Api-Key": "[REDACTED]", "x-b": "v'1"},
		JSON:   body,
	}
	cmd := curlCommand(req)
	if !strings.HasPrefix(cmd, "curl -X POST 'https://hooks.example.com/in?") {
		t.Errorf("command starts %q", cmd)
	}
	got := shellArgs(t, cmd)
	want := []string{"-X", "POST", "https://hooks.example.com/in?fixed=1&n=2&tenant=acme%27s",
		"-H", "Authorization: Bearer [REDACTED]", "-H", "Content-Type: application/json", "-H", "X-Api-Key: [REDACTED]", "-H", "x-b: v'1",
		"--data-raw", string(body)}
	if !slices.Equal(got, want) {
		t.Errorf("the command's arguments are\n%q\nwant\n%q\ncommand:\n%s", got, want, cmd)
	}

	form := curlCommand(webhook.HistoryRequest{URL: "http://x.test/f", Method: "POST", Form: "a=1&b='2'"})
	if got := shellArgs(t, form); !slices.Equal(got, []string{"-X", "POST", "http://x.test/f", "--data-raw", "a=1&b='2'"}) {
		t.Errorf("form body: %q", got)
	}
	get := curlCommand(webhook.HistoryRequest{URL: "http://x.test/g?q=1", Method: "GET", Params: map[string]any{"q": "2"}})
	if got := shellArgs(t, get); !slices.Equal(got, []string{"-X", "GET", "http://x.test/g?q=2"}) {
		t.Errorf("GET with params: %q", got)
	}
	if curlCommand(webhook.HistoryRequest{}) != "" {
		t.Error("a request without URL gives a command")
	}
}

func TestFmtTick(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v, top int
		want   string
	}{{0, 10, "0"}, {5000, 9000, "5000"}, {0, 15000, "0"}, {5000, 15000, "5k"}, {12500, 15000, "12.5k"}, {2_000_000, 20_000_000, "2M"}} {
		if got := fmtTick(tc.v, tc.top); got != tc.want {
			t.Errorf("fmtTick(%d, %d) = %q, want %q", tc.v, tc.top, got, tc.want)
		}
	}
}

func TestShortError(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"webhook: POST https://erp.example.com/hooks answered 503 Service Unavailable": "answered 503 Service Unavailable",
		`Post "https://erp.example.com/hooks": dial tcp 203.0.113.41:443: i/o timeout`: "dial tcp 203.0.113.41:443: i/o timeout",
		"GET http://x.test/a?b=1 answered 404 Not Found":                               "answered 404 Not Found",
		"webhook: credentials do not decrypt":                                          "credentials do not decrypt",
		"Connection refused":                                                           "Connection refused",
		"POST nothing":                                                                 "POST nothing",
		"":                                                                             "",
	} {
		if got := shortError(in); got != want {
			t.Errorf("shortError(%q) = %q, want %q", in, got, want)
		}
	}
}
