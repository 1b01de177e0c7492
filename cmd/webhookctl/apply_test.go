package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

func TestApply(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))

	res := f.runWith(applyEnv(), "apply", "webhooks.yaml")
	wantStdout(t, res, `scope biz:biz1: webhooks 2 created, 0 updated, 0 unchanged, 0 deleted; subscriptions 2 added, 0 removed, 0 unchanged
  created: wh_ok, wh_fail
scope biz:biz2: webhooks 1 created, 0 updated, 0 unchanged, 0 deleted; subscriptions 1 added, 0 removed, 0 unchanged
  created: wh_other
applied webhooks.yaml: 2 scopes
`)

	// What was stored is the file with its ${VAR} references expanded.
	ctx := context.Background()
	c := libClient(t, f, webhook.Config{})
	hooks, err := c.ScopeWebhooks(ctx, "biz", "biz1")
	if err != nil || len(hooks) != 2 {
		t.Fatalf("ScopeWebhooks(biz1) = %+v, %v", hooks, err)
	}
	want := webhook.WebhookConfig{
		Code: "wh_ok", Name: "OK hook", Endpoint: rcv.URL + "/ok", Method: "POST",
		Auth: &webhook.Auth{Type: "bearer", Token: applyToken},
		Headers: []webhook.Header{
			{Key: "X-Api-Key", Value: applyHeader, Doc: "the receiver's key"},
			{Key: "X-Team", Value: "payments"},
		},
		Params:         map[string]string{"source": "cli"},
		Data:           map[string]any{"static": "yes"},
		Timeout:        5 * time.Second,
		SigningSecrets: []string{applySigning},
	}
	got := hooks[0]
	got.RetryInterval = 0 // the library's default, stored
	if !reflect.DeepEqual(got, want) {
		t.Errorf("wh_ok stored as\n%+v\nwant\n%+v", got, want)
	}
	if a := hooks[1].Auth; hooks[1].Code != "wh_fail" || a == nil || a.Username != "alice" || a.Password != applyPassword {
		t.Errorf("wh_fail stored as %+v", hooks[1])
	}
	subs, err := c.ScopeSubscriptions(ctx, "biz", "biz1")
	if wantSubs := map[string][]string{"wh_ok": {"*"}, "wh_fail": {"template_update"}}; err != nil || !reflect.DeepEqual(subs, wantSubs) {
		t.Errorf("subscriptions of biz1 = %v, %v; want %v", subs, err, wantSubs)
	}

	// Applying the same file again changes nothing.
	before := webhookExtraInfo(t, f)
	res = f.runWith(applyEnv(), "apply", "webhooks.yaml")
	wantStdout(t, res, `scope biz:biz1: webhooks 0 created, 0 updated, 2 unchanged, 0 deleted; subscriptions 0 added, 0 removed, 2 unchanged
  unchanged: wh_ok, wh_fail
scope biz:biz2: webhooks 0 created, 0 updated, 1 unchanged, 0 deleted; subscriptions 0 added, 0 removed, 1 unchanged
  unchanged: wh_other
applied webhooks.yaml: 2 scopes
`)
	if after := webhookExtraInfo(t, f); !reflect.DeepEqual(before, after) {
		t.Errorf("re-applying rewrote the stored webhooks:\nbefore %v\nafter  %v", before, after)
	}

	// A new token updates wh_ok only; a webhook and a subscription left out
	// of the file are deleted.
	env := append(applyEnv(), "TEST_TOKEN=tok-APPLY-rotated-77")
	f.writeFile("fewer.yaml", strings.Replace(webhooksYAML(rcv.URL), "      wh_fail: [template_update]\n", "", 1))
	res = f.runWith(env, "apply", "fewer.yaml")
	wantStdout(t, res, `scope biz:biz1: webhooks 0 created, 1 updated, 1 unchanged, 0 deleted; subscriptions 0 added, 1 removed, 1 unchanged
  updated: wh_ok
  unchanged: wh_fail
scope biz:biz2: webhooks 0 created, 0 updated, 1 unchanged, 0 deleted; subscriptions 0 added, 0 removed, 1 unchanged
  unchanged: wh_other
applied fewer.yaml: 2 scopes
`)
	f.writeFile("one.yaml", `scopes:
  - type: biz
    code: biz2
    webhooks: []
    subscriptions: {}
`)
	res = f.mustRun("apply", "one.yaml")
	wantStdout(t, res, `scope biz:biz2: webhooks 0 created, 0 updated, 0 unchanged, 1 deleted; subscriptions 0 added, 1 removed, 0 unchanged
  deleted: wh_other
applied one.yaml: 1 scope
`)
	if hooks, err := c.ScopeWebhooks(ctx, "biz", "biz1"); err != nil || len(hooks) != 2 || hooks[0].Auth.Token != "tok-APPLY-rotated-77" {
		t.Errorf("biz1 after the update = %+v, %v", hooks, err)
	}
}

