package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
)

// TestStatusWarnsWhenNoWorkerRuns: status reads the engine's health; with
// deliveries due and no worker it says so and exits 1, as a health check
// wants; with nothing to do it says ok.
func TestStatusWarnsWhenNoWorkerRuns(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	res := f.mustRun("status")
	for _, want := range []string{"workers:       0 alive", "outbox:        0 pending (0 due now), 0 failed", "open circuits: 0", "status:        ok"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("status of a quiet database lacks %q:\n%s", want, res.stdout)
		}
	}
	f.mustRun("broadcast", "template_update", "--scope", "biz:biz1", "--enqueue")
	res = f.run("status")
	if res.code != exitFailure || !strings.Contains(res.stdout, "warning:       2 deliveries are due, and no worker has run in the last hour") ||
		!strings.Contains(res.stderr, "1 warning") {
		t.Errorf("status with deliveries due and no worker: %s", res)
	}
	res = f.run("status", "--json")
	var h webhook.Health
	if err := json.Unmarshal([]byte(res.stdout), &h); err != nil || h.Due != 2 || h.Pending != 2 || len(h.Warnings) != 1 || res.code != exitFailure {
		t.Errorf("status --json: %+v %v (%s)", h, err, res)
	}
}
