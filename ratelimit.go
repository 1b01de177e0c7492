package webhook

import (
	"golang.org/x/time/rate"
)

// rateLimiter is the limiter of one webhook, shared by its Broadcast
// deliveries and its durable ones in this client.
type rateLimiter struct {
	rate float64
	*rate.Limiter
}

// limiter returns the rate limiter of the webhook with row id id, for perSecond
// requests per second, or nil when perSecond is zero. A changed rate
// replaces the limiter.
func (c *Client) limiter(id int64, perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	if v, ok := c.limiters.Load(id); ok && v.(*rateLimiter).rate == perSecond {
		return v.(*rateLimiter).Limiter
	}
	l := &rateLimiter{rate: perSecond, Limiter: rate.NewLimiter(rate.Limit(perSecond), 1)}
	c.limiters.Store(id, l)
	return l.Limiter
}
