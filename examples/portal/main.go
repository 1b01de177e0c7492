// Command portal is a small service that lets its customers manage their own
// webhooks: it mounts the tenant portal (package portal) and the REST API
// (package api) next to its own page, and prints a portal link for one
// customer, the scope shop/acme.
//
//	go run ./examples/portal -addr 127.0.0.1:8080
//
// Open the printed link in a browser, or call the API with the printed
// token:
//
//	curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/scopes/shop/acme/webhooks
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
	"github.com/scopehook/webhook/portal"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const events = `
version: 1
events:
  - code: order_paid
    name: Order paid
    description: A customer paid an order.
  - code: order_shipped
    name: 订单已发货
    description: The order left the warehouse.
`

// customer is the scope the printed link opens.
var customer = webhook.Scope{Type: "shop", Code: "acme"}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	dbPath := flag.String("db", "", "SQLite database file (default: a new file in a temporary directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("portal: %v", err)
	}
	if err := run(ctx, ln, *dbPath, os.Stdout); err != nil {
		log.Fatalf("portal: %v", err)
	}
}

// run serves until ctx ends and prints the customer's link and token.
func run(ctx context.Context, ln net.Listener, dbPath string, out io.Writer) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "webhook-portal")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "app.db")
	}
	db, err := gorm.Open(sqlite.Open(dbPath+"?_busy_timeout=5000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	c, err := webhook.New(db, webhook.Config{PrivateSecret: "portal example: a long random secret, from the environment in production"})
	if err != nil {
		return err
	}
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(events), webhook.SyncOptions{}); err != nil {
		return err
	}
	if err := c.Start(context.Background()); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(sctx)
	}()

	// The API: portal tokens for customers; the service's own operators
	// would be let in by an AuthorizerFunc checking its own credentials.
	apiHandler, err := api.New(c, api.Options{Prefix: "/api", Authorizer: api.PortalTokens(c)})
	if err != nil {
		return err
	}
	// The portal, themed to sit in the service's pages.
	portalHandler, err := portal.New(c, portal.Options{
		Prefix: "/webhooks", Title: "Acme Shop webhooks", ServiceName: "Acme Shop",
		Theme: portal.Theme{Accent: "#0b6e4f"},
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/webhooks/", portalHandler)
	base := "http://" + ln.Addr().String()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The service's own page: a signed-in customer gets a fresh link.
		tok, err := c.PortalToken(customer, time.Hour)
		if err != nil {
			http.Error(w, "could not make a portal link", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Acme Shop</title><h1>Acme Shop</h1><p><a href=%q>Manage your webhooks</a></p>", portal.Link(base+"/webhooks/", tok))
	})

	token, err := c.PortalToken(customer, time.Hour)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "portal link for %s (valid 1 h): %s\n", customer, portal.Link(base+"/webhooks/", token))
	fmt.Fprintf(out, "API token for %s: %s\n", customer, token)
	fmt.Fprintf(out, "  curl -H 'Authorization: Bearer %s' %s/api/scopes/%s/%s/webhooks\n", token, base, customer.Type, customer.Code)

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
