package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// openDB opens a SQLite database in a temporary directory, as a service
// would open its own.
func openDB() (*gorm.DB, func()) {
	dir, err := os.MkdirTemp("", "webhook-example")
	if err != nil {
		log.Fatal(err)
	}
	dsn := filepath.Join(dir, "app.db") + "?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		os.RemoveAll(dir)
	}
}

const exampleEvents = `
version: 1
events:
  - code: template_update
    name: Template updated
  - code: template_create
    name: Template created
`

// This example runs the whole flow: sync events, configure two webhooks of
// a scope and their subscriptions, broadcast an event, read the history.
func Example() {
	ctx := context.Background()
	var mu sync.Mutex
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Event struct {
				Code string         `json:"code"`
				Info map[string]any `json:"info"`
			} `json:"event"`
		}
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s got %s %v (%s)", r.URL.Path, body.Event.Code, body.Event.Info, r.Header.Get("Authorization")))
		mu.Unlock()
	}))
	defer receiver.Close()

	db, cleanup := openDB()
	defer cleanup()
	c, err := webhook.New(db, webhook.Config{PrivateSecret: "a long random secret kept out of the source"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(exampleEvents), webhook.SyncOptions{}); err != nil {
		log.Fatal(err)
	}
	err = c.ApplyScopeWebhooks(ctx, "biz", "biz1", []webhook.WebhookConfig{
		{Code: "webhook1", Name: "Service 1", Endpoint: receiver.URL + "/service1", Auth: &webhook.Auth{Type: "bearer", Token: "t0ken"}},
		{Code: "webhook2", Name: "Service 2", Endpoint: receiver.URL + "/service2"},
	})
	if err != nil {
		log.Fatal(err)
	}
	err = c.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{
		"webhook1": {webhook.AllEvents},
		"webhook2": {"template_update"},
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.Broadcast(ctx, "template_create", []webhook.Scope{{Type: "biz", Code: "biz1"}}, map[string]any{"template_id": "template1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deliveries:", len(res.Deliveries), "failed:", len(res.Failed()))
	sort.Strings(got)
	for _, line := range got {
		fmt.Println(line)
	}
	hist, err := c.History(ctx, webhook.HistoryQuery{EventCode: "template_create"})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hist {
		fmt.Println("history:", h.WebhookCode, h.StatusCode, h.Success, h.Request.Header["Authorization"])
	}
	// Output:
	// deliveries: 1 failed: 0
	// /service1 got template_create map[template_id:template1] (Bearer t0ken)
	// history: webhook1 200 true Bearer [REDACTED]
}

// ParseEvents validates an events file without a database, for a CI check
// of the YAML a service embeds.
func ExampleParseEvents() {
	_, err := webhook.ParseEvents("webhook_events.yaml", []byte("version: 1\nevents:\n  - code: template_update\n"))
	fmt.Println(err)
	// Output:
	// webhook: invalid events file: webhook_events.yaml:3: event "template_update" has no name
}
