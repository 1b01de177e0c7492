package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const testSecret = "cli-test-private-secret-0123456789"

// binary is the path of the webhookctl binary that TestMain builds. It is
// set once, before any test runs, and only read afterwards.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "webhookctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a temporary directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "webhookctl")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command(goTool(), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building webhookctl: %v\n%s", err, out)
		return 1
	}
	binary = bin
	return m.Run()
}

// goTool returns the go command on PATH. Under "go test" that is the
// toolchain running the tests, since go test puts its own GOROOT/bin first
// on PATH; runtime.GOROOT is deprecated for this.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// result is what one run of the binary produced.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// fixture is a temporary directory holding a SQLite database for the
// binary to run against.
type fixture struct {
	t   *testing.T
	dir string
	db  string
	env []string // the binary's whole environment
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	return &fixture{
		t:   t,
		dir: dir,
		db:  filepath.Join(dir, "webhook.db"),
		env: []string{envSecret + "=" + testSecret},
	}
}

// run runs the binary with --db set to the fixture's database.
func (f *fixture) run(args ...string) result {
	f.t.Helper()
	return f.runEnv(f.env, append([]string{"--db", f.db}, args...)...)
}

// runEnv runs the binary in the fixture's directory with exactly the given
// environment and arguments.
func (f *fixture) runEnv(env []string, args ...string) result {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = f.dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		f.t.Fatalf("running webhookctl %q: %v", args, err)
	}
	return res
}

// mustRun runs the binary and fails the test unless it exits 0.
func (f *fixture) mustRun(args ...string) result {
	f.t.Helper()
	res := f.run(args...)
	if res.code != exitOK {
		f.t.Fatalf("webhookctl %q: want exit 0, got %s", args, res)
	}
	return res
}

func (f *fixture) migrate() {
	f.t.Helper()
	f.mustRun("migrate")
}

func (f *fixture) writeFile(name, content string) {
	f.t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// wantFailure checks the exit status and that stderr carries the prefix and
// every wanted fragment while stdout stays empty.
func wantFailure(t *testing.T, res result, code int, fragments ...string) {
	t.Helper()
	if res.code != code {
		t.Errorf("want exit %d, got %s", code, res)
		return
	}
	if !strings.HasPrefix(res.stderr, progName+": ") {
		t.Errorf("stderr does not start with %q:\n%s", progName+": ", res.stderr)
	}
	for _, frag := range fragments {
		if !strings.Contains(res.stderr, frag) {
			t.Errorf("stderr lacks %q:\n%s", frag, res.stderr)
		}
	}
	if res.stdout != "" {
		t.Errorf("stdout is not empty on failure:\n%s", res.stdout)
	}
}

func TestTopLevelHelp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"--db", "x.db", "help"}} {
		res := f.runEnv(nil, args...) // help needs no secret
		if res.code != exitOK || res.stderr != "" {
			t.Fatalf("%q: want exit 0 and no stderr, got %s", args, res)
		}
		for _, want := range []string{
			"Usage:", "migrate", "sync-events", "history", "help",
			"--db DSN", envDB, envSecret, "postgres://",
			"Exit status:", "0  success", "1  runtime failure", "2  usage error", "3  invalid input data",
			"Example:",
		} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%q: help lacks %q:\n%s", args, want, res.stdout)
			}
		}
	}
}

