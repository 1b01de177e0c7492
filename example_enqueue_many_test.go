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

// EnqueueManyTx writes the deliveries of many events in the caller's own
// transaction, with one resolution and one insert for the whole batch: all
// commit with the business writes, or none. It returns the delivery ids of
// each event, in the order given.
func ExampleClient_EnqueueManyTx() {
	ctx := context.Background()
	arrived := make(chan string, 3)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("User-Agent")
	}))
	defer receiver.Close()
	db, cleanup := openDB()
	defer cleanup()
	c := exampleClient(db, receiver.URL)

	shop := []webhook.Scope{{Type: "shop", Code: "s1"}}
	var ids [][]string
	err := db.Transaction(func(tx *gorm.DB) error {
		// ... the business writes, on tx ...
		var err error
		ids, err = c.EnqueueManyTx(ctx, tx, []webhook.EnqueueEvent{
			{Event: "template_create", Scopes: shop, ExtraInfo: map[string]any{"template": 1}},
			{Event: "template_update", Scopes: shop, ExtraInfo: map[string]any{"template": 1, "delivery_id": "t1-v2"}},
			{Event: "template_update", Scopes: shop, ExtraInfo: map[string]any{"template": 2}},
		})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deliveries per event:", len(ids[0]), len(ids[1]), len(ids[2]), "- the second:", ids[1][0])
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		fmt.Println("received by", <-arrived)
	}
	stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(stop); err != nil {
		log.Fatal(err)
	}
	// Output:
	// deliveries per event: 1 1 1 - the second: t1-v2
	// received by scopehook-webhook/0.1.0
	// received by scopehook-webhook/0.1.0
	// received by scopehook-webhook/0.1.0
}
