package main

import (
	"strings"
	"testing"
	"time"
)

// seedOldHistory inserts n history rows recorded 40 days ago and one
// recorded now.
func seedOldHistory(t *testing.T, f *fixture, n int) {
	t.Helper()
	db := openTestDB(t, f.db)
	now := time.Now().UTC()
	for i := 0; i <= n; i++ {
		at := now.Add(-40 * 24 * time.Hour)
		if i == n {
			at = now
		}
		err := db.Exec(`INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt)
			VALUES ('wh', 'ev', ?, 1, 200, 'd', 'biz', 'b1', '{}', 1)`, at).Error
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPruneJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	seedOldHistory(t, f, 2)

	before := time.Now().Add(-30 * 24 * time.Hour).Add(-time.Minute)
	res := f.mustRun("prune", "--older-than", "30d", "--dry-run", "--json")
	var got pruneJSON
	decodeOne(t, res.stdout, &got)
	if res.stderr != "" || !got.DryRun || got.OlderThan != "30d" || got.HistoryRows != 2 || got.Deliveries != 0 ||
		got.Before.Before(before) || got.Before.After(time.Now().Add(-30*24*time.Hour)) {
		t.Errorf("prune --dry-run --json = %+v (%s)", got, res)
	}
	for _, field := range []string{`"dry_run": true`, `"older_than": "30d"`, `"before": "`, `"history_rows": 2`, `"deliveries": 0`} {
		if !strings.Contains(res.stdout, field) {
			t.Errorf("prune --json lacks %s:\n%s", field, res.stdout)
		}
	}

	res = f.run("prune", "--json", "--older-than", "720h")
	got = pruneJSON{}
	decodeOne(t, res.stdout, &got)
	if res.code != exitOK || got.DryRun || got.OlderThan != "30d" || got.HistoryRows != 2 {
		t.Errorf("prune --json = %+v (%s)", got, res)
	}
	if !strings.HasPrefix(res.stderr, "pruning history and finished deliveries older than 30d") {
		t.Errorf("the progress note belongs on stderr: %s", res)
	}
	res = f.mustRun("prune", "--json", "--older-than", "30d", "--dry-run")
	got = pruneJSON{}
	if decodeOne(t, res.stdout, &got); got.HistoryRows != 0 {
		t.Errorf("after pruning, prune --dry-run --json = %+v", got)
	}
	wantFailure(t, f.run("prune", "--json"), exitUsage, "--older-than is required")
}
