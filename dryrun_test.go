package webhook

import (
	"slices"
	"testing"
	"time"
)

// A dry-run sync says what it would change and writes nothing; CountPrunable
// counts exactly what PruneHistory then deletes.
func testSyncAndPruneDryRuns(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	clock := newFakeClock()
	c := newTestClient(t, tdb, Config{Now: clock.Now})
	mustSync(t, c, twoEvents)
	next := []byte("version: 1\nevents:\n  - code: template_update\n    name: renamed\n  - code: order_paid\n    name: Order paid\n")
	res, err := c.SyncEventsYAML(ctx, "events.yaml", next, SyncOptions{Prune: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Created, []string{"order_paid"}) || !slices.Equal(res.Updated, []string{"template_update"}) || !slices.Equal(res.Removed, []string{"template_create"}) {
		t.Errorf("dry run = %+v", res)
	}
	evs, err := c.Events(ctx)
	if err != nil || len(evs) != 2 {
		t.Fatalf("after a dry run: %+v, %v", evs, err)
	}
	for _, ev := range evs {
		if ev.Code == "order_paid" || ev.Name == "renamed" {
			t.Errorf("the dry run wrote %+v", ev)
		}
	}

	rc := newReceiver(t, nil)
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL})
	for range 3 {
		broadcastOne(t, c)
	}
	clock.Advance(48 * time.Hour)
	broadcastOne(t, c)
	want, err := c.CountPrunable(ctx, 24*time.Hour)
	if err != nil || want.History != 3 {
		t.Fatalf("CountPrunable = %+v, %v; want 3 history rows", want, err)
	}
	got, err := c.PruneHistory(ctx, 24*time.Hour)
	if err != nil || got != want {
		t.Errorf("PruneHistory = %+v, %v; CountPrunable said %+v", got, err, want)
	}
}
