package main

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

// runIn runs the command line in-process with an empty environment.
func runIn(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	t.Parallel()
	want := progName + " " + webhook.Version + " (github.com/scopehook/webhook) " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}, {"--db", "x.db", "--version"}} {
		if code, stdout, stderr := runIn(args...); code != exitOK || stdout != want || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %q", args, code, stdout, stderr, want)
		}
	}
	f := newFixture(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		res := f.runEnv(nil, args...) // no database, no secret
		if res.code != exitOK || !strings.Contains(res.stdout, " "+webhook.Version+" ") || !strings.Contains(res.stdout, " go1.") || res.stderr != "" {
			t.Errorf("binary %q: %s", args, res)
		}
	}
	wantFailure(t, f.run("--version", "migrate"), exitUsage, "--version takes no command")
	wantFailure(t, f.run("version", "now"), exitUsage, "version takes no arguments")
	if fileExists(f.db) {
		t.Error("version created the database")
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // "" for no suggestion
	}{
		{[]string{"migrat"}, `did you mean "migrate"?`},
		{[]string{"histroy"}, `did you mean "history"?`},
		{[]string{"deliverys"}, `did you mean "deliveries"?`},
		{[]string{"webhook"}, `did you mean "webhooks"?`},
		{[]string{"MIGRATE"}, `did you mean "migrate"?`},
		{[]string{"reencrpyt"}, `did you mean "reencrypt"?`},
		{[]string{"versoin"}, `did you mean "version"?`},
		{[]string{"close-circut"}, `did you mean "close-circuit"?`},
		{[]string{"help", "prnue"}, `did you mean "prune"?`},
		{[]string{"bogus"}, ""},
		{[]string{"sync"}, ""},
		{[]string{"hx"}, ""},
	} {
		code, stdout, stderr := runIn(tc.args...)
		name := tc.args[len(tc.args)-1]
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, `unknown command "`+name+`"`) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
			continue
		}
		switch {
		case tc.want == "" && strings.Contains(stderr, "did you mean"):
			t.Errorf("%q: unexpected suggestion: %s", tc.args, stderr)
		case tc.want != "" && !strings.Contains(stderr, tc.want):
			t.Errorf("%q: stderr lacks %q: %s", tc.args, tc.want, stderr)
		}
	}
	// Several commands equally near are all offered.
	a := &app{commands: []*command{{name: "ab"}, {name: "ac"}, {name: "zzzz"}}}
	if got := a.suggestCommands("a"); len(got) != 2 || got[0] != "ab" || got[1] != "ac" {
		t.Errorf("suggestCommands(a) = %q, want [ab ac]", got)
	}
	if err := a.unknownCommand("a"); !strings.Contains(err.Error(), `did you mean "ab" or "ac"?`) {
		t.Errorf("unknownCommand(a) = %v", err)
	}
}

