package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/signature"
)

// exampleReceiver is an endpoint that answers 200, or 500 on /down.
func exampleReceiver() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "maintenance", http.StatusInternalServerError)
		}
	}))
}

// Broadcast sends to every subscribed webhook at once and returns when each
// delivery is over; a failed one does not fail the call.
func ExampleClient_Broadcast() {
	ctx := context.Background()
	rcv := exampleReceiver()
	defer rcv.Close()
	db, cleanup := openDB()
	defer cleanup()
	c, err := webhook.New(db, webhook.Config{
		PrivateSecret: "a long random secret kept out of the source",
		// No retry, for the example: by default Broadcast retries once.
		RetryPolicy: func(int, *webhook.WebhookConfig, *webhook.AttemptResult, time.Duration) (bool, time.Duration) {
			return false, 0
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(exampleEvents), webhook.SyncOptions{}); err != nil {
		log.Fatal(err)
	}
	err = c.ApplyScopeWebhooks(ctx, "shop", "s1", []webhook.WebhookConfig{
		{Code: "erp", Name: "ERP", Endpoint: rcv.URL + "/erp"},
		{Code: "crm", Name: "CRM", Endpoint: rcv.URL + "/down"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "s1", map[string][]string{"erp": {webhook.AllEvents}, "crm": {"template_update"}}); err != nil {
		log.Fatal(err)
	}

	res, err := c.Broadcast(ctx, "template_update", []webhook.Scope{{Type: "shop", Code: "s1"}}, map[string]any{"template_id": 7})
	if err != nil {
		log.Fatal(err) // an unknown event, a bad argument, a database failure
	}
	for _, d := range res.Deliveries {
		fmt.Println(d.WebhookCode, d.Success, d.StatusCode, d.Attempts)
	}
	for _, d := range res.Failed() {
		fmt.Println("failed:", d.WebhookCode, errors.Is(d.Err, webhook.ErrUnexpectedStatus))
	}
	// Output:
	// erp true 200 1
	// crm false 500 1
	// failed: crm true
}

// Deliveries lists deliveries, queued by Enqueue or sent by Broadcast,
// newest first, one page at a time: pass the last one's Cursor to get the
// next page.
func ExampleClient_Deliveries() {
	ctx := context.Background()
	rcv := exampleReceiver()
	defer rcv.Close()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, rcv.URL)
	scopes := []webhook.Scope{{Type: "shop", Code: "s1"}}
	if _, err := c.Broadcast(ctx, "template_create", scopes, nil); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		if _, err := c.Enqueue(ctx, "template_update", scopes, nil); err != nil {
			log.Fatal(err)
		}
	}

	q := webhook.DeliveryQuery{Limit: 2}
	for page := 1; ; page++ {
		list, err := c.Deliveries(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		for _, d := range list {
			fmt.Println(page, d.EventCode, d.Status, "queued:", d.Queued, "attempts:", d.Attempts)
		}
		if len(list) < q.Limit {
			break
		}
		q.Cursor = list[len(list)-1].Cursor
	}
	// Output:
	// 1 template_update pending queued: true attempts: 0
	// 1 template_update pending queued: true attempts: 0
	// 2 template_create succeeded queued: false attempts: 1
}

// History lists the attempts of deliveries: here every attempt of one
// delivery, what was sent and what came back, credentials redacted.
func ExampleClient_History() {
	ctx := context.Background()
	rcv := exampleReceiver()
	defer rcv.Close()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, rcv.URL)
	res, err := c.Broadcast(ctx, "template_update", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	attempts, err := c.History(ctx, webhook.HistoryQuery{DeliveryID: res.Deliveries[0].DeliveryID})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range attempts {
		fmt.Println(a.Attempt, a.WebhookCode, a.Success, a.Request.Method, a.Response.StatusCode, a.Duration > 0)
	}
	// Output:
	// 1 erp true POST 200 true
}

// Redeliver sends a delivery again under its delivery id, so that the
// receiver can recognise it; a Broadcast delivery is queued for the workers.
func ExampleClient_Redeliver() {
	ctx := context.Background()
	rcv := exampleReceiver()
	defer rcv.Close()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, rcv.URL)
	res, err := c.Broadcast(ctx, "template_update", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	id := res.Deliveries[0].DeliveryID
	if err := c.Redeliver(ctx, id); err != nil {
		log.Fatal(err)
	}
	list, err := c.Deliveries(ctx, webhook.DeliveryQuery{DeliveryID: id})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(list), list[0].Status, list[0].Queued)
	fmt.Println(errors.Is(c.Redeliver(ctx, "no-such-delivery"), webhook.ErrDeliveryNotFound))
	// Output:
	// 1 pending true
	// true
}

// ApplyScopeWebhooks validates the whole set before writing anything: an
// error names the webhook and the field, and wraps ErrInvalidWebhook.
func ExampleClient_ApplyScopeWebhooks_invalid() {
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, "https://erp.example.com/hooks")
	err := c.ApplyScopeWebhooks(context.Background(), "shop", "s1", []webhook.WebhookConfig{
		{Code: "erp", Name: "ERP", Endpoint: "ftp://erp.example.com/hooks"},
	})
	fmt.Println(errors.Is(err, webhook.ErrInvalidWebhook), strings.Contains(err.Error(), `"erp"`))
	// Output:
	// true true
}

// RotateSigningSecret gives a webhook a new signing secret and keeps the
// old one signing during a grace period, so that the receiver can switch
// at its own pace: each request carries one signature per secret.
func ExampleClient_RotateSigningSecret() {
	ctx := context.Background()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, "https://erp.example.com/hooks")
	secret, err := c.RotateSigningSecret(ctx, "shop", "s1", "erp", 24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	// Hand secret to the receiver, which verifies with signature.Verifier.
	if _, err := signature.ParseSecret(secret); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(secret, signature.SecretPrefix))
	list, err := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: "shop", ScopeCode: "s1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(list[0].SigningSecrets)
	// Output:
	// true
	// 1
}

