package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SyncEvents joins its arguments as the Python command's os.path.join does.
func testSyncEventsJoinsPathsLikeThePythonCommand(t *testing.T, tdb *testDB) {
	dir := t.TempDir()
	file := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(file, []byte(strings.TrimSpace(twoEvents)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ base, name string }{
		{dir, "events.yaml"},
		{"", file},              // empty base, absolute file
		{"/nonexistent", file},  // an absolute file ignores the base
		{sub, "../events.yaml"}, // a relative file may climb
		{dir, "./sub/../events.yaml"},
	} {
		c := newTestClient(t, tdb, Config{})
		res, err := c.SyncEvents(testCtx(t), tc.base, tc.name)
		if err != nil || len(res.Created) != 2 {
			t.Errorf("SyncEvents(%q, %q) = %+v, %v", tc.base, tc.name, res, err)
		}
	}
}

func testHistoryJSONUsesColumnNames(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, Auth: &Auth{Type: "bearer", Token: "json-token"}})
	d := broadcastOne(t, c)
	hist, err := c.History(testCtx(t), HistoryQuery{DeliveryID: d.DeliveryID})
	if err != nil || len(hist) != 1 {
		t.Fatal(err)
	}
	b, err := json.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "delivery_id", "webhook_code", "event_code", "scope_type", "scope_code", "created_at", "success", "status_code", "attempt", "duration_us", "request", "response"} {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("history JSON lacks %q: %s", k, b)
		}
	}
	if strings.Contains(string(b), "json-token") {
		t.Errorf("history JSON leaks the token: %s", b)
	}
}
