package main

import (
	"strings"
	"testing"
)

// TestDeliveriesListsEveryKindAndPages: deliveries lists what a broadcast
// sent beside what was queued, filters by event, time and kind, and pages
// with the cursor it prints.
func TestDeliveriesListsEveryKindAndPages(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	f.mustRun("broadcast", "template_create", "--scope", "biz:biz1")
	f.mustRun("broadcast", "template_update", "--scope", "biz:biz1", "--enqueue")

	all := deliveriesJSON(t, f)
	var queued, sent int
	for _, d := range all {
		if d.Queued {
			queued++
		} else {
			sent++
		}
	}
	if queued == 0 || sent == 0 || len(all) != queued+sent {
		t.Fatalf("deliveries: %d queued, %d sent by the broadcast: %+v", queued, sent, all)
	}
	if got := deliveriesJSON(t, f, "--queued"); len(got) != queued {
		t.Errorf("--queued: %d deliveries, want %d", len(got), queued)
	}
	for _, d := range deliveriesJSON(t, f, "--event", "template_create") {
		if d.EventCode != "template_create" || d.Queued {
			t.Errorf("--event template_create listed %+v", d)
		}
	}
	if got := deliveriesJSON(t, f, "--since", "1h"); len(got) != len(all) {
		t.Errorf("--since 1h: %d deliveries, want %d", len(got), len(all))
	}
	if got := deliveriesJSON(t, f, "--since", "2100-01-01T00:00:00Z"); len(got) != 0 {
		t.Errorf("--since in the future: %+v", got)
	}

	// Pages of one, following the cursor the table prints.
	var walked []string
	args := []string{"deliveries", "--limit", "1"}
	for range len(all) + 1 {
		res := f.mustRun(args...)
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		last := lines[len(lines)-1]
		if strings.HasPrefix(last, "next page: --cursor ") {
			walked = append(walked, strings.Fields(lines[1])[1])
			args = []string{"deliveries", "--limit", "1", "--cursor", strings.TrimPrefix(last, "next page: --cursor ")}
			continue
		}
		if len(lines) > 1 {
			walked = append(walked, strings.Fields(lines[1])[1])
		}
		break
	}
	if len(walked) != len(all) {
		t.Fatalf("walked %d pages of one, want %d: %q", len(walked), len(all), walked)
	}
	for i, d := range all {
		if walked[i] != d.DeliveryID {
			t.Errorf("page %d shows %s, want %s", i+1, walked[i], d.DeliveryID)
		}
	}
	if res := f.run("deliveries", "--cursor", "nonsense"); res.code == exitOK || !strings.Contains(res.stderr, "cursor") {
		t.Errorf("a bad cursor: %s", res)
	}
	if res := f.run("deliveries", "--since", "yesterday"); res.code != exitUsage {
		t.Errorf("a bad --since: %s", res)
	}
}
