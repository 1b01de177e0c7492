package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/gorm"
)

// setCircuit writes the circuit columns of a webhook, as the service's
// workers would: until in the future is open, in the past half-open.
func setCircuit(t *testing.T, db *gorm.DB, scopeType, scopeCode, code string, openedAt, until time.Time, failures, probes int, reason string) {
	t.Helper()
	res := db.Exec(`UPDATE webhook_webhook SET circuit_open_until = ?, circuit_opened_at = ?, circuit_failures = ?, circuit_probes = ?, circuit_reason = ?
		WHERE scope_type = ? AND scope_code = ? AND code = ?`, until.UTC(), openedAt.UTC(), failures, probes, reason, scopeType, scopeCode, code)
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("opening the circuit of %s: %v (%d rows)", code, res.Error, res.RowsAffected)
	}
}

type circuitRow struct {
	CircuitOpenUntil *time.Time
	CircuitOpenedAt  *time.Time
	CircuitFailures  int
	CircuitProbes    int
	CircuitReason    *string
}

func readCircuit(t *testing.T, db *gorm.DB, scopeType, scopeCode, code string) circuitRow {
	t.Helper()
	var r circuitRow
	if err := db.Table("webhook_webhook").Select("circuit_open_until, circuit_opened_at, circuit_failures, circuit_probes, circuit_reason").
		Where("scope_type = ? AND scope_code = ? AND code = ?", scopeType, scopeCode, code).Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCircuits(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	db := openTestDB(t, f.db)
	now := time.Now().UTC().Truncate(time.Second)
	opened, until := now.Add(-5*time.Minute), now.Add(10*time.Minute)
	const reason = "7 consecutive failures: POST http://127.0.0.1/fail answered 503\n\x1b[31mred"
	setCircuit(t, db, "biz", "biz1", "wh_fail", opened, until, 7, 2, reason)
	setCircuit(t, db, "biz", "biz2", "wh_other", now.Add(-time.Hour), now.Add(-time.Minute), 3, 0, "paused by Retry-After")

	// The table's CIRCUIT column, and the reason in NOTE.
	res := f.mustRun("webhooks")
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], " CIRCUIT ") {
		t.Fatalf("webhooks table: %s", res)
	}
	if strings.Contains(res.stdout, "\x1b") {
		t.Errorf("the table carries an escape sequence:\n%q", res.stdout)
	}
	byCode := map[string][]string{}
	for _, l := range lines[1:] {
		cols := strings.Fields(l)
		byCode[cols[1]] = cols
	}
	if c := byCode["wh_fail"]; c[3] != "open" || !strings.Contains(lines[1], "circuit open, next probe "+formatTime(until)+": 7 consecutive failures: POST") {
		t.Errorf("wh_fail row = %q", lines[1])
	}
	if c := byCode["wh_ok"]; c[3] != "closed" {
		t.Errorf("wh_ok row = %q", c)
	}
	if c := byCode["wh_other"]; c[3] != "half-open" || !strings.Contains(lines[3], "circuit half-open, probe due since "+formatTime(now.Add(-time.Minute))+": paused by Retry-After") {
		t.Errorf("wh_other row = %q", lines[3])
	}

	// --json carries the whole circuit.
	res = f.mustRun("webhooks", "--json", "--scope", "biz:biz1")
	var hooks []struct {
		Code    string          `json:"code"`
		Circuit webhook.Circuit `json:"circuit"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &hooks); err != nil || len(hooks) != 2 {
		t.Fatalf("webhooks --json: %v\n%s", err, res.stdout)
	}
	if c := hooks[0].Circuit; hooks[0].Code != "wh_fail" || c.State != webhook.CircuitOpen || c.Failures != 7 || c.Probes != 2 || c.Reason != reason ||
		!c.Since.Equal(opened) || !c.NextProbe.Equal(until) {
		t.Errorf("wh_fail circuit = %+v", c)
	}
	if c := hooks[1].Circuit; hooks[1].Code != "wh_ok" || c.State != webhook.CircuitClosed || !c.Since.IsZero() || !c.NextProbe.IsZero() {
		t.Errorf("wh_ok circuit = %+v", c)
	}
	if !strings.Contains(res.stdout, `"state": "open"`) || !strings.Contains(res.stdout, `"next_probe": "`) {
		t.Errorf("webhooks --json circuit fields:\n%s", res.stdout)
	}

	// close-circuit closes it in the database.
	res = f.mustRun("close-circuit", "biz:biz1", "wh_fail")
	if res.stdout != "closed the circuit of wh_fail in scope biz:biz1 (it was open since "+formatTime(opened)+", 7 consecutive failures)\n" ||
		!strings.Contains(res.stderr, "note: the workers of the service (Client.Start) send its waiting deliveries") {
		t.Errorf("close-circuit: %s", res)
	}
	if r := readCircuit(t, db, "biz", "biz1", "wh_fail"); r.CircuitOpenUntil != nil || r.CircuitOpenedAt != nil || r.CircuitFailures != 0 || r.CircuitProbes != 0 || r.CircuitReason != nil {
		t.Errorf("wh_fail circuit after close-circuit: %+v", r)
	}
	if r := readCircuit(t, db, "biz", "biz2", "wh_other"); r.CircuitOpenUntil == nil {
		t.Error("close-circuit closed another webhook's circuit")
	}
	// Again: already closed, still exit 0.
	wantStdout(t, f.run("close-circuit", "biz:biz1", "wh_fail"), "the circuit of wh_fail in scope biz:biz1 was already closed; its failure count is reset\n")
	// The half-open one, with the global flag after the command.
	res = f.runEnv(f.env, "close-circuit", "--db", f.db, "biz:biz2", "wh_other")
	if res.code != exitOK || !strings.HasPrefix(res.stdout, "closed the circuit of wh_other in scope biz:biz2 (it was half-open since ") {
		t.Errorf("close-circuit of a half-open circuit: %s", res)
	}
	if res := f.mustRun("webhooks"); strings.Contains(res.stdout, " open ") || strings.Contains(res.stdout, "half-open") {
		t.Errorf("circuits left open:\n%s", res.stdout)
	}

	// Unknown webhook or scope: exit 3, with the way to find the right one.
	wantFailure(t, f.run("close-circuit", "biz:biz1", "nope"), exitInvalidInput, "close-circuit: webhook: webhook not found: biz/biz1 \"nope\"",
		"check the scope and code with 'webhookctl webhooks --scope biz:biz1'")
	wantFailure(t, f.run("close-circuit", "biz:none", "wh_fail"), exitInvalidInput, "webhook not found")
	// A database that is not migrated: a runtime failure.
	g := newFixture(t)
	g.writeFile("webhook.db", "")
	wantFailure(t, g.run("close-circuit", "biz:biz1", "wh"), exitFailure, "no such table", "migrate")
}