func TestClassifyDSN(t *testing.T) {
	t.Parallel()
	const (
		sqlite   = "sqlite"
		postgres = "postgres"
		refused  = "refused"
	)
	for _, tc := range []struct {
		dsn, want string
		msg       string // a fragment of the error, when refused
	}{
		{"webhook.db", sqlite, ""},
		{"/srv/app/webhook.db", sqlite, ""},
		{"./data/host=1/webhook.db", sqlite, ""}, // host= inside a path is not a key
		{"backup host=old.db", sqlite, ""},
		{"my-dbname=x.db", sqlite, ""},
		{"file:webhook.db?cache=shared", sqlite, ""},
		{"file:///srv/app/webhook.db", sqlite, ""},
		{":memory:", sqlite, ""},
		{"webhook.db?_busy_timeout=5000", sqlite, ""},
		{"C:\\data\\webhook.db", sqlite, ""},
		{"foo=bar.db", sqlite, ""}, // not a libpq key
		{"postgres://app@db/app", postgres, ""},
		{"postgresql://app:pw@db:5432/app?sslmode=require", postgres, ""},
		{"POSTGRES://app@db/app", postgres, ""},
		{"host=db user=app dbname=app", postgres, ""},
		{"dbname=app", postgres, ""},
		{"  host = db  port=5432 sslmode=disable", postgres, ""},
		{"host=db password='s3 cr\\'et' dbname=app", postgres, ""},
		{"host=/var/run/postgresql dbname=app application_name=webhookctl connect_timeout=5", postgres, ""},
		{"host=db dbname=app default_query_exec_mode=simple_protocol", postgres, ""},
		{"mysql://app:hunter2@db/app", refused, "the mysql:// scheme is not supported: only SQLite file paths and PostgreSQL DSNs are supported"},
		{"sqlserver://sa@db?database=app", refused, "sqlserver://"},
		{"sqlite://webhook.db", refused, "sqlite://"},
		{"https://db.example.com/app", refused, "https://"},
		{"port=5432 user=app", refused, "needs host= or dbname="},
		{"host=db dbnme=app", refused, `"dbnme" is not a PostgreSQL connection parameter (did you mean "dbname"?)`},
		{"host=db search_path=x", refused, `"search_path" is not a PostgreSQL connection parameter`},
		{"host=db password='unterminated hunter2", refused, "is not closed"},
		{"host=db password=two words", refused, "is not a key=value pair"},
	} {
		kind, err := classifyDSN(tc.dsn)
		got := sqlite
		switch {
		case err != nil:
			got = refused
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Errorf("classifyDSN(%q): error %v is not a usage error", tc.dsn, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("classifyDSN(%q) = %v, want %q in it", tc.dsn, err, tc.msg)
			}
			for _, secret := range []string{"hunter2", "words", "app@db"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("classifyDSN(%q): the error shows part of the DSN: %v", tc.dsn, err)
				}
			}
		case kind == dsnPostgres:
			got = postgres
		}
		if got != tc.want {
			t.Errorf("classifyDSN(%q) = %s (%v), want %s", tc.dsn, got, err, tc.want)
		}
	}

	// The command refuses them with status 2, before creating anything.
	f := newFixture(t)
	for _, dsn := range []string{"mysql://app:hunter2@db/app", "sqlserver://sa@db", "host=db dbnme=app"} {
		res := f.runEnv(f.env, "--db", dsn, "migrate")
		wantFailure(t, res, exitUsage, "--db: ", "Run 'webhookctl help migrate'")
		if strings.Contains(res.stderr, "hunter2") {
			t.Errorf("the error shows the password: %s", res.stderr)
		}
	}
}

func TestParseScopeText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxScopeLen+1)
	for _, tc := range []struct {
		in        string
		typ, code string
		problem   string // a fragment of the error; "" for success
	}{
		{"biz:biz1", "biz", "biz1", ""},
		{"shop:s:1", "shop", "s:1", ""}, // the code is all after the first colon
		{"a:b", "a", "b", ""},
		{strings.Repeat("t", maxScopeLen) + ":c", strings.Repeat("t", maxScopeLen), "c", ""},
		{"", "", "", "it is empty"},
		{"  ", "", "", "it is empty"},
		{"biz", "", "", `there is no ":" between the type and the code`},
		{":biz1", "", "", `the type before ":" is empty`},
		{" :biz1", "", "", `the type before ":" is empty`},
		{"biz:", "", "", `the code after ":" is empty`},
		{":", "", "", "both empty"},
		{"biz :biz1", "", "", "leading or trailing spaces"},
		{"biz: biz1", "", "", "leading or trailing spaces"},
		{long + ":c", "", "", "the type is longer than 64 characters"},
		{"t:" + long, "", "", "the code is longer than 64 characters"},
	} {
		s, err := parseScopeText(tc.in, scopeForm)
		if tc.problem == "" {
			if err != nil || s.Type != tc.typ || s.Code != tc.code {
				t.Errorf("parseScopeText(%q) = %+v, %v; want %s:%s", tc.in, s, err, tc.typ, tc.code)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), "want TYPE:CODE, such as biz:biz1 (") || !strings.Contains(err.Error(), tc.problem) {
			t.Errorf("parseScopeText(%q) error = %v, want one saying %q", tc.in, err, tc.problem)
		}
	}

	// Every place that reads a scope uses it, and says which flag or
	// argument was wrong.
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "--scope", "biz:"}, `--scope "biz:": want TYPE:CODE, such as biz:biz1 (the code after ":" is empty)`},
		{[]string{"deliveries", "--scope", ":x"}, `--scope ":x": want TYPE:CODE, such as biz:biz1 (the type before ":" is empty)`},
		{[]string{"webhooks", "--scope", "biz"}, `--scope "biz": want TYPE:CODE, such as biz:biz1 (there is no ":"`},
		{[]string{"redeliver", "--failed", "--scope", "biz"}, `--scope "biz": want TYPE:CODE`},
		{[]string{"broadcast", "ev", "--scope", "biz:"}, `invalid value "biz:" for flag -scope: want TYPE:CODE, such as biz:biz1 (the code after ":" is empty)`},
		{[]string{"close-circuit", ":b", "wh"}, `scope ":b": want SCOPE_TYPE:SCOPE_CODE, such as biz:biz1 (the type before ":" is empty)`},
	} {
		wantFailure(t, f.run(tc.args...), exitUsage, tc.want)
	}
}