func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			for _, args := range [][]string{{cmd.name, "--help"}, {cmd.name, "-h"}, {"help", cmd.name}} {
				res := f.runEnv(nil, args...)
				if res.code != exitOK || res.stderr != "" {
					t.Fatalf("%q: want exit 0 and no stderr, got %s", args, res)
				}
				for _, want := range []string{"Usage: webhookctl [global flags] " + cmd.name, "Example:\n  webhookctl", "--db DSN"} {
					if !strings.Contains(res.stdout, want) {
						t.Errorf("%q: help lacks %q:\n%s", args, want, res.stdout)
					}
				}
			}
			if fileExists(filepath.Join(f.dir, defaultDB)) {
				t.Error("help created a database")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`},
		{"unknown global flag", []string{"--bogus", "migrate"}, "flag provided but not defined: -bogus"},
		{"unknown command flag", []string{"migrate", "--bogus"}, "migrate: flag provided but not defined: -bogus"},
		{"migrate argument", []string{"migrate", "extra"}, "migrate takes no arguments"},
		{"sync-events no argument", []string{"sync-events"}, "takes 1 or 2 arguments, FILE or BASE_PATH and FILENAME, got 0"},
		{"sync-events three arguments", []string{"sync-events", "dir", "events.yaml", "more.yaml"}, "takes 1 or 2 arguments, FILE or BASE_PATH and FILENAME, got 3"},
		{"sync-events directory", []string{"sync-events", "."}, ". is a directory: give the events file in it, such as events.yaml, or BASE_PATH FILENAME"},
		{"sync-events flag after arguments", []string{"sync-events", "dir", "events.yaml", "--prune"}, "flags such as --prune go before them"},
		{"sync-events empty base", []string{"sync-events", "", "events.yaml"}, "BASE_PATH is empty"},
		{"sync-events escaping file name", []string{"sync-events", ".", "../events.yaml"}, "must be a relative path inside BASE_PATH"},
		{"history argument", []string{"history", "extra"}, "history takes no arguments"},
		{"history since word", []string{"history", "--since", "yesterday"}, `--since "yesterday"`},
		{"history since negative", []string{"history", "--since", "-5h"}, "must be positive"},
		{"history since zero days", []string{"history", "--since", "0d"}, "whole number of days"},
		{"history success", []string{"history", "--success", "maybe"}, "want true or false"},
		{"history scope", []string{"history", "--scope", "biz"}, "want TYPE:CODE"},
		{"history status", []string{"history", "--status", "42"}, "from 100 to 599"},
		{"history status word", []string{"history", "--status", "ok"}, `invalid value "ok"`},
		{"history limit zero", []string{"history", "--limit", "0"}, "--limit 0: want 1 to 10000"},
		{"history limit too big", []string{"history", "--limit", "10001"}, "want 1 to 10000"},
		{"help unknown", []string{"help", "bogus"}, `unknown command "bogus"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			res := f.run(tc.args...)
			wantFailure(t, res, exitUsage, tc.want, "Run 'webhookctl help")
			if fileExists(f.db) {
				t.Error("a usage error created the database")
			}
		})
	}
}

func TestMissingSecret(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"check-secret"}, {"reencrypt"}, {"broadcast", "template_update", "--scope", "biz:biz1"}} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.writeFile("events.yaml", "version: 1\nevents: []\n")
			res := f.runEnv([]string{envDB + "=" + f.db}, args...)
			wantFailure(t, res, exitUsage, envSecret+" is not set", "export "+envSecret)
			if fileExists(f.db) {
				t.Error("the database was created without a secret")
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := 0; i < 2; i++ { // idempotent
		res := f.mustRun("migrate")
		if want := "migrated " + f.db + "\n"; res.stdout != want || res.stderr != "" {
			t.Fatalf("run %d: want stdout %q and no stderr, got %s", i+1, want, res)
		}
	}
	db := openTestDB(t, f.db)
	for _, table := range []string{"webhook_event", "webhook_webhook", "webhook_subscription", "webhook_scope", "webhook_history"} {
		if !db.Migrator().HasTable(table) {
			t.Errorf("table %s missing after migrate", table)
		}
	}
}

func TestDatabaseSelection(t *testing.T) {
	t.Parallel()
	t.Run("WEBHOOK_DB", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := f.runEnv(append(f.env, envDB+"=env.db"), "migrate")
		if res.code != exitOK || res.stdout != "migrated env.db\n" || !fileExists(filepath.Join(f.dir, "env.db")) {
			t.Fatalf("want env.db migrated, got %s", res)
		}
		// --db, given after the command, wins over WEBHOOK_DB.
		res = f.runEnv(append(f.env, envDB+"=env.db"), "migrate", "--db", "flag.db")
		if res.code != exitOK || res.stdout != "migrated flag.db\n" || !fileExists(filepath.Join(f.dir, "flag.db")) {
			t.Fatalf("want flag.db migrated, got %s", res)
		}
	})
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		res := f.runEnv(f.env, "migrate")
		if res.code != exitOK || res.stdout != "migrated webhook.db\n" || !fileExists(filepath.Join(f.dir, "webhook.db")) {
			t.Fatalf("want webhook.db migrated, got %s", res)
		}
	})
	t.Run("missing SQLite file", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		wantFailure(t, f.run("history"), exitFailure, "SQLite database "+f.db+" does not exist", "migrate")
		if fileExists(f.db) {
			t.Error("history created the database")
		}
	})
	t.Run("not migrated", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.writeFile("webhook.db", "") // an empty file is an empty SQLite database
		wantFailure(t, f.run("history"), exitFailure, "no such table", "run 'webhookctl migrate' first")
	})
	t.Run("PostgreSQL password redacted", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, dsn := range []string{
			"postgres://app:pg-url-secret@127.0.0.1:1/app?sslmode=disable&connect_timeout=5",
			"host=127.0.0.1 port=1 user=app password='pg kv secret' dbname=app sslmode=disable connect_timeout=5",
		} {
			res := f.runEnv(f.env, "--db", dsn, "migrate")
			wantFailure(t, res, exitFailure, "opening PostgreSQL database", "xxxxx")
			if strings.Contains(res.stderr, "pg-url-secret") || strings.Contains(res.stderr, "pg kv secret") {
				t.Errorf("stderr shows the DSN's password:\n%s", res.stderr)
			}
		}
	})
}
