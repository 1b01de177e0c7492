package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/gorm"
)

// countQueries counts the SQL statements that read through db.
func countQueries(t *testing.T, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	count := func(*gorm.DB) { n.Add(1) }
	if err := db.Callback().Query().After("gorm:query").Register("admin_test:count_query", count); err != nil {
		t.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register("admin_test:count_row", count); err != nil {
		t.Fatal(err)
	}
	return &n
}

// TestQueriesPerPage counts the statements each page issues, with few
// scopes and with many: no page issues more with more scopes (or more
// webhooks). The overview's count is pinned: it is the sum of what it
// calls, and a change should be a decision.
func TestQueriesPerPage(t *testing.T) {
	c, db := newClient(t, webhook.Config{})
	rc := newReceiver(t, nil)
	seed(t, c, rc.URL)
	ids := broadcast(t, c, nil)
	n := countQueries(t, db)
	s := newSite(t, c, admin.Options{})
	pages := []string{"/", "/deliveries", "/deliveries?queued=1", "/attempts", "/attempts?before=999", "/deliveries/" + ids["wh_ok"],
		"/webhooks", "/events", "/subscriptions", "/scopes", "/instances"}
	measure := func() map[string]int64 {
		out := map[string]int64{}
		for _, p := range pages {
			before := n.Load()
			wantStatus(t, s.get(p), http.StatusOK)
			out[p] = n.Load() - before
		}
		return out
	}
	few := measure()
	const more = 6
	for i := range more {
		code := fmt.Sprintf("extra%d", i)
		if err := c.ApplyScopeWebhooks(context.Background(), "tenant", code, []webhook.WebhookConfig{
			{Code: "wh_" + code, Name: "Extra " + code, Endpoint: rc.URL + "/ok"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := c.ApplyScopeSubscriptions(context.Background(), "tenant", code, map[string][]string{"wh_" + code: {webhook.AllEvents}}); err != nil {
			t.Fatal(err)
		}
	}
	many := measure()
	for _, p := range pages {
		t.Logf("%-32s %2d statements with 2 scopes, %2d with %d", p, few[p], many[p], 2+more)
		if many[p] != few[p] {
			t.Errorf("%s: %d statements with %d more scopes, %d before: a query per scope or webhook", p, many[p], more, few[p])
		}
	}
	// HourlyHistory 1, WebhookStats 2 (its webhooks' counts, their last
	// attempts), Webhooks 1 (the webhooks' ids, for
	// the links to their rows) and Health 5 (instances 1, outbox counts
	// and oldest due 2, due deliveries 1, circuits and disables 1). Health
	// made the separate CountDeliveries and Instances (three) redundant.
	const overviewStatements = 9
	if few["/"] != overviewStatements {
		t.Errorf("the overview issues %d statements, want %d", few["/"], overviewStatements)
	}
}
