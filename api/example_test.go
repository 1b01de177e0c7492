package api_test

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
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/api"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// This example mounts the API under /api, letting in the service's
// operators by their own API key and the scopes' owners by portal token,
// and creates a webhook with a portal token as a customer's script would.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "webhook-api-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")+"?_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	ctx := context.Background()
	client, err := webhook.New(db, webhook.Config{PrivateSecret: "a long random secret kept out of the source"})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := client.SyncEventList(ctx, []webhook.Event{{Code: "order_paid", Name: "Order paid"}}, webhook.SyncOptions{}); err != nil {
		log.Fatal(err)
	}

	portal := api.PortalTokens(client)
	h, err := api.New(client, api.Options{
		Prefix: "/api",
		Authorizer: api.AuthorizerFunc(func(r *http.Request) (api.Principal, error) {
			if r.Header.Get("X-Api-Key") == "the operators' key" { // the service's own check
				return api.Principal{Operator: true, Actor: "api:ops"}, nil
			}
			return portal.Authorize(r)
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", h) // the handler strips its Prefix itself
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The service hands the owner of scope shop/s1 a token.
	token, err := client.PortalToken(webhook.Scope{Type: "shop", Code: "s1"}, time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	send := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}

	status, body := send("POST", "/api/scopes/shop/s1/webhooks", token, `{
		"code": "erp", "name": "ERP", "endpoint": "https://erp.example.com/hooks",
		"auth": {"type": "bearer", "token": "the ERP's own token"},
		"events": ["order_paid"], "timeout": "5s"}`)
	var wh struct {
		Code    string   `json:"code"`
		Events  []string `json:"events"`
		Timeout string   `json:"timeout"`
		Auth    struct {
			Type     string `json:"type"`
			HasToken bool   `json:"has_token"`
		} `json:"auth"`
	}
	_ = json.Unmarshal([]byte(body), &wh)
	fmt.Println(status, wh.Code, wh.Events, wh.Timeout, wh.Auth.Type, wh.Auth.HasToken)

	// Another scope, and no token.
	status, body = send("GET", "/api/scopes/shop/s2/webhooks", token, "")
	fmt.Println(status, body)
	status, _ = send("GET", "/api/scopes/shop/s1/webhooks", "", "")
	fmt.Println(status)
	// Output:
	// 201 erp [order_paid] 5s bearer true
	// 403 {"error":{"code":"forbidden_scope","message":"this caller may use scope shop/s1 only: ask for a link to the scope you need"}}
	// 401
}