// webhookExtraInfo returns the stored extra_info of every webhook, by code.
func webhookExtraInfo(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	var rows []struct{ Code, ExtraInfo string }
	if err := openTestDB(t, f.db).Table("webhook_webhook").Select("code, extra_info").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Code] = r.ExtraInfo
	}
	return out
}

// webhookCount returns how many webhooks the fixture's database holds.
func webhookCount(t *testing.T, f *fixture) int {
	t.Helper()
	hooks, err := libClient(t, f, webhook.Config{}).Webhooks(context.Background(), webhook.WebhookQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return len(hooks)
}

func TestApplyDryRun(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))
	res := f.runWith(applyEnv(), "apply", "webhooks.yaml", "--dry-run") // flags may follow FILE
	if res.code != exitOK || !strings.Contains(res.stdout, "scope biz:biz1: webhooks 2 created") ||
		!strings.HasSuffix(res.stdout, "dry run: 2 scopes checked, nothing written\n") {
		t.Fatalf("apply --dry-run: %s", res)
	}
	if n := webhookCount(t, f); n != 0 {
		t.Errorf("apply --dry-run wrote %d webhooks", n)
	}
}

func TestApplyUnsetVariable(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))
	env := []string{"TEST_HEADER=" + applyHeader, "TEST_SIGNING=" + applySigning, "TEST_PASSWORD="} // TEST_TOKEN unset, TEST_PASSWORD empty
	res := f.runWith(env, "apply", "webhooks.yaml")
	wantFailure(t, res, exitUsage, "webhooks.yaml: environment variable TEST_TOKEN (line 9), TEST_PASSWORD (line 21) not set or empty",
		"export each variable", "nothing was written")
	wantNoApplySecrets(t, "apply", res.stderr)
	if n := webhookCount(t, f); n != 0 {
		t.Errorf("apply with an unset variable wrote %d webhooks", n)
	}
}

func TestApplyInvalidFile(t *testing.T) {
	t.Parallel()
	const valid = `scopes:
  - type: biz
    code: biz1
    webhooks:
      - code: wh
        name: Hook
        endpoint: http://127.0.0.1:1/hooks
    subscriptions:
      wh: ["*"]
`
	cases := []struct {
		name, file string
		want       []string
	}{
		{"unknown key", strings.Replace(valid, "endpoint:", "endpiont:", 1),
			[]string{`webhooks.yaml:7: unknown key "endpiont" in a webhook (did you mean "endpoint"?)`}},
		{"unknown top-level key", "scope:\n" + valid[len("scopes:\n"):],
			[]string{`webhooks.yaml:1: unknown key "scope" in the document (did you mean "scopes"?)`}},
		{"repeated key", strings.Replace(valid, "        name: Hook\n", "        name: Hook\n        name: Again\n", 1),
			[]string{`webhooks.yaml:7: key "name" is repeated in a webhook (first on line 6)`}},
		{"missing subscriptions", strings.Replace(valid, "    subscriptions:\n      wh: [\"*\"]\n", "", 1),
			[]string{`webhooks.yaml:2: a scope has no "subscriptions"`}},
		{"wrong type", strings.Replace(valid, "        name: Hook\n", "        name: Hook\n        retry_times: sk-literal-credential\n", 1),
			[]string{"webhooks.yaml:7: retry_times is text, want a whole number"}},
		{"bad duration", strings.Replace(valid, "        name: Hook\n", "        name: Hook\n        timeout: 5 seconds\n", 1),
			[]string{`webhooks.yaml:7: "5 seconds" is not a duration`}},
		{"subscription of an unlisted webhook", strings.Replace(valid, `      wh: ["*"]`, `      other: ["*"]`, 1),
			[]string{`webhooks.yaml:9: scope biz:biz1: subscriptions name webhook "other", which its webhooks do not list`}},
		{"invalid webhook", strings.Replace(valid, "http://127.0.0.1:1/hooks", "ftp://127.0.0.1/hooks", 1),
			[]string{`webhooks.yaml:5: scope biz:biz1: webhook: invalid webhook: webhooks[0] (code "wh"): endpoint scheme "ftp" is not supported`}},
		{"unknown event", strings.Replace(valid, `["*"]`, `[no_such_event]`, 1),
			[]string{"webhooks.yaml:2: scope biz:biz1:", `unknown event "no_such_event"`}},
		{"scope listed twice", valid + valid[len("scopes:\n"):],
			[]string{"webhooks.yaml:10: scope biz:biz1 is listed twice (first on line 2)"}},
		{"bad reference", strings.Replace(valid, "/hooks", "/${HOOK-PATH}", 1),
			[]string{`webhooks.yaml:7: a value has a "${" that starts no ${NAME} reference`}},
		{"empty", "# nothing\n", []string{"the file is empty"}},
		{"no scopes", "scopes: []\n", []string{`"scopes" is empty`}},
		{"not YAML", "scopes: [\n", []string{"webhooks.yaml:"}},
		{"second document", valid + "---\nscopes: []\n", []string{"webhooks.yaml:10: a second YAML document starts here"}},
		{"empty scope code", strings.Replace(valid, "code: biz1", `code: ""`, 1), []string{"webhooks.yaml:2: a scope has an empty code"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.migrate()
			f.writeFile("config/events.yaml", twoEvents)
			f.mustRun("sync-events", f.dir+"/config", "events.yaml")
			f.writeFile("webhooks.yaml", tc.file)
			res := f.run("apply", "webhooks.yaml")
			wantFailure(t, res, exitInvalidInput, append(tc.want, "nothing was written")...)
			if strings.Contains(res.stderr, "sk-lit") {
				t.Errorf("stderr shows a value of the file:\n%s", res.stderr)
			}
			if n := webhookCount(t, f); n != 0 {
				t.Errorf("an invalid file wrote %d webhooks", n)
			}
		})
	}
}

