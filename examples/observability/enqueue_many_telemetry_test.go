package main

import (
	"context"
	"testing"

	"github.com/scopehook/webhook"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// TestEnqueueManyTelemetry: a batch enqueue is one producer span in the
// caller's span, with Enqueue's attributes; every delivery stores it, so
// that each attempt's span links to it; the enqueued counter counts every
// delivery.
func TestEnqueueManyTelemetry(t *testing.T) {
	for name, open := range databases(t) {
		t.Run(name, func(t *testing.T) { testEnqueueManyTelemetry(t, open(t)) })
	}
}

func testEnqueueManyTelemetry(t *testing.T, db *gorm.DB) {
	rcv := newReceiver(t)
	o := newObserved(t, db, webhook.Config{})
	setupWebhooks(t, o.c, []webhook.WebhookConfig{{Code: "erp", Name: "ERP", Endpoint: rcv.URL + "/erp"}, {Code: "crm", Name: "CRM", Endpoint: rcv.URL + "/crm"}})
	shop := []webhook.Scope{{Type: "shop", Code: "s1"}}
	ctx, parent := o.tp.Tracer("app").Start(context.Background(), "checkout")
	err := db.Transaction(func(tx *gorm.DB) error {
		_, err := o.c.EnqueueManyTx(ctx, tx, []webhook.EnqueueEvent{
			{Event: "order_paid", Scopes: shop}, {Event: "order_paid", Scopes: shop}, {Event: "order_paid", Scopes: shop},
		})
		return err
	})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	enq := spanNamed(o.spans.Ended(), "webhook.EnqueueManyTx")
	if len(enq) != 1 || enq[0].Parent().SpanID() != parent.SpanContext().SpanID() || enq[0].SpanKind() != trace.SpanKindProducer {
		t.Fatalf("EnqueueManyTx spans: %d", len(enq))
	}
	for key, want := range map[attribute.Key]attribute.Value{
		"webhook.event": attribute.StringValue("order_paid"), "webhook.events": attribute.IntValue(3),
		"webhook.scopes": attribute.IntValue(1), "webhook.deliveries": attribute.IntValue(6),
	} {
		if got := attr(enq[0], key); got != want {
			t.Errorf("span attribute %s = %v, want %v", key, got.String(), want.String())
		}
	}
	wantValue(t, o.collect(t), 6, "webhook.enqueued", attribute.String("webhook.event", "order_paid"), attribute.Bool("webhook.queued", true))

	if _, err := o.c.EnqueueMany(context.Background(), []webhook.EnqueueEvent{{Event: "order_paid", Scopes: shop}, {Event: "no_such_event"}}); err == nil {
		t.Fatal("EnqueueMany of an unknown event: no error")
	}
	failed := spanNamed(o.spans.Ended(), "webhook.EnqueueMany")
	if len(failed) != 1 || failed[0].Status().Code.String() != "Error" || attr(failed[0], "webhook.event").Type() != attribute.EMPTY {
		t.Errorf("the failed EnqueueMany span: %+v", failed)
	}

	if err := o.c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stop(t, o.c)
	waitFor(t, "the attempt spans", func() bool { return len(spanNamed(o.spans.Ended(), "POST")) == 6 })
	for _, post := range spanNamed(o.spans.Ended(), "POST") {
		if links := post.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != enq[0].SpanContext().SpanID() {
			t.Errorf("an attempt span links to %v, want the EnqueueManyTx span %v", links, enq[0].SpanContext())
		}
	}
}
