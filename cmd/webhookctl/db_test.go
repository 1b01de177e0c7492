package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

func TestIsPostgresDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]bool{
		"postgres://app@db/app":           true,
		"postgresql://app@db/app":         true,
		"POSTGRES://app@db/app":           true,
		"host=db user=app dbname=app":     true,
		"webhook.db":                      false,
		"/srv/app/webhook.db":             false,
		"file:webhook.db?cache=shared":    false,
		"./postgres/webhook.db":           false,
		"webhook.db?_busy_timeout=5000":   false,
		"postgres-backup/webhook.sqlite3": false,
	} {
		if got := isPostgresDSN(dsn); got != want {
			t.Errorf("isPostgresDSN(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"webhook.db":                      "webhook.db?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate",
		"/srv/app/webhook.db":             "/srv/app/webhook.db?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate",
		"webhook.db?_busy_timeout=5000":   "webhook.db?_busy_timeout=5000",
		"file:webhook.db?mode=ro":         "file:webhook.db?mode=ro",
		"file:webhook.db":                 "file:webhook.db?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate",
		"/data/with space/webhook.db":     "/data/with space/webhook.db?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate",
		"webhook.db?_journal_mode=DELETE": "webhook.db?_journal_mode=DELETE",
	} {
		if got := sqliteDSN(path); got != want {
			t.Errorf("sqliteDSN(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"webhook.db": "webhook.db",
		"postgres://app:s3cret@db:5432/app?sslmode=require":     "postgres://app:xxxxx@db:5432/app?sslmode=require",
		"postgresql://app@db/app":                               "postgresql://app@db/app",
		"postgres://app@db/app?password=s3cret&sslmode=disable": "postgres://app@db/app?password=xxxxx&sslmode=disable",
		"postgres://app:s3cret@db/app?sslpassword=k3y":          "postgres://app:xxxxx@db/app?sslpassword=xxxxx",
		"host=db user=app password=s3cret dbname=app":           "host=db user=app password=xxxxx dbname=app",
		"host=db password = s3cret dbname=app":                  "host=db password = xxxxx dbname=app",
		"host=db password='s3 cr\\'et' dbname=app":              "host=db password=xxxxx dbname=app",
		"host=db PASSWORD=s3cret sslpassword=k3y":               "host=db PASSWORD=xxxxx sslpassword=xxxxx",
		"host=db password='unterminated s3cret":                 "host=db password=xxxxx",
		"postgres://app:s3cret@db:notaport/app":                 "postgres://(DSN not shown: it does not parse as a URL)",
		"postgres://app:s3%cret@db/app":                         "postgres://(DSN not shown: it does not parse as a URL)",
	} {
		if got := redactDSN(dsn); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"1h30m":                     now.Add(-90 * time.Minute),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"2024-05-01T00:00:00Z":      time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"2024-05-01T02:00:00+02:00": time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"2024-05-01T00:00:00.5Z":    time.Date(2024, 5, 1, 0, 0, 0, 5e8, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-1h", "0s", "0d", "-2d", "1.5d", "d", "1w", "2024-05-01", "99999999d"} {
		_, err := parseSince(in, now)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseSince(%q) error = %v, want a usage error", in, err)
		}
	}
}

func TestPrintableAndTruncate(t *testing.T) {
	t.Parallel()
	if got := printable("a\tb\nc\x1b[31md\u202ee\xff"); got != "a b c [31md e " {
		t.Errorf("printable = %q", got)
	}
	if got := truncate("héllo wörld", 5); got != "héll…" {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("short", 5); got != "short" {
		t.Errorf("truncate = %q", got)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{usageErrorf("bad"), exitUsage},
		{fmt.Errorf("wrapped: %w", usageErrorf("bad")), exitUsage},
		{fmt.Errorf("%w: x", webhook.ErrInvalidArgument), exitUsage},
		{withHint(fmt.Errorf("%w: x.yaml:3: oops", webhook.ErrInvalidEvents), "fix it"), exitInvalidInput},
		{fmt.Errorf("%w: bad hook", webhook.ErrInvalidWebhook), exitInvalidInput},
		{fmt.Errorf("%w: bad sub", webhook.ErrInvalidSubscription), exitInvalidInput},
		{fmt.Errorf("open: %w", fs.ErrNotExist), exitFailure},
		{errors.New("database is locked"), exitFailure},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestRunInProcess checks that run needs nothing from the real process.
func TestRunInProcess(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	env := func(string) string { return "" }
	if code := run(context.Background(), []string{"help", "history"}, env, &stdout, &stderr); code != exitOK || stderr.Len() != 0 {
		t.Fatalf("help history: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"--db", t.TempDir() + "/x.db", "check-secret"}, env, &stdout, &stderr); code != exitUsage ||
		!bytes.Contains(stderr.Bytes(), []byte(envSecret)) || stdout.Len() != 0 {
		t.Fatalf("check-secret without secret: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	db := t.TempDir() + "/y.db"
	if code := run(context.Background(), []string{"--db", db, "migrate"}, env, &stdout, &stderr); code != exitOK ||
		stdout.String() != "migrated "+db+"\n" || stderr.Len() != 0 {
		t.Fatalf("migrate without secret: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
