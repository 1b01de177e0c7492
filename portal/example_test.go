package portal_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// This example mounts the portal under /webhooks of a service's mux and
// opens it with a portal link for one customer's scope.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "webhook-portal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")+"?_busy_timeout=10000&_journal_mode=WAL"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	client, err := webhook.New(db, webhook.Config{PrivateSecret: "a long random secret kept out of the source"})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}

	h, err := portal.New(client, portal.Options{Prefix: "/webhooks", Title: "Acme webhooks"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/", h) // the handler strips its Prefix itself
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The service mints a link for the customer whose scope is shop/s1.
	token, err := client.PortalToken(webhook.Scope{Type: "shop", Code: "s1"}, time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	link := portal.Link(srv.URL+"/webhooks/", token)

	// The customer's browser opens it: a session starts, and the page
	// moves on to the address without the token.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(link)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.Status, regexp.MustCompile(`content="0;url=[^"]*"`).FindString(string(body)))

	res, err = browser.Get(srv.URL + "/webhooks/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.Status, regexp.MustCompile(`<title>[^<]*</title>`).FindString(string(body)))
	// Output:
	// 200 OK content="0;url=/webhooks/"
	// 200 OK <title>Endpoints · Acme webhooks</title>
}
