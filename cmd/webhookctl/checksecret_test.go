package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

func TestCheckSecret(t *testing.T) {
	t.Parallel()
	const other = "cli-another-private-secret-000"
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv) // wh_ok: token, 2 header values, signing secret; wh_fail: password
	run := func(env ...string) result {
		return f.runEnv(env, "--db", f.db, "check-secret")
	}
	noValues := func(what string, res result) {
		t.Helper()
		wantNoApplySecrets(t, what, res.stdout+res.stderr)
		for _, s := range []string{testSecret, other, "payments"} {
			if strings.Contains(res.stdout+res.stderr, s) {
				t.Errorf("%s shows %q:\n%s", what, s, res)
			}
		}
	}

	// The right secret.
	res := run(envSecret + "=" + testSecret)
	wantStdout(t, res, "examined 3 webhooks, 5 credentials: 5 decrypt with the current secret, 0 with an old secret, 0 stored in plain text, 0 fail\n")

	// Rotated: the service's secret is now an old one.
	res = run(envSecret+"="+other, envOldSecrets+"="+testSecret)
	if res.code != exitOK || res.stdout != "examined 3 webhooks, 5 credentials: 0 decrypt with the current secret, 5 with an old secret, 0 stored in plain text, 0 fail\n" ||
		!strings.Contains(res.stderr, "5 credentials still need an old secret from "+envOldSecrets+": run 'webhookctl reencrypt'") {
		t.Errorf("rotated: %s", res)
	}
	noValues("check-secret rotated", res)

	// A wrong secret: exit 1, every credential named by webhook and field.
	res = run(envSecret + "=" + other)
	wantLines := []string{
		"examined 3 webhooks, 5 credentials: 0 decrypt with the current secret, 0 with an old secret, 0 stored in plain text, 5 fail",
		"failed: biz/biz1/wh_ok auth token: ",
		`failed: biz/biz1/wh_ok header "X-Api-Key": `,
		`failed: biz/biz1/wh_ok header "X-Team": `,
		"failed: biz/biz1/wh_ok signing secret 0: ",
		"failed: biz/biz1/wh_fail auth password: ",
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if res.code != exitFailure || len(lines) != len(wantLines) {
		t.Fatalf("wrong secret: want exit 1 and %d lines, got %s", len(wantLines), res)
	}
	for i, want := range wantLines {
		if !strings.HasPrefix(lines[i], want) || (i > 0 && !strings.Contains(lines[i], "not configured (key id")) {
			t.Errorf("wrong secret: line %d = %q, want it to start with %q and give the cause", i+1, lines[i], want)
		}
	}
	if !strings.Contains(res.stderr, "webhookctl: check-secret: 5 credentials of 2 webhooks cannot be read with the configured secrets") ||
		!strings.Contains(res.stderr, envOldSecrets) {
		t.Errorf("wrong secret: stderr %q", res.stderr)
	}
	noValues("check-secret with a wrong secret", res)

	// A plain-text value is counted as such.
	if err := openTestDB(t, f.db).Exec(`UPDATE webhook_webhook SET extra_info = ? WHERE code = ?`,
		`{"headers": [{"key": "X-Plain", "value": "plain-value"}]}`, "wh_other").Error; err != nil {
		t.Fatal(err)
	}
	res = run(envSecret + "=" + testSecret)
	if res.code != exitOK || res.stdout != "examined 3 webhooks, 6 credentials: 5 decrypt with the current secret, 0 with an old secret, 1 stored in plain text, 0 fail\n" ||
		!strings.Contains(res.stderr, "1 credential is stored in plain text") {
		t.Errorf("plain text: %s", res)
	}

	// Usage: arguments, a short secret (and its escape hatch).
	wantFailure(t, f.run("check-secret", "extra"), exitUsage, "check-secret takes no arguments")
	res = run(envSecret + "=short")
	wantFailure(t, res, exitUsage, "PrivateSecret is 5 bytes long", envSecret, "at least 16 bytes", "openssl rand -base64 32", envAllowShort+"=1")
	noValues("check-secret with a short secret", res)
	if strings.Contains(res.stderr, "short\n") || strings.Contains(res.stderr, `"short"`) {
		t.Errorf("the short secret is shown: %s", res)
	}
	wantFailure(t, run(envSecret+"="+testSecret, envOldSecrets+"=old"), exitUsage, "OldPrivateSecrets[0] is 3 bytes long", envOldSecrets)
	wantFailure(t, run(envSecret+"=short", envAllowShort+"=maybe"), exitUsage, envAllowShort+`="maybe"`)
	// With the hatch, a short secret is accepted (and here decrypts nothing).
	if res := run(envSecret+"=short", envAllowShort+"=1"); res.code != exitFailure || !strings.Contains(res.stdout, "5 fail") {
		t.Errorf("short secret allowed: %s", res)
	}
}

