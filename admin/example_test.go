package admin_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// This example mounts the admin under /admin of a service's mux, behind
// basic auth.
func Example() {
	dir, err := os.MkdirTemp("", "webhook-admin-example")
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

	h, err := admin.NewHandler(client, admin.Options{
		Prefix:            "/admin",
		Title:             "Acme webhooks",
		BasicAuthUser:     "ops",
		BasicAuthPassword: "correct horse battery staple",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", h) // the handler strips its Prefix itself
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Without credentials.
	res, err := http.Get(srv.URL + "/admin/")
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println(res.Status, res.Header.Get("WWW-Authenticate"))

	// With them: the overview, whose links carry the prefix.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/", nil)
	req.SetBasicAuth("ops", "correct horse battery staple")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.Status)
	fmt.Println(regexp.MustCompile(`<title>[^<]*</title>`).FindString(string(body)))
	fmt.Println(regexp.MustCompile(`<a href="/admin/deliveries">[^<]*</a>`).FindString(string(body)))
	// Output:
	// 401 Unauthorized Basic realm="webhook admin", charset="UTF-8"
	// 200 OK
	// <title>Overview · Acme webhooks</title>
	// <a href="/admin/deliveries">Deliveries</a>
}