func TestInstances(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()

	// None: an empty table, and a note on what that means.
	res := f.mustRun("instances")
	if strings.Join(strings.Fields(res.stdout), " ") != "ID HOST PID VERSION WORKERS STARTED LAST_SEEN STATE LEASED" ||
		!strings.Contains(res.stderr, "no worker instance ran in the last hour") {
		t.Errorf("instances with none: %s", res)
	}
	wantStdout(t, f.run("instances", "--json"), "[]\n")

	db := openTestDB(t, f.db)
	now := time.Now().UTC().Truncate(time.Second)
	for _, in := range []struct {
		id, host      string
		pid, workers  int
		started, seen time.Time
		leased        int // at the last heartbeat
	}{
		{"inst-alive", "web-1", 4242, 8, now.Add(-time.Hour), now.Add(-2 * time.Second), 2},
		{"inst-dead", "web-2\tevil\x1b[2J", 77, 2, now.Add(-3 * time.Hour), now.Add(-10 * time.Minute), 5}, // a dead one holds none
		{"inst-gone", "web-3", 1, 1, now.Add(-5 * time.Hour), now.Add(-2 * time.Hour), 0},
	} {
		if err := db.Exec(`INSERT INTO webhook_instance (id, host, pid, version, workers, started_at, last_seen_at, leased) VALUES (?, ?, ?, '0.1.0', ?, ?, ?, ?)`,
			in.id, in.host, in.pid, in.workers, in.started, in.seen, in.leased).Error; err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		owner := any(nil)
		if i < 2 {
			owner = "inst-alive"
		}
		if err := db.Exec(`INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, created_at, lease_owner, lease_until)
			VALUES (?, 'ev', 'biz', 'b1', 'wh', '{}', ?, 0, ?, ?, ?, ?)`, "d"+string(rune('0'+i)), webhook.StatusPending, now, now, owner, now.Add(time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
	}

	res = f.mustRun("instances")
	if res.stderr != "" || strings.Contains(res.stdout, "\x1b") || strings.Contains(res.stdout, "inst-gone") {
		t.Errorf("instances: %q", res)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("instances table: %s", res)
	}
	if got := strings.Fields(lines[1]); strings.Join(got, " ") != "inst-alive web-1 4242 0.1.0 8 "+formatTime(now.Add(-time.Hour))+" "+formatTime(now.Add(-2*time.Second))+" alive 2" {
		t.Errorf("alive row = %q", lines[1])
	}
	if got := strings.Fields(lines[2]); len(got) != 11 || got[0] != "inst-dead" || got[1] != "web-2" || got[2] != "evil" || got[9] != "dead" || got[10] != "0" {
		t.Errorf("dead row = %q", lines[2])
	}

	res = f.mustRun("instances", "--json")
	var list []webhook.Instance
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil || len(list) != 2 {
		t.Fatalf("instances --json: %v\n%s", err, res)
	}
	if a := list[0]; a.ID != "inst-alive" || a.Host != "web-1" || a.PID != 4242 || a.Version != "0.1.0" || a.Workers != 8 || !a.Alive || a.Leased != 2 ||
		!a.StartedAt.Equal(now.Add(-time.Hour)) || !a.LastSeen.Equal(now.Add(-2*time.Second)) {
		t.Errorf("alive instance = %+v", a)
	}
	if d := list[1]; d.ID != "inst-dead" || d.Alive || d.Leased != 0 {
		t.Errorf("dead instance = %+v", d)
	}
}
