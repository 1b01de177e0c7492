package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The OpenAPI document lists exactly the handler's routes, with the same
// path parameters, and each operation documents the errors its checks can
// answer.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Security  *[]any                     `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(openAPIDocument), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	h := &handler{}
	var inHandler, inDoc []string
	for _, rt := range h.routeTable() {
		inHandler = append(inHandler, rt.method+" "+rt.path)
		op, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]
		if !ok {
			continue
		}
		var want []string
		if rt.public {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s %s is public but the document asks for security", rt.method, rt.path)
			}
		} else {
			want = append(want, "401", "403", "500")
		}
		if strings.Contains(rt.path, "{") {
			want = append(want, "400")
		}
		if rt.body != noBody || rt.method == http.MethodPost {
			want = append(want, "413", "415")
		}
		if rt.idempotent {
			want = append(want, "422")
		}
		if strings.Contains(rt.path, "{webhook_code}") && rt.method != http.MethodGet || rt.path == scopePath+"/webhooks/{webhook_code}" {
			want = append(want, "404")
		}
		for _, s := range want {
			if _, ok := op.Responses[s]; !ok {
				t.Errorf("%s %s: the document lists no %s response", rt.method, rt.path, s)
			}
		}
	}
	for p, item := range doc.Paths {
		for m := range item {
			inDoc = append(inDoc, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(inHandler)
	slices.Sort(inDoc)
	if !slices.Equal(inHandler, inDoc) {
		t.Errorf("routes differ:\nhandler:  %v\ndocument: %v", inHandler, inDoc)
	}
}

// The store keeps a reply per key, forgets one whose request failed on the
// server's side, and stays within its bounds.
func TestIdempotencyStore(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newIdempotencyStore([]byte("k"), func() time.Time { return now })
	ctx := context.Background()
	fp := []byte("fingerprint")

	kept, finish, err := s.begin(ctx, "a", fp)
	if kept != nil || finish == nil || err != nil {
		t.Fatalf("first begin: %v %v", kept, err)
	}
	finish(reply{status: 500, body: []byte("{}")})
	if kept, finish, err = s.begin(ctx, "a", fp); kept != nil || finish == nil || err != nil {
		t.Fatalf("after a 500 the key runs again: %v %v", kept, err)
	}
	finish(reply{status: 201, body: []byte(`{"ok":1}`)})
	if kept, _, _ = s.begin(ctx, "a", fp); kept == nil || kept.status != 201 || !kept.replayed {
		t.Fatalf("kept: %+v", kept)
	}
	if _, _, err = s.begin(ctx, "a", []byte("other")); err == nil {
		t.Fatal("another fingerprint is accepted")
	}

	// A waiter whose context ends stops waiting.
	_, finishB, _ := s.begin(ctx, "b", fp)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, _, err := s.begin(cctx, "b", fp); err == nil {
		t.Error("a waiter outlived its context")
	}
	finishB(reply{status: 200})

	// Bounded in keys: the oldest go first.
	for i := range MaxIdempotencyKeys + 10 {
		_, f, err := s.begin(ctx, fmt.Sprint("k", i), fp)
		if err != nil || f == nil {
			t.Fatalf("key %d: %v", i, err)
		}
		f(reply{status: 200, body: []byte("{}")})
	}
	if n := len(s.entries); n > MaxIdempotencyKeys || s.order.Len() != n {
		t.Errorf("%d keys kept (list %d), want at most %d", n, s.order.Len(), MaxIdempotencyKeys)
	}
	if _, ok := s.entries["a"]; ok {
		t.Error("the oldest key was not evicted")
	}
	// Bounded in bytes.
	big := make([]byte, MaxIdempotencyBytes/4)
	for i := range 8 {
		_, f, _ := s.begin(ctx, fmt.Sprint("big", i), fp)
		f(reply{status: 200, body: big})
	}
	if s.bytes > MaxIdempotencyBytes {
		t.Errorf("%d bytes kept, want at most %d", s.bytes, MaxIdempotencyBytes)
	}
	// Expired keys go.
	now = now.Add(IdempotencyKeyTTL + time.Minute)
	if kept, f, _ := s.begin(ctx, "big7", []byte("new")); kept != nil || f == nil {
		t.Error("an expired key is still kept")
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in  string
		out time.Duration
		ok  bool
	}{
		{"10s", 10 * time.Second, true}, {"1m30s", 90 * time.Second, true}, {"24h", 24 * time.Hour, true}, {"0", 0, true},
		{"0s", 0, true}, {"1.5s", 1500 * time.Millisecond, true}, {"-1s", 0, false}, {"10", 0, false}, {"", 0, false}, {"soon", 0, false},
	} {
		got, err := parseDuration(c.in)
		if (err == nil) != c.ok || got != c.out {
			t.Errorf("parseDuration(%q) = %v, %v", c.in, got, err)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 90 * time.Second: "90s", 1500 * time.Millisecond: "1.5s", 24 * time.Hour: "86400s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
