package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

func TestPrune(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	db := openTestDB(t, f.db)
	now := time.Now().UTC()
	old := now.Add(-40 * 24 * time.Hour)
	for _, at := range []time.Time{old, old.Add(time.Hour), now} {
		err := db.Exec(`INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt)
			VALUES ('wh', 'ev', ?, 1, 200, 'd', 'biz', 'b1', '{}', 1)`, at).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []struct {
		status string
		at     time.Time
	}{{webhook.StatusSucceeded, old}, {webhook.StatusPending, old}, {webhook.StatusFailed, now}} {
		err := db.Exec(`INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, created_at)
			VALUES ('d', 'ev', 'biz', 'b1', 'wh', '{}', ?, 1, ?, ?)`, d.status, d.at, d.at).Error
		if err != nil {
			t.Fatal(err)
		}
	}

	res := f.run("prune", "--older-than", "30d")
	if res.code != exitOK || res.stdout != "pruned 2 history rows and 1 finished delivery older than 30d\n" ||
		!strings.HasPrefix(res.stderr, "pruning history and finished deliveries older than 30d (before ") {
		t.Fatalf("prune --older-than 30d: %s", res)
	}
	res = f.run("prune", "--older-than", "720h")
	if res.code != exitOK || res.stdout != "pruned 0 history rows and 0 finished deliveries older than 30d\n" {
		t.Fatalf("prune again: %s", res)
	}
	var history, deliveries int64
	db.Table("webhook_history").Count(&history)
	db.Table("webhook_delivery").Count(&deliveries)
	if history != 1 || deliveries != 2 {
		t.Errorf("left %d history rows and %d deliveries, want 1 and 2 (the recent row, the pending and the recent delivery)", history, deliveries)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	const token, key = "tok-VERIFY-bearer-3c4d5e", "key-VERIFY-header-6f7a8b"
	// No database and no private secret are needed.
	env := []string{"VERIFY_TOKEN=" + token, "VERIFY_KEY=" + key}

	res := f.runEnv(env, "verify", rcv.URL+"/ok", "--bearer-env", "VERIFY_TOKEN", "--header", "X-Team=payments",
		"--header-env", "X-Api-Key=VERIFY_KEY", "--timeout", "5s")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("verify a 200 endpoint: %s", res)
	}
	for _, want := range []string{"request:  POST " + rcv.URL + "/ok\n", "status:   200 OK\n", "duration: ", "result:   ok\n", `response: {"ok": true}` + "\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
		}
	}
	got := rcv.requests("/ok")
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(got))
	}
	if h := got[0].Header; h.Get("Authorization") != "Bearer "+token || h.Get("X-Api-Key") != key || h.Get("X-Team") != "payments" {
		t.Errorf("headers sent = %v", h)
	}
	if ev := got[0].event(t); ev["code"] != "webhook_test" {
		t.Errorf("event sent = %v", ev)
	}
	if strings.Contains(res.stdout+res.stderr, token) || strings.Contains(res.stdout+res.stderr, key) {
		t.Errorf("verify shows a credential: %s", res)
	}

	res = f.runEnv(env, "verify", "--method", "get", rcv.URL+"/fail", "--bearer-env", "VERIFY_TOKEN")
	if res.code != exitFailure || !strings.Contains(res.stdout, "request:  GET ") || !strings.Contains(res.stdout, "status:   500 Internal Server Error\n") ||
		!strings.Contains(res.stdout, "result:   error: webhook: GET "+rcv.URL+"/fail answered 500") ||
		!strings.Contains(res.stderr, "webhookctl: verify: the endpoint did not accept the test request") {
		t.Fatalf("verify a 500 endpoint: %s", res)
	}
	if strings.Contains(res.stdout+res.stderr, token) {
		t.Errorf("verify shows the token: %s", res)
	}

	n := len(rcv.requests(""))
	res = f.runEnv(env, "verify", rcv.URL+"/ok", "--deny-private")
	if res.code != exitFailure || !strings.Contains(res.stdout, "status:   none (no response)") ||
		!strings.Contains(res.stdout, "endpoint address is forbidden") || !strings.Contains(res.stderr, "SSRF guard") {
		t.Fatalf("verify --deny-private on loopback: %s", res)
	}
	if len(rcv.requests("")) != n {
		t.Error("verify --deny-private reached the loopback receiver")
	}

	wantFailure(t, f.runEnv(env, "verify", "ftp://127.0.0.1/x"), exitUsage, `endpoint scheme "ftp" is not supported`)
	wantFailure(t, f.runEnv(env, "verify", rcv.URL, "--bearer-env", "UNSET_VAR"), exitUsage, "--bearer-env UNSET_VAR: the variable is not set")
	wantFailure(t, f.runEnv(env, "verify", rcv.URL, "--header-env", "X-Key=UNSET_VAR"), exitUsage, "the variable UNSET_VAR is not set")
	if fileExists(filepath.Join(f.dir, defaultDB)) {
		t.Error("verify created a database")
	}
}

