package webhook

import (
	"maps"
	"strings"
	"sync"
	"time"
)

// resolveCache keeps what resolve read for an event and scopes, for
// Config.ResolveCacheTTL, so that a Broadcast to webhooks already resolved
// skips the query and the decryption of their credentials. Every change
// made through the Client drops it all (changed); entries read while a
// change was under way are not kept.
type resolveCache struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]resolvedEntry
}

type resolvedEntry struct {
	at      time.Time // when read, by the monotonic clock
	retires time.Time // the first retirement of a signing secret, by Config.Now
	ev      Event
	targets []target
}

// maxResolved bounds the entries: past it, the cache starts again empty
// (a service broadcasting to more distinct scopes than this in one TTL
// gains little from caching them).
const maxResolved = 4096

// resolveKey identifies an event and its scopes, in order.
func resolveKey(eventCode string, scopes []Scope) string {
	n := len(eventCode) + 1
	for _, s := range scopes {
		n += len(s.Type) + len(s.Code) + 2
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteString(eventCode)
	for _, s := range scopes {
		sb.WriteByte(0)
		sb.WriteString(s.Type)
		sb.WriteByte(0)
		sb.WriteString(s.Code)
	}
	return sb.String()
}

// get returns a copy of a fresh entry (younger than ttl, and no signing
// secret of its webhooks retired by now): the targets slice and the
// event's info map are the caller's own, as resolveOn's would be.
func (rc *resolveCache) get(key string, ttl time.Duration, now time.Time) (Event, []target, bool) {
	rc.mu.Lock()
	e, ok := rc.entries[key]
	rc.mu.Unlock()
	if !ok || time.Since(e.at) >= ttl || !e.retires.IsZero() && !now.Before(e.retires) {
		return Event{}, nil, false
	}
	ev := e.ev
	ev.Info = maps.Clone(e.ev.Info)
	return ev, append([]target(nil), e.targets...), true
}

// generation is the number of changes so far, to be given to put.
func (rc *resolveCache) generation() uint64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.gen
}

// put keeps what resolveOn read, unless a change happened since gen (it
// may have read the state before the change).
func (rc *resolveCache) put(key string, gen uint64, ev Event, targets []target) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.gen != gen {
		return
	}
	if rc.entries == nil || len(rc.entries) >= maxResolved {
		rc.entries = make(map[string]resolvedEntry)
	}
	ev.Info = maps.Clone(ev.Info)
	e := resolvedEntry{at: time.Now(), ev: ev, targets: append([]target(nil), targets...)}
	for _, t := range targets {
		if !t.retires.IsZero() && (e.retires.IsZero() || t.retires.Before(e.retires)) {
			e.retires = t.retires
		}
	}
	rc.entries[key] = e
}

// changed drops every entry: events, webhooks or subscriptions changed.
func (rc *resolveCache) changed() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.gen++
	rc.entries = nil
}