// TestApplyAllOrNothing checks that an error in a later scope leaves the
// earlier ones unwritten.
func TestApplyAllOrNothing(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	file := webhooksYAML(rcv.URL) + `  - type: biz
    code: biz3
    webhooks:
      - code: broken
        name: Broken
        endpoint: http://127.0.0.1:1/x
        auth: {type: digest, token: x}
    subscriptions: {}
`
	f.writeFile("webhooks.yaml", file)
	res := f.runWith(applyEnv(), "apply", "webhooks.yaml")
	wantFailure(t, res, exitInvalidInput, `webhooks.yaml:38: scope biz:biz3:`, `webhooks[0] (code "broken"): auth type "digest" is not supported`, "nothing was written")
	wantNoApplySecrets(t, "apply", res.stderr)
	if n := webhookCount(t, f); n != 0 {
		t.Errorf("a failed apply wrote %d webhooks", n)
	}
}

// TestApplyLiteralCredentials checks the warning about credentials written
// in the file, which must not repeat them.
func TestApplyLiteralCredentials(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	f.writeFile("webhooks.yaml", `scopes:
  - type: biz
    code: biz1
    webhooks:
      - code: wh
        name: Hook
        endpoint: http://127.0.0.1:1/hooks
        auth: {type: bearer, token: literal-token-in-file}
    subscriptions: {}
`)
	res := f.mustRun("apply", "webhooks.yaml")
	if want := "webhookctl: warning: webhooks.yaml:8: auth.token is written in the file"; !strings.Contains(res.stderr, want) ||
		strings.Contains(res.stdout+res.stderr, "literal-token-in-file") {
		t.Errorf("want the warning %q without the token, got %s", want, res)
	}
}

// TestApplySyntaxErrorLines checks that a file that is not valid YAML is
// reported at the line an editor shows the mistake on (yaml.v3's own "line
// N" is one or more lines early for some), in the file:line: form.
func TestApplySyntaxErrorLines(t *testing.T) {
	t.Parallel()
	const valid = `scopes:
  - type: biz
    code: biz1
    webhooks:
      - code: wh
        name: Hook
        endpoint: http://127.0.0.1:1/hooks
    subscriptions:
      wh: ["*"]
`
	unquoted := strings.Replace(valid, `["*"]`, "[template_update]", 1) // no quote to close an unclosed one
	f := newFixture(t)
	f.migrate()
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unclosed quote", strings.Replace(unquoted, "name: Hook", `name: "Hook`, 1),
			"webhooks.yaml:6: not valid YAML: found unexpected end of stream"},
		{"unclosed quote on the first line", strings.Replace(unquoted, "scopes:", `"scopes:`, 1),
			"webhooks.yaml:1: not valid YAML: found unexpected end of stream"},
		{"key indented less than its siblings", strings.Replace(valid, "        endpoint:", "       endpoint:", 1),
			"webhooks.yaml:7: not valid YAML: did not find expected '-' indicator"},
		{"key indented more than its siblings", strings.Replace(valid, "        endpoint:", "          endpoint:", 1),
			"webhooks.yaml:7: not valid YAML: mapping values are not allowed in this context"},
		{"tab", strings.Replace(valid, "        endpoint:", "\tendpoint:", 1),
			"webhooks.yaml:7: not valid YAML: found a tab character that violates indentation"},
		{"unclosed flow list", strings.Replace(valid, `wh: ["*"]`, `wh: ["*"`, 1),
			"webhooks.yaml:9: not valid YAML: did not find expected ',' or ']'"},
	} {
		f.writeFile("webhooks.yaml", tc.file)
		wantFailure(t, f.run("apply", "webhooks.yaml"), exitInvalidInput, "invalid webhooks file: "+tc.want, "nothing was written")
	}
}