func TestCountsAreSingularForOne(t *testing.T) {
	t.Parallel()
	if got := plural(1, "consecutive failure", "consecutive failures"); got != "1 consecutive failure" {
		t.Errorf("plural(1) = %q", got)
	}
	var buf bytes.Buffer
	hooks := []webhookJSON{
		{WebhookInfo: webhook.WebhookInfo{Code: "one", Enabled: true, ConsecutiveFailures: 1}},
		{WebhookInfo: webhook.WebhookInfo{Code: "two", Enabled: true, ConsecutiveFailures: 2}},
	}
	if err := writeWebhooksTable(&buf, hooks); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasSuffix(strings.TrimSpace(lines[1]), " 1 consecutive failure") || !strings.HasSuffix(strings.TrimSpace(lines[2]), " 2 consecutive failures") {
		t.Errorf("webhooks NOTE column:\n%s", buf.String())
	}

	// check-secret's counts agree with their verbs.
	var out, errOut bytes.Buffer
	printSecretCheck(&app{stdout: &out, stderr: &errOut}, webhook.CheckSecretResult{
		Webhooks: 1, Credentials: 3, Current: 1, Old: 1,
		Failures: []webhook.SecretFailure{{Scope: webhook.Scope{Type: "biz", Code: "b1"}, WebhookCode: "wh", Field: "auth token", Err: webhook.ErrDecrypt}},
	})
	if want := "examined 1 webhook, 3 credentials: 1 decrypts with the current secret, 1 with an old secret, 0 stored in plain text, 1 fails\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("check-secret counts:\n%s\nwant\n%s", out.String(), want)
	}
	if want := "note: 1 credential still needs an old secret"; !strings.Contains(errOut.String(), want) {
		t.Errorf("check-secret note: %s", errOut.String())
	}

	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	now := time.Now().UTC().Truncate(time.Second)
	opened := now.Add(-5 * time.Minute)
	setCircuit(t, openTestDB(t, f.db), "biz", "biz1", "wh_fail", opened, now.Add(10*time.Minute), 1, 0, "it failed")
	res := f.mustRun("close-circuit", "biz:biz1", "wh_fail")
	if want := "closed the circuit of wh_fail in scope biz:biz1 (it was open since " + formatTime(opened) + ", 1 consecutive failure)\n"; res.stdout != want {
		t.Errorf("close-circuit: want stdout %q, got %s", want, res)
	}
}

