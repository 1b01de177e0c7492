package webhook

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy decides, after failed attempt number attempt (1 for the
// first) of a delivery to wh, whether to try again and after how long. r is
// the failed attempt; retryAfter is the delay asked for by the endpoint's
// Retry-After header, or zero. One policy (Config.RetryPolicy) drives both
// paths: the workers of Enqueue follow it to its end, Broadcast while each
// delay is at most Config.MaxRetryDelay, since its caller waits. It must be
// safe for concurrent use.
type RetryPolicy func(attempt int, wh *WebhookConfig, r *AttemptResult, retryAfter time.Duration) (retry bool, delay time.Duration)

// DefaultRetrySchedule is the delay before each retry of DefaultRetryPolicy
// for a webhook that sets no retry count of its own: after an immediate
// first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (eight attempts
// over about 28 hours), each with ±20% jitter.
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}
}

// MaxRetryAfter bounds the delay a Retry-After header can ask of
// DefaultRetryPolicy.
const MaxRetryAfter = 24 * time.Hour

// DefaultRetryPolicy is the default RetryPolicy of both paths.
//
//   - 410 Gone, a configuration that cannot be sent (ErrInvalidWebhook), a
//     credential that does not decrypt (ErrDecrypt), an address the SSRF
//     guard refuses (ErrForbiddenAddress) and an oversized body
//     (ErrPayloadTooLarge) are not retried: the delivery fails at once and
//     waits for Redeliver.
//   - A webhook whose RetryTimes is set (above zero, as the Python package's
//     retry_times) gets that many retries, the first after RetryInterval
//     (2 s when zero), doubling each time, with jitter.
//   - Otherwise the retries follow DefaultRetrySchedule (for Broadcast,
//     whose delays stop at Config.MaxRetryDelay, that is one retry after
//     about 5 s).
//   - A Retry-After header longer than the computed delay wins, up to
//     MaxRetryAfter.
func DefaultRetryPolicy(attempt int, wh *WebhookConfig, r *AttemptResult, retryAfter time.Duration) (bool, time.Duration) {
	if !retryable(r) {
		return false, 0
	}
	var delay time.Duration
	if wh.RetryTimes > 0 {
		if attempt > wh.RetryTimes {
			return false, 0
		}
		interval := wh.RetryInterval
		if interval <= 0 {
			interval = DefaultRetryInterval
		}
		delay = DefaultBackoff(attempt, interval, 0)
	} else {
		schedule := DefaultRetrySchedule()
		if attempt > len(schedule) {
			return false, 0
		}
		delay = jitter(schedule[attempt-1])
	}
	return true, max(delay, min(retryAfter, MaxRetryAfter))
}

// jitter spreads d by ±20% so that deliveries that failed together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
