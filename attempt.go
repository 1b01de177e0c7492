package webhook

import "time"

// attemptOutcome is one attempt of a delivery as the delivery path passes it
// from step to step. runAttempt (a request was sent) or notAttempted (the
// delivery failed before reaching the network) builds it; recordAttempts or
// the worker's writeOutcomes stores its history row and then hands it to
// trackHealth, which reads what it says about the endpoint (failure counts,
// circuit breaker, auto-disable); the worker reads how fast the endpoint
// answered and whether it asked for a pause.
type attemptOutcome struct {
	// row is the history row to record (webhook_history).
	row historyRow
	// webhookID is the webhook's row id, 0 if unknown.
	webhookID int64
	// sent reports whether a request went out. An attempt that failed
	// before (a credential that does not decrypt, an open circuit) does not
	// count toward the webhook's health: the endpoint was not asked.
	sent bool
	// duration is how long the request took (sent attempts only).
	duration time.Duration
	// endpointDown: a network failure, a timeout, a 5xx or a 429.
	endpointDown bool
	// pauseFor is the pause a 429 or 503 asked for with Retry-After.
	pauseFor time.Duration
	// probe: the attempt probed an open circuit.
	probe bool
	// healthy: the webhook, as Broadcast read it just before its first attempt,
	// had nothing a success resets (see webhookRow.nothingToReset). The
	// workers' webhooks are read when claimed, before the outcomes of
	// earlier batches were written: theirs is always false.
	healthy bool
}

// historyRows returns the history rows of outcomes, for insertHistory.
func historyRows(outcomes []*attemptOutcome) []*historyRow {
	rows := make([]*historyRow, len(outcomes))
	for i, o := range outcomes {
		rows[i] = &o.row
	}
	return rows
}