// decodeOne decodes stdout as exactly one JSON document into v, refusing
// fields v does not have.
func decodeOne(t *testing.T, stdout string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		t.Fatalf("stdout is not one JSON document of the documented fields (%v):\n%s", err, stdout)
	}
}

func TestApplyJSON(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))

	res := f.runWith(applyEnv(), "apply", "--json", "--dry-run", "webhooks.yaml")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("apply --json --dry-run: %s", res)
	}
	var got applyJSON
	decodeOne(t, res.stdout, &got)
	want := applyJSON{File: "webhooks.yaml", DryRun: true, Scopes: []scopeChangesJSON{
		{Scope: scopeJSON{"biz", "biz1"}, Webhooks: webhookChangeJSON{Created: []string{"wh_ok", "wh_fail"}, Updated: []string{}, Unchanged: []string{}, Deleted: []string{}},
			Subscriptions: subsChangeJSON{Added: 2}},
		{Scope: scopeJSON{"biz", "biz2"}, Webhooks: webhookChangeJSON{Created: []string{"wh_other"}, Updated: []string{}, Unchanged: []string{}, Deleted: []string{}},
			Subscriptions: subsChangeJSON{Added: 1}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("apply --json --dry-run =\n%+v\nwant\n%+v", got, want)
	}
	if n := webhookCount(t, f); n != 0 {
		t.Errorf("apply --json --dry-run wrote %d webhooks", n)
	}
	wantNoApplySecrets(t, "apply --json", res.stdout)

	f.runWith(applyEnv(), "apply", "webhooks.yaml")
	f.writeFile("one.yaml", "scopes:\n  - type: biz\n    code: biz2\n    webhooks: []\n    subscriptions: {}\n")
	res = f.run("apply", "one.yaml", "--json")
	got = applyJSON{}
	decodeOne(t, res.stdout, &got)
	want = applyJSON{File: "one.yaml", Scopes: []scopeChangesJSON{
		{Scope: scopeJSON{"biz", "biz2"}, Webhooks: webhookChangeJSON{Created: []string{}, Updated: []string{}, Unchanged: []string{}, Deleted: []string{"wh_other"}},
			Subscriptions: subsChangeJSON{Removed: 1}},
	}}
	if res.code != exitOK || !reflect.DeepEqual(got, want) {
		t.Errorf("apply --json = %s\n%+v\nwant\n%+v", res, got, want)
	}
	if !strings.Contains(res.stdout, `"dry_run": false`) || !strings.Contains(res.stdout, `"created": []`) {
		t.Errorf("want every field, with [] for empty lists:\n%s", res.stdout)
	}

	// Warnings and errors still go to stderr, with the same exit status.
	f.writeFile("literal.yaml", "scopes:\n  - type: biz\n    code: biz3\n    webhooks:\n      - {code: wh, name: W, endpoint: "+rcv.URL+"/ok, auth: {type: bearer, token: literal-token-in-file}}\n    subscriptions: {}\n")
	res = f.run("apply", "--json", "literal.yaml")
	got = applyJSON{}
	decodeOne(t, res.stdout, &got)
	if res.code != exitOK || !strings.Contains(res.stderr, "warning: literal.yaml:5: auth.token is written in the file") || len(got.Scopes) != 1 {
		t.Errorf("apply --json with a warning: %s", res)
	}
	f.writeFile("bad.yaml", "scopes: []\n")
	wantFailure(t, f.run("apply", "--json", "bad.yaml"), exitInvalidInput, `bad.yaml:1: "scopes" is empty`)
}
