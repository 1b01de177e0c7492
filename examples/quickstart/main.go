// Command quickstart runs the bkflow-django-webhook quick start in Go: a
// SQLite database, events synced from the YAML file beside this program, two
// webhooks of the scope biz/biz1 with their subscriptions, one broadcast, and
// what a local receiver got and what history recorded.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed webhook_events.yaml
var eventsFS embed.FS

func main() {
	dbPath := flag.String("db", "", "SQLite database file (default: a new file in a temporary directory)")
	flag.Parse()
	if err := run(context.Background(), *dbPath, os.Stdout); err != nil {
		log.Fatalf("quickstart: %v", err)
	}
}

func run(ctx context.Context, dbPath string, out io.Writer) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "webhook-quickstart")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "quickstart.db")
	}

	// 1. The service's own database; the library only takes the handle.
	db, err := gorm.Open(sqlite.Open(dbPath+"?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return fmt.Errorf("opening %s: %w", dbPath, err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}

	// 2. A local receiver standing in for the services that subscribe.
	recv := newReceiver()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: recv, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	// 3. The client: migrate, then sync the events (python manage.py
	// migrate webhook; python manage.py sync_webhook_events).
	client, err := webhook.New(db, webhook.Config{PrivateSecret: "quickstart-secret-change-me-in-production"})
	if err != nil {
		return err
	}
	if err := client.Migrate(ctx); err != nil {
		return err
	}
	synced, err := client.SyncEventsFS(ctx, eventsFS, "webhook_events.yaml")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "synced events: created %v, updated %v, unchanged %v\n", synced.Created, synced.Updated, synced.Unchanged)

	// 4. Register the webhooks and subscriptions of scope biz/biz1
	// (apply_scope_webhooks, apply_scope_subscriptions).
	err = client.ApplyScopeWebhooks(ctx, "biz", "biz1", []webhook.WebhookConfig{
		{Code: "webhook1", Name: "webhook1", Endpoint: base + "/service1", Auth: &webhook.Auth{Type: "bearer", Token: "service1-token"}},
		{Code: "webhook2", Name: "webhook2", Endpoint: base + "/service2", Headers: []webhook.Header{{Key: "X-Team", Value: "payments", Doc: "routing header"}}},
	})
	if err != nil {
		return err
	}
	err = client.ApplyScopeSubscriptions(ctx, "biz", "biz1", map[string][]string{
		"webhook1": {webhook.AllEvents}, // "*": every event
		"webhook2": {"template_update"},
	})
	if err != nil {
		return err
	}

	// 5. Broadcast from business code (event_broadcast_signal.send).
	res, err := client.Broadcast(ctx, "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}},
		map[string]any{"template_id": "template1"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nbroadcast template_update to biz/biz1: %d deliveries, %d failed\n", len(res.Deliveries), len(res.Failed()))

	fmt.Fprintln(out, "\nwhat the receiver got:")
	for _, r := range recv.all() {
		fmt.Fprintf(out, "  %s %s  Authorization=%q X-Team=%q\n    %s\n", r.method, r.path, r.auth, r.team, r.body)
	}

	// 6. History, as operators see it: credentials redacted.
	hist, err := client.History(ctx, webhook.HistoryQuery{})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\nhistory:")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  WEBHOOK\tEVENT\tSTATUS\tOK\tATTEMPT\tDURATION\tAUTHORIZATION RECORDED")
	for _, h := range hist {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%v\t%d\t%s\t%s\n", h.WebhookCode, h.EventCode, h.StatusCode, h.Success, h.Attempt,
			h.Duration.Round(time.Microsecond), h.Request.Header["Authorization"])
	}
	return tw.Flush()
}

type request struct{ method, path, auth, team, body string }

// receiver records what it is sent.
type receiver struct {
	mu   sync.Mutex
	reqs []request
}

func newReceiver() *receiver { return &receiver{} }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Team"), strings.TrimSpace(string(body))})
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"message": "ok"}`)
}

func (rc *receiver) all() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}
