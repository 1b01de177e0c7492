package api

import (
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Idempotency keys: a POST that creates or sends something (create a
// webhook, send a test event, redeliver) may carry an Idempotency-Key
// header. The first response to a key (other than a 5xx, after which the
// request may be retried as new) is kept for IdempotencyKeyTTL, and the
// same key with the same request gets it again, marked Idempotent-Replayed;
// the same key with another request (method, path or body) gets 422
// idempotency_key_reused. A request arriving while the first one with its
// key is still running waits for it.
//
// Keys are kept in the handler's memory, per caller (the Principal), at most
// MaxIdempotencyKeys of them and MaxIdempotencyBytes of responses, the
// oldest forgotten first: several instances behind a load balancer dedupe
// each its own requests only. Creating a webhook is safe to retry across
// instances anyway: its code is unique in its scope (409 webhook_exists).

const (
	// IdempotencyKeyTTL is how long a response is kept for its
	// Idempotency-Key.
	IdempotencyKeyTTL = 24 * time.Hour
	// MaxIdempotencyKeys bounds the keys one handler keeps.
	MaxIdempotencyKeys = 10000
	// MaxIdempotencyBytes bounds the responses one handler keeps for
	// their keys.
	MaxIdempotencyBytes = 32 << 20
	// maxIdempotencyKeyLen bounds the header's value.
	maxIdempotencyKeyLen = 255
)

// idempotencyStore keeps the responses of idempotency keys. It is safe for
// concurrent use.
type idempotencyStore struct {
	key []byte // HMAC key of the request fingerprints
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*idemEntry
	order   *list.List // of *idemEntry, oldest first
	bytes   int
}

type idemEntry struct {
	key         string
	fingerprint []byte
	created     time.Time
	done        chan struct{} // closed once reply is set or the entry is dropped
	released    bool          // done is closed
	reply       *reply
	elem        *list.Element
}

// release wakes the requests waiting for the entry, once. The store's mutex
// is held.
func (e *idemEntry) release() {
	if !e.released {
		e.released = true
		close(e.done)
	}
}

func newIdempotencyStore(key []byte, now func() time.Time) *idempotencyStore {
	return &idempotencyStore{key: key, now: now, entries: map[string]*idemEntry{}, order: list.New()}
}

// checkIdempotencyKey validates the header's value.
func checkIdempotencyKey(k string) error {
	if k == "" || len(k) > maxIdempotencyKeyLen {
		return badArg("Idempotency-Key", "Idempotency-Key must be 1 to 255 characters: send a fresh random value (a UUID) per operation, the same one when retrying it")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return badArg("Idempotency-Key", "Idempotency-Key must be printable ASCII without spaces: send a fresh random value (a UUID) per operation")
		}
	}
	return nil
}

// fingerprint identifies a request: method, path and body.
func (s *idempotencyStore) fingerprint(r *http.Request, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(r.Method + "\n" + r.URL.EscapedPath() + "\n"))
	m.Write(body)
	return m.Sum(nil)
}

// storeKey is the key of the store: the caller and the header's value.
func storeKey(p Principal, key string) string {
	who := "scope:" + p.Scope.Type + "\x00" + p.Scope.Code
	if p.Operator {
		who = "operator"
	}
	return strings.Join([]string{who, p.Actor, key}, "\x00")
}

// begin looks a key up. It returns the kept reply of an earlier request
// (replayed set), an error for a key reused with another request, or, when
// the caller runs the request, a finish function to call with its reply.
func (s *idempotencyStore) begin(ctx context.Context, key string, fp []byte) (*reply, func(reply), error) {
	for {
		s.mu.Lock()
		s.expire()
		e, ok := s.entries[key]
		if !ok {
			e = &idemEntry{key: key, fingerprint: fp, created: s.now(), done: make(chan struct{})}
			e.elem = s.order.PushBack(e)
			s.entries[key] = e
			s.mu.Unlock()
			return nil, func(rp reply) { s.finish(e, rp) }, nil
		}
		if !hmac.Equal(e.fingerprint, fp) {
			s.mu.Unlock()
			return nil, nil, newError(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused,
				"this Idempotency-Key was sent with another request (method, path or body) in the last 24 hours: use a fresh key for each operation, and the same key only to retry the same request")
		}
		if e.reply != nil {
			rp := *e.reply
			rp.replayed = true
			s.mu.Unlock()
			return &rp, nil, nil
		}
		done := e.done
		s.mu.Unlock()
		select { // the first request with the key is still running
		case <-done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// finish keeps the reply of a request that ran, or forgets its key when it
// failed on the server's side (5xx), so that a retry runs it again.
func (s *idempotencyStore) finish(e *idemEntry, rp reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer e.release()
	if s.entries[e.key] != e {
		return // evicted meanwhile
	}
	if rp.status >= 500 {
		s.drop(e)
		return
	}
	e.reply = &rp
	s.bytes += rp.size()
	for s.order.Len() > MaxIdempotencyKeys || s.bytes > MaxIdempotencyBytes {
		oldest := s.order.Front().Value.(*idemEntry)
		if oldest == e && s.order.Len() == 1 {
			break
		}
		s.drop(oldest)
	}
}

// expire forgets the keys older than IdempotencyKeyTTL. s.mu is held.
func (s *idempotencyStore) expire() {
	cutoff := s.now().Add(-IdempotencyKeyTTL)
	for f := s.order.Front(); f != nil; f = s.order.Front() {
		e := f.Value.(*idemEntry)
		if e.created.After(cutoff) || e.reply == nil {
			return
		}
		s.drop(e)
	}
	// Bound the keys of requests still running too.
	for s.order.Len() > MaxIdempotencyKeys {
		s.drop(s.order.Front().Value.(*idemEntry))
	}
}

// drop forgets one entry. s.mu is held.
func (s *idempotencyStore) drop(e *idemEntry) {
	if s.entries[e.key] != e {
		return
	}
	delete(s.entries, e.key)
	s.order.Remove(e.elem)
	if e.reply != nil {
		s.bytes -= e.reply.size()
	}
	e.release() // waiters of a request still running look again
}