// SyncEventsYAML with DryRun reports what a sync would change, and changes
// nothing.
func ExampleClient_SyncEventsYAML_dryRun() {
	ctx := context.Background()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, "https://erp.example.com/hooks")
	next := `
version: 1
events:
  - code: template_update
    name: Template updated
    description: A template changed.
  - code: order_paid
    name: Order paid
`
	res, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(next), webhook.SyncOptions{DryRun: true, Prune: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created", res.Created, "updated", res.Updated, "removed", res.Removed)
	events, err := c.Events(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(events), "events stored")
	// Output:
	// created [order_paid] updated [template_update] removed [template_create]
	// 2 events stored
}

// Hooks see every attempt, for metrics or logs of the service's own; they
// run on the delivery goroutines and must return quickly.
func ExampleHooks() {
	ctx := context.Background()
	rcv := exampleReceiver()
	defer rcv.Close()
	db, cleanup := openDB()
	defer cleanup()
	c, err := webhook.New(db, webhook.Config{
		PrivateSecret: "a long random secret kept out of the source",
		Hooks: webhook.Hooks{
			AfterAttempt: func(ctx context.Context, a *webhook.AttemptInfo, r *webhook.AttemptResult) {
				fmt.Println("attempt", a.Attempt, "of", a.EventCode, "to", a.WebhookCode, "->", r.StatusCode)
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.SyncEventsYAML(ctx, "events.yaml", []byte(exampleEvents), webhook.SyncOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := c.ApplyScopeWebhooks(ctx, "shop", "s1", []webhook.WebhookConfig{{Code: "erp", Name: "ERP", Endpoint: rcv.URL}}); err != nil {
		log.Fatal(err)
	}
	if err := c.ApplyScopeSubscriptions(ctx, "shop", "s1", map[string][]string{"erp": {webhook.AllEvents}}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Broadcast(ctx, "template_create", []webhook.Scope{{Type: "shop", Code: "s1"}}, nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// attempt 1 of template_create to erp -> 200
}

// A RetryPolicy decides after each failed attempt whether another follows
// and when. This one gives up at once on a 4xx other than 429 and otherwise
// retries every minute, five times.
func ExampleRetryPolicy() {
	policy := webhook.RetryPolicy(func(attempt int, wh *webhook.WebhookConfig, r *webhook.AttemptResult, retryAfter time.Duration) (bool, time.Duration) {
		if r.StatusCode >= 400 && r.StatusCode < 500 && r.StatusCode != http.StatusTooManyRequests {
			return false, 0
		}
		if retryAfter > 0 {
			return attempt <= 5, retryAfter // the endpoint said when
		}
		return attempt <= 5, time.Minute
	})
	for _, status := range []int{404, 429, 503} {
		retry, delay := policy(1, &webhook.WebhookConfig{}, &webhook.AttemptResult{StatusCode: status}, 0)
		fmt.Println(status, retry, delay)
	}
	// Output:
	// 404 false 0s
	// 429 true 1m0s
	// 503 true 1m0s
}

// CheckEndpoint applies the SSRF guard to an endpoint before it is saved:
// here cloud metadata, which no configuration makes reachable.
func ExampleClient_CheckEndpoint() {
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, "https://erp.example.com/hooks")
	err := c.CheckEndpoint(context.Background(), "http://169.254.169.254/latest/meta-data/")
	fmt.Println(errors.Is(err, webhook.ErrForbiddenAddress))
	// Output:
	// true
}
