package webhook_test

import (
	"fmt"

	"github.com/scopehook/webhook"
)

// WithDefaults shows the configuration a Client works with: the fields left
// at zero hold their defaults, the others what was set, and defaults that
// depend on another field (MaxInFlightPerWebhook on Workers) follow it.
func ExampleConfig_WithDefaults() {
	cfg := webhook.Config{
		PrivateSecret: "a-long-random-secret-kept-out-of-the-source",
		Workers:       8,
	}.WithDefaults()
	fmt.Println("workers:", cfg.Workers)
	fmt.Println("in flight per webhook:", cfg.MaxInFlightPerWebhook)
	fmt.Println("request timeout:", cfg.Timeout)
	fmt.Println("lease:", cfg.LeaseDuration)
	fmt.Println("circuit opens after:", cfg.CircuitBreakAfter, "failures")
	fmt.Println("largest payload:", cfg.MaxPayloadBytes, "bytes")
	fmt.Println("history retained:", cfg.RetainHistory, "(zero keeps everything)")
	// Output:
	// workers: 8
	// in flight per webhook: 2
	// request timeout: 10s
	// lease: 20s
	// circuit opens after: 5 failures
	// largest payload: 1048576 bytes
	// history retained: 0s (zero keeps everything)
}
