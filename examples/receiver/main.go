// Command receiver is a webhook receiver that verifies Standard Webhooks
// signatures with signature.VerifyMiddleware before handling a request, and
// prints each event it accepts. It imports only
// github.com/scopehook/webhook/signature, which depends on the standard
// library alone, not the sender package and its database drivers.
//
//	WEBHOOK_SIGNING_SECRET=whsec_... go run ./examples/receiver -addr 127.0.0.1:8081
//
// Requests without a valid signature, or signed more than five minutes ago,
// get 401 Unauthorized.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/scopehook/webhook/signature"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "address to listen on")
	flag.Parse()
	secrets := strings.Fields(os.Getenv("WEBHOOK_SIGNING_SECRET"))
	if len(secrets) == 0 {
		log.Fatal("receiver: set WEBHOOK_SIGNING_SECRET to the webhook's signing secret (several, space-separated, during a rotation)")
	}
	srv := &http.Server{Addr: *addr, Handler: newHandler(secrets, os.Stdout), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("receiver: listening on %s", *addr)
	log.Fatal(srv.ListenAndServe())
}

// newHandler verifies every request, then prints its event to out.
func newHandler(secrets []string, out io.Writer) http.Handler {
	verify := signature.VerifyMiddleware(&signature.Verifier{Secrets: secrets})
	return verify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Event struct {
				Code string         `json:"code"`
				Info map[string]any `json:"info"`
			} `json:"event"`
			DeliveryID string `json:"delivery_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "body is not a webhook event", http.StatusBadRequest)
			return
		}
		// A delivery may arrive more than once (at-least-once delivery):
		// a real receiver remembers delivery ids it has handled.
		fmt.Fprintf(out, "event %s delivery %s info %v\n", body.Event.Code, r.Header.Get(signature.HeaderWebhookID), body.Event.Info)
		w.WriteHeader(http.StatusNoContent)
	}))
}