// TestCheckSecretOnThePythonDatabase runs check-secret on the database the
// Python package bkflow-django-webhook wrote (testdata/fixtures), untouched.
func TestCheckSecretOnThePythonDatabase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", "bkflow-django-webhook-1.2.6.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	const pythonSecret = "my-private-secret" // the fixture's PRIVATE_SECRET: 17 bytes, long enough
	res := f.runEnv([]string{envSecret + "=" + pythonSecret}, "--db", f.db, "check-secret")
	wantStdout(t, res, "examined 5 webhooks, 3 credentials: 3 decrypt with the current secret, 0 with an old secret, 0 stored in plain text, 0 fail\n")
	res = f.runEnv([]string{envSecret + "=not-the-python-private-secret"}, "--db", f.db, "check-secret")
	if res.code != exitFailure || !strings.Contains(res.stdout, "failed: biz/biz1/wh_bearer auth token: ") ||
		!strings.Contains(res.stdout, "failed: biz/biz1/wh_basic auth password: ") || !strings.Contains(res.stdout, `failed: biz/biz1/wh_basic header "X-Team": `) {
		t.Errorf("a wrong secret on the Python database: %s", res)
	}
	for _, v := range []string{"tok-shared-123", "s3cr3t-pw", "payments", pythonSecret} {
		if strings.Contains(res.stdout+res.stderr, v) {
			t.Errorf("check-secret shows %q:\n%s", v, res)
		}
	}
}

// TestCommandsRunWithoutSecret: the commands that decrypt nothing need no
// WEBHOOK_PRIVATE_SECRET, and ignore one that is set but unusable.
func TestCommandsRunWithoutSecret(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	f.writeFile("config/events.yaml", twoEvents)
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))
	for _, env := range [][]string{{}, {envSecret + "=short"}} {
		// A fresh database each time: migrate and sync-events write it.
		db := filepath.Join(f.dir, "nosecret"+strings.Repeat("x", len(env))+".db")
		env = append(env, envDB+"="+db)
		var outputs strings.Builder
		run := func(args ...string) result {
			t.Helper()
			res := f.runEnv(env, args...)
			outputs.WriteString(res.stdout + res.stderr)
			if res.code != exitOK || strings.Contains(res.stderr, envSecret) {
				t.Errorf("%q with %q: want exit 0 and no mention of %s, got %s", args, env, envSecret, res)
			}
			return res
		}
		run("migrate")
		run("sync-events", filepath.Join(f.dir, "config"), "events.yaml")
		// The service (with its secret) applies the webhooks and sends.
		if res := f.runEnv(append(applyEnv(), envDB+"="+db, envSecret+"="+testSecret), "apply", "webhooks.yaml"); res.code != exitOK {
			t.Fatalf("apply: %s", res)
		}
		if res := f.runEnv([]string{envDB + "=" + db, envSecret + "=" + testSecret}, "broadcast", "template_create", "--scope", "biz:biz1"); res.code != exitOK {
			t.Fatalf("broadcast: %s", res)
		}
		if res := run("webhooks", "--json"); !strings.Contains(res.stdout, `"has_token": true`) {
			t.Errorf("webhooks: %s", res)
		}
		run("webhooks")
		res := run("broadcast", "template_create", "--scope", "biz:biz1", "--enqueue")
		id := strings.TrimSpace(res.stdout)
		if id == "" || strings.Contains(id, "\n") {
			t.Fatalf("broadcast --enqueue printed %q", res.stdout)
		}
		run("deliveries")
		run("history")
		run("history", "--json")
		run("instances")
		run("close-circuit", "biz:biz1", "wh_ok")
		run("redeliver", "--failed")
		run("redeliver", id)
		run("prune", "--older-than", "30d")
		run("verify", rcv.URL+"/ok")
		wantNoApplySecrets(t, "the commands without a secret", outputs.String())
	}

	// serve-admin without --workers.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--db", filepath.Join(f.dir, "nosecret.db"), "serve-admin", "--addr", "127.0.0.1:0")
	cmd.Dir = f.dir
	cmd.Env = []string{envAdminPassword + "=open-sesame-42"}
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "admin UI on http://127.0.0.1:") {
		t.Fatalf("serve-admin without a secret: first line %q, %v", line, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve-admin after SIGTERM: %v", err)
	}
}

// TestSecretlessClientCannotReadCredentials: the client of the commands
// without a secret gets a random one, so that a credential it were asked to
// decrypt fails instead of being read.
func TestSecretlessClientCannotReadCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	if err := libClient(t, f, webhook.Config{}).ApplyScopeWebhooks(context.Background(), "biz", "biz1", []webhook.WebhookConfig{
		{Code: "wh", Name: "wh", Endpoint: "https://example.com/", Auth: &webhook.Auth{Type: "bearer", Token: applyToken}},
	}); err != nil {
		t.Fatal(err)
	}
	a := &app{getenv: func(string) string { return "" }, dbFlag: f.db}
	defer a.close()
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.CheckSecret(context.Background()); res.Current != 0 || res.Old != 0 || len(res.Failures) != 1 || err == nil {
		t.Errorf("CheckSecret with the secretless client = %+v, %v; want 1 failure", res, err)
	}
	if _, err := a.client(false); err == nil {
		t.Error("client() after clientWithoutSecret gave the secretless client")
	}
}
