package webhook_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/gorm"
)

// exampleClient returns a migrated client with one webhook, "erp", of scope
// shop/s1, subscribed to every event, pointing at url.
func exampleClient(db *gorm.DB, url string) *webhook.Client {
	ctx := context.Background()
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
	if err := c.ApplyScopeWebhooks(ctx, "shop", "s1", []webhook.WebhookConfig{{Code: "erp", Name: "ERP", Endpoint: url}}); err != nil {
		log.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "s1", map[string][]string{"erp": {webhook.AllEvents}}); err != nil {
		log.Fatal(err)
	}
	return c
}

// EnqueueTx writes the delivery in the caller's own transaction, with the
// business write: both commit or neither. The workers started by Start send
// it, at least once, retrying on the schedule of Config.RetryPolicy.
func ExampleClient_EnqueueTx() {
	ctx := context.Background()
	arrived := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("User-Agent")
	}))
	defer receiver.Close()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, receiver.URL)

	err := db.Transaction(func(tx *gorm.DB) error {
		// ... the business write, on tx ...
		_, err := c.EnqueueTx(ctx, tx, "template_update", []webhook.Scope{{Type: "shop", Code: "s1"}}, map[string]any{"order": 42})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("received by", <-arrived)
	stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(stop); err != nil {
		log.Fatal(err)
	}
	// Output:
	// received by scopehook-webhook/0.1.0
}

// Webhooks lists the webhooks with their health and circuit breaker, never
// a credential.
func ExampleClient_Webhooks() {
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, "https://erp.example.com/hooks")
	list, err := c.Webhooks(context.Background(), webhook.WebhookQuery{ScopeType: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	for _, w := range list {
		fmt.Println(w.Scope, w.Code, w.Enabled, w.Circuit.State, w.ConsecutiveFailures)
	}
	// Output:
	// shop/s1 erp true closed 0
}

// CheckSecret tells at start-up whether the private secret decrypts every
// stored credential, before deliveries start failing.
func ExampleClient_CheckSecret() {
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, "https://erp.example.com/hooks")
	if _, err := c.CheckSecret(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("every credential decrypts")
	// Output:
	// every credential decrypts
}