func TestWebhooksList(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	if res := f.run("broadcast", "template_update", "--scope", "biz:biz1"); res.code != exitFailure {
		t.Fatalf("broadcast: %s", res)
	}

	res := f.mustRun("webhooks", "--json")
	wantNoApplySecrets(t, "webhooks --json", res.stdout)
	if strings.Contains(res.stdout, "wh1:") {
		t.Errorf("webhooks --json shows ciphertext:\n%s", res.stdout)
	}
	var hooks []struct {
		Scope          struct{ Type, Code string } `json:"scope"`
		Code           string                      `json:"code"`
		Endpoint       string                      `json:"endpoint"`
		Enabled        bool                        `json:"enabled"`
		AuthType       string                      `json:"auth_type"`
		HasToken       bool                        `json:"has_token"`
		HasPassword    bool                        `json:"has_password"`
		HeaderKeys     []string                    `json:"header_keys"`
		SigningSecrets int                         `json:"signing_secrets"`
		Timeout        string                      `json:"timeout"`
		Stats          struct {
			Attempts       int        `json:"attempts"`
			Failures       int        `json:"failures"`
			FailureRate    float64    `json:"failure_rate"`
			LastAt         *time.Time `json:"last_at"`
			LastStatusCode int        `json:"last_status_code"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &hooks); err != nil || len(hooks) != 3 {
		t.Fatalf("webhooks --json: %v\n%s", err, res.stdout)
	}
	// Ordered by scope and code.
	fail, ok, other := hooks[0], hooks[1], hooks[2]
	if fail.Code != "wh_fail" || fail.AuthType != "basic" || !fail.HasPassword || fail.Stats.Attempts != 2 || fail.Stats.Failures != 2 ||
		fail.Stats.FailureRate != 1 || fail.Stats.LastStatusCode != 500 || fail.Stats.LastAt == nil || fail.Timeout != "default" {
		t.Errorf("wh_fail = %+v", fail)
	}
	if ok.Code != "wh_ok" || ok.Scope.Type != "biz" || ok.Scope.Code != "biz1" || !ok.Enabled || ok.AuthType != "bearer" || !ok.HasToken ||
		strings.Join(ok.HeaderKeys, ",") != "X-Api-Key,X-Team" || ok.SigningSecrets != 1 || ok.Timeout != "5s" ||
		ok.Stats.Attempts != 1 || ok.Stats.Failures != 0 || ok.Stats.LastStatusCode != 200 || ok.Endpoint != rcv.URL+"/ok" {
		t.Errorf("wh_ok = %+v", ok)
	}
	if other.Code != "wh_other" || other.Scope.Code != "biz2" || other.AuthType != "" || other.Stats.Attempts != 0 || other.Stats.LastAt != nil {
		t.Errorf("wh_other = %+v", other)
	}

	res = f.mustRun("webhooks", "--scope", "biz:biz1")
	wantNoApplySecrets(t, "webhooks", res.stdout)
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "SCOPE WEBHOOK ENABLED CIRCUIT METHOD ENDPOINT AUTH HEADERS SIGNING ATTEMPTS FAIL_RATE LAST_STATUS LAST_AT NOTE" {
		t.Fatalf("webhooks table: %s", res)
	}
	if cols := strings.Fields(lines[1]); len(cols) < 14 || cols[1] != "wh_fail" || cols[3] != "closed" || cols[6] != "basic:set" || cols[9] != "2" || cols[10] != "100.0%" || cols[11] != "500" {
		t.Errorf("wh_fail row = %q", lines[1])
	}
	if cols := strings.Fields(lines[2]); len(cols) != 14 || cols[1] != "wh_ok" || cols[3] != "closed" || cols[6] != "bearer:set" || cols[7] != "X-Api-Key,X-Team" || cols[8] != "1" || cols[10] != "0.0%" || cols[13] != "-" {
		t.Errorf("wh_ok row = %q", lines[2])
	}
	if res := f.mustRun("webhooks", "--scope", "biz:none", "--json"); res.stdout != "[]\n" {
		t.Errorf("webhooks of an empty scope: %s", res)
	}
}

func TestReencrypt(t *testing.T) {
	t.Parallel()
	const secretA, secretB = "private-secret-A-0123456789abcdef", "private-secret-B-fedcba9876543210"
	rcv := newReceiver(t)
	f := newFixture(t)
	f.migrate()
	ctx := context.Background()
	// The service wrote the credentials under secret A.
	cA := libClient(t, f, webhook.Config{PrivateSecret: secretA})
	if _, err := cA.SyncEventsYAML(ctx, "events.yaml", []byte(twoEvents), webhook.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	err := cA.ApplyScopeWebhooks(ctx, "biz", "biz1", []webhook.WebhookConfig{{
		Code: "wh", Name: "Hook", Endpoint: rcv.URL + "/ok",
		Auth:           &webhook.Auth{Type: "bearer", Token: applyToken},
		Headers:        []webhook.Header{{Key: "X-Api-Key", Value: applyHeader}},
		SigningSecrets: []string{applySigning},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cA.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{"wh": {webhook.AllEvents}}); err != nil {
		t.Fatal(err)
	}
	onlyB := []string{envSecret + "=" + secretB}
	bAndA := []string{envSecret + "=" + secretB, envOldSecrets + "=private-secret-unrelated-0000 " + secretA}
	run := func(env []string, args ...string) result {
		return f.runEnv(env, append([]string{"--db", f.db}, args...)...)
	}

	// Under B alone the credentials do not decrypt: the delivery fails and
	// reencrypt cannot help.
	res := run(onlyB, "broadcast", "template_update", "--scope", "biz:biz1")
	if res.code != exitFailure || !strings.Contains(res.stdout, "cannot decrypt credential") {
		t.Fatalf("broadcast under B alone: %s", res)
	}
	res = run(onlyB, "reencrypt")
	if res.code != exitFailure || res.stdout != "examined 1 webhook: 0 rewritten under the current secret, 1 failed\nfailed: biz/biz1/wh\n" ||
		!strings.Contains(res.stderr, "1 webhook keeps credentials that no configured secret decrypts") || !strings.Contains(res.stderr, envOldSecrets) {
		t.Fatalf("reencrypt under B alone: %s", res)
	}

	// With A among the old secrets, every command decrypts.
	res = run(bAndA, "broadcast", "template_update", "--scope", "biz:biz1")
	if res.code != exitOK {
		t.Fatalf("broadcast under B with A old: %s", res)
	}
	before := webhookExtraInfo(t, f)["wh"]
	res = run(bAndA, "reencrypt")
	if res.code != exitOK || res.stdout != "examined 1 webhook: 1 rewritten under the current secret, 0 failed\n" {
		t.Fatalf("reencrypt: %s", res)
	}
	wantNoApplySecrets(t, "reencrypt", res.stdout+res.stderr)
	after := webhookExtraInfo(t, f)["wh"]
	if after == before || strings.Contains(after, applyToken) {
		t.Errorf("extra_info not rewritten, or in clear: %s", after)
	}
	res = run(bAndA, "reencrypt") // idempotent
	if res.code != exitOK || res.stdout != "examined 1 webhook: 0 rewritten under the current secret, 0 failed\n" {
		t.Fatalf("reencrypt again: %s", res)
	}

	// Now B alone is enough, and A no longer decrypts.
	res = run(onlyB, "webhooks", "--json")
	if res.code != exitOK || !strings.Contains(res.stdout, `"has_token": true`) {
		t.Fatalf("webhooks under B alone: %s", res)
	}
	res = run(onlyB, "broadcast", "template_create", "--scope", "biz:biz1")
	if res.code != exitOK {
		t.Fatalf("broadcast under B alone after reencrypt: %s", res)
	}
	got := rcv.requests("/ok")
	if last := got[len(got)-1]; last.Header.Get("Authorization") != "Bearer "+applyToken || last.Header.Get("X-Api-Key") != applyHeader {
		t.Errorf("credentials sent after reencrypt = %v", last.Header)
	}
	if res := run(onlyB, "history", "--json"); res.code != exitOK || len(historyJSON(t, f)) != 3 {
		t.Fatalf("history under B alone: %s", res)
	}
	hooks, err := libClient(t, f, webhook.Config{PrivateSecret: secretB}).ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil || hooks[0].Auth.Token != applyToken || hooks[0].SigningSecrets[0] != applySigning {
		t.Errorf("ScopeWebhooks under B = %+v, %v", hooks, err)
	}
	if _, err := cA.ScopeWebhooks(ctx, "biz", "biz1"); !errors.Is(err, webhook.ErrDecrypt) {
		t.Errorf("ScopeWebhooks under A after reencrypt: %v, want ErrDecrypt", err)
	}
}

// TestNewCommandUsageErrors checks the command lines the new commands
// refuse before touching the database.
func TestNewCommandUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"apply no file", []string{"apply"}, "apply takes 1 argument, FILE.yaml, got 0"},
		{"apply two files", []string{"apply", "a.yaml", "b.yaml"}, "got 2"},
		{"broadcast no event", []string{"broadcast", "--scope", "biz:biz1"}, "broadcast takes 1 argument, EVENT, got 0"},
		{"broadcast no scope", []string{"broadcast", "template_update"}, "no --scope given"},
		{"broadcast bad scope", []string{"broadcast", "template_update", "--scope", "biz"}, `invalid value "biz" for flag -scope: want TYPE:CODE`},
		{"redeliver nothing", []string{"redeliver"}, "give at least one ID"},
		{"redeliver filter without --failed", []string{"redeliver", "--webhook", "wh"}, "add --failed"},
		{"redeliver ids and --failed", []string{"redeliver", "--failed", "id1"}, "--failed takes no IDs"},
		{"redeliver bad since", []string{"redeliver", "--failed", "--since", "yesterday"}, `--since "yesterday"`},
		{"redeliver bad scope", []string{"redeliver", "--failed", "--scope", "biz"}, "want TYPE:CODE"},
		{"prune no age", []string{"prune"}, "--older-than is required"},
		{"prune zero days", []string{"prune", "--older-than", "0d"}, "whole number of days"},
		{"prune negative", []string{"prune", "--older-than", "-5h"}, "must be positive"},
		{"prune word", []string{"prune", "--older-than", "month"}, `--older-than "month"`},
		{"prune argument", []string{"prune", "30d"}, "prune takes no arguments"},
		{"verify no URL", []string{"verify"}, "verify takes 1 argument, URL, got 0"},
		{"verify zero timeout", []string{"verify", "http://127.0.0.1:1/", "--timeout", "0s"}, "--timeout 0s"},
		{"verify bad header", []string{"verify", "http://127.0.0.1:1/", "--header", "X-Team"}, `--header "X-Team": want KEY=VALUE`},
		{"verify bad method", []string{"verify", "http://127.0.0.1:1/", "--method", "PUT"}, `method "PUT" is not supported`},
		{"webhooks argument", []string{"webhooks", "biz:biz1"}, "webhooks takes no arguments"},
		{"webhooks bad scope", []string{"webhooks", "--scope", "biz"}, "want TYPE:CODE"},
		{"webhooks bad since", []string{"webhooks", "--since", "0d"}, "whole number of days"},
		{"deliveries bad status", []string{"deliveries", "--status", "done"}, `--status "done": want pending, failed, succeeded or cancelled`},
		{"deliveries bad limit", []string{"deliveries", "--limit", "0"}, "--limit 0: want 1 to 10000"},
		{"deliveries bad scope", []string{"deliveries", "--scope", ":x"}, "want TYPE:CODE"},
		{"reencrypt argument", []string{"reencrypt", "now"}, "reencrypt takes no arguments"},
		{"instances argument", []string{"instances", "all"}, "instances takes no arguments"},
		{"instances bad flag", []string{"instances", "--alive"}, "flag provided but not defined: -alive"},
		{"close-circuit nothing", []string{"close-circuit"}, "close-circuit takes 2 arguments, SCOPE_TYPE:SCOPE_CODE and WEBHOOK_CODE, got 0"},
		{"close-circuit no code", []string{"close-circuit", "biz:biz1"}, "got 1"},
		{"close-circuit three", []string{"close-circuit", "biz:biz1", "wh", "extra"}, "got 3"},
		{"close-circuit bad scope", []string{"close-circuit", "biz", "wh"}, `scope "biz": want SCOPE_TYPE:SCOPE_CODE`},
		{"close-circuit empty scope code", []string{"close-circuit", "biz:", "wh"}, `scope "biz:"`},
		{"close-circuit empty code", []string{"close-circuit", "biz:biz1", ""}, "WEBHOOK_CODE is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res := f.run(tc.args...)
			wantFailure(t, res, exitUsage, tc.want, "Run 'webhookctl help "+tc.args[0]+"' for usage.")
			if fileExists(f.db) {
				t.Error("a usage error created the database")
			}
		})
	}
}

func TestNewCommandsMissingSecret(t *testing.T) {
	t.Parallel()
	// The commands that decrypt or encrypt credentials; the others run
	// without the secret (TestCommandsRunWithoutSecret).
	for _, args := range [][]string{
		{"apply", "webhooks.yaml"}, {"broadcast", "ev", "--scope", "biz:biz1"}, {"reencrypt"}, {"check-secret"},
		{"serve-admin", "--workers", "--addr", "127.0.0.1:0"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.writeFile("webhooks.yaml", "scopes:\n  - {type: biz, code: biz1, webhooks: [], subscriptions: {}}\n")
			if err := os.WriteFile(f.db, nil, 0o644); err != nil { // an empty SQLite database
				t.Fatal(err)
			}
			res := f.runEnv([]string{envDB + "=" + f.db, envAdminPassword + "=open-sesame-42"}, args...)
			wantFailure(t, res, exitUsage, envSecret+" is not set", "export "+envSecret)
		})
	}
}

func TestNewExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("%w: x.yaml:3: oops", errInvalidFile), exitInvalidInput},
		{fmt.Errorf("%w: --info", errInvalidJSON), exitInvalidInput},
		{fmt.Errorf("%w: nope", webhook.ErrEventNotFound), exitInvalidInput},
		{withHint(fmt.Errorf("%w: biz/biz1 \"nope\"", webhook.ErrWebhookNotFound), "check"), exitInvalidInput},
		{withHint(fmt.Errorf("%w: 1 of 1", webhook.ErrDeliveryNotFound), "check"), exitInvalidInput},
		{fmt.Errorf("%w: 127.0.0.1", webhook.ErrForbiddenAddress), exitFailure},
		{fmt.Errorf("%w: 500", webhook.ErrUnexpectedStatus), exitFailure},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParseAge(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "1d": 24 * time.Hour, "720h": 720 * time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute,
	} {
		if got, err := parseAge("older-than", in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-1d", "1.5d", "0s", "-2h", "month", "99999999d"} {
		var ue *usageError
		if _, err := parseAge("older-than", in); !errors.As(err, &ue) {
			t.Errorf("parseAge(%q) error = %v, want a usage error", in, err)
		}
	}
	if got := formatAge(30 * 24 * time.Hour); got != "30d" {
		t.Errorf("formatAge(30 days) = %q", got)
	}
}

func TestParseFlagsInterspersed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args         []string
		interspersed bool
		pos          []string
		scope        string
	}{
		{[]string{"ev", "--scope", "a:b"}, true, []string{"ev"}, "a:b"},
		{[]string{"--scope", "a:b", "ev", "x"}, true, []string{"ev", "x"}, "a:b"},
		{[]string{"ev", "--", "--scope", "a:b"}, true, []string{"ev", "--scope", "a:b"}, ""},
		{[]string{"ev", "--scope", "a:b"}, false, []string{"ev", "--scope", "a:b"}, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		scope := fs.String("scope", "", "")
		pos, err := parseFlags(fs, tc.args, tc.interspersed)
		if err != nil || !slices.Equal(pos, tc.pos) || *scope != tc.scope {
			t.Errorf("parseFlags(%q, %v) = %q, %v, scope %q; want %q, scope %q", tc.args, tc.interspersed, pos, err, *scope, tc.pos, tc.scope)
		}
	}
}

func TestExpandReferences(t *testing.T) {
	t.Parallel()
	env := map[string]string{"A": "alpha", "B_2": "beta"}
	getenv := func(k string) string { return env[k] }
	data := []byte(`scopes:
  - type: biz
    code: ${A}
    webhooks:
      - code: w
        name: "$${A} is ${A}${B_2}"
        endpoint: http://h/${A}
        data: {k: "${B_2}", n: 1}
    subscriptions: {}
`)
	file, _, err := parseApplyFile("f.yaml", data, getenv)
	if err != nil {
		t.Fatal(err)
	}
	s := file.Scopes[0]
	w := s.Webhooks[0]
	if s.Code != "alpha" || w.Name != "${A} is alphabeta" || w.Endpoint != "http://h/alpha" || w.Data["k"] != "beta" || w.Data["n"] != 1 {
		t.Errorf("expanded: scope %q, webhook %+v", s.Code, w)
	}
}