func TestPruneDryRun(t *testing.T) {
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
	}{{webhook.StatusSucceeded, old}, {webhook.StatusCancelled, old}, {webhook.StatusPending, old}, {webhook.StatusFailed, now}} {
		err := db.Exec(`INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, created_at)
			VALUES ('d', 'ev', 'biz', 'b1', 'wh', '{}', ?, 1, ?, ?)`, d.status, d.at, d.at).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	counts := func() (history, deliveries int64) {
		db.Table("webhook_history").Count(&history)
		db.Table("webhook_delivery").Count(&deliveries)
		return
	}

	for i := 0; i < 2; i++ {
		res := f.mustRun("prune", "--older-than", "30d", "--dry-run")
		if !strings.HasPrefix(res.stdout, "dry run: would prune 2 history rows and 2 finished deliveries older than 30d (before ") ||
			!strings.HasSuffix(res.stdout, "); nothing deleted\n") || res.stderr != "" {
			t.Fatalf("prune --dry-run: %s", res)
		}
		if h, d := counts(); h != 3 || d != 4 {
			t.Fatalf("prune --dry-run deleted rows: %d history rows and %d deliveries left, want 3 and 4", h, d)
		}
	}
	res := f.mustRun("prune", "--dry-run", "--older-than", "1d")
	if !strings.HasPrefix(res.stdout, "dry run: would prune 2 history rows and 2 finished deliveries older than 1d") {
		t.Errorf("prune --dry-run --older-than 1d: %s", res)
	}
	res = f.mustRun("prune", "--older-than", "30d")
	if res.stdout != "pruned 2 history rows and 2 finished deliveries older than 30d\n" {
		t.Fatalf("prune after the dry run: %s", res)
	}
	res = f.mustRun("prune", "--older-than", "30d", "--dry-run")
	if !strings.HasPrefix(res.stdout, "dry run: would prune 0 history rows and 0 finished deliveries older than 30d") {
		t.Errorf("prune --dry-run once pruned: %s", res)
	}
	wantFailure(t, f.run("prune", "--dry-run"), exitUsage, "--older-than is required")
}

func TestSyncEventsDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	before := eventCodes(t, f)

	// template_create renamed, template_update dropped, task_done new.
	f.writeFile("config/events.yaml", "version: 1\nevents:\n  - code: template_create\n    name: Template added\n  - code: task_done\n    name: Task done\n    info: {n: 1}\n")
	path := f.dir + "/config/events.yaml"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sync-events", "--prune", "--dry-run", f.dir + "/config", "events.yaml"},
			"dry run: would sync events from " + path + ": 1 created, 1 updated, 0 unchanged, 1 removed; nothing written\ncreated: task_done\nupdated: template_create\nremoved: template_update\n"},
		{[]string{"sync-events", "--dry-run", f.dir + "/config", "events.yaml"},
			"dry run: would sync events from " + path + ": 1 created, 1 updated, 0 unchanged, 0 removed; nothing written\ncreated: task_done\nupdated: template_create\n"},
	} {
		wantStdout(t, f.mustRun(tc.args...), tc.want)
		if got := eventCodes(t, f); strings.Join(got, ",") != strings.Join(before, ",") {
			t.Fatalf("%q changed the events: %v, was %v", tc.args, got, before)
		}
	}

	// The real sync does what the dry run said; then nothing is left to do.
	wantStdout(t, f.mustRun("sync-events", "--prune", f.dir+"/config", "events.yaml"),
		"synced events from "+path+": 1 created, 1 updated, 0 unchanged, 1 removed\ncreated: task_done\nupdated: template_create\nremoved: template_update\n")
	wantStdout(t, f.mustRun("sync-events", "--prune", "--dry-run", f.dir+"/config", "events.yaml"),
		"dry run: would sync events from "+path+": 0 created, 0 updated, 2 unchanged, 0 removed; nothing written\nunchanged: template_create, task_done\n")

	// The dry run validates as the sync does, and refuses to prune all.
	f.writeFile("config/bad.yaml", "version: 1\nevents:\n  - code: x\n")
	wantFailure(t, f.run("sync-events", "--dry-run", f.dir+"/config", "bad.yaml"), exitInvalidInput, "bad.yaml:3")
	f.writeFile("config/empty.yaml", "version: 1\nevents: []\n")
	wantFailure(t, f.run("sync-events", "--prune", "--dry-run", f.dir+"/config", "empty.yaml"), exitInvalidInput, "refusing to prune")
}
