package webhook

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer answers every request on a loopback listener with exactly the
// bytes response() returns, and closes the connection.
func rawServer(t *testing.T, response func() string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(conn, response())
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/hook"
}

// headOfSize is a response head (status line, headers, blank line) of
// exactly n bytes, padded by an X-Fill header, announcing a body of bodyLen.
func headOfSize(t *testing.T, n, bodyLen int) (head, fill string) {
	t.Helper()
	start := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\nX-Fill: ", bodyLen)
	const end = "\r\n\r\n"
	if n < len(start)+len(end)+1 {
		t.Fatalf("a head of %d bytes is too small", n)
	}
	fill = strings.Repeat("f", n-len(start)-len(end))
	head = start + fill + end
	if len(head) != n {
		t.Fatalf("head is %d bytes, want %d", len(head), n)
	}
	return head, fill
}

// Response headers are capped like bodies: the transport reads at most
// MaxResponseHeaderBytes of them (a receiver answering with megabytes of
// headers fails the attempt with an error that says so, and its history row
// stays small), headers up to the cap are kept whole, and headers whose
// JSON form outgrows the cap are left out of the row, which says so.
func testResponseHeadersCapped(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	for _, setting := range []int{0, 1024} {
		limit := setting
		if limit == 0 {
			limit = DefaultMaxResponseHeaderBytes
		}
		exact, fill := headOfSize(t, limit, 2)
		over, _ := headOfSize(t, limit+1, 2)
		var mu sync.Mutex
		answer := exact
		endpoint := rawServer(t, func() string {
			mu.Lock()
			defer mu.Unlock()
			return answer + "ok"
		})
		c := newTestClient(t, tdb, Config{MaxResponseHeaderBytes: setting})
		oneWebhook(t, c, WebhookConfig{Endpoint: endpoint, RetryTimes: 1, RetryInterval: time.Millisecond})

		// A head of exactly the cap is read and kept whole in history.
		d := broadcastOne(t, c)
		hist, err := c.History(ctx, HistoryQuery{DeliveryID: d.DeliveryID})
		if err != nil || len(hist) != 1 {
			t.Fatalf("cap %d: %+v; history %v, %v", limit, d, hist, err)
		}
		resp := hist[0].Response
		if !d.Success || resp.HeaderTruncated || resp.Header["X-Fill"] != fill || resp.Header["Content-Length"] != "2" || resp.Body != "ok" {
			t.Errorf("cap %d: a head of exactly the cap: success %v (%v), truncated %v, X-Fill %d bytes of %d, %d headers",
				limit, d.Success, d.Err, resp.HeaderTruncated, len(resp.Header["X-Fill"]), len(fill), len(resp.Header))
		}

		// One byte more fails the attempt, as an endpoint failure (retried).
		mu.Lock()
		answer = over
		mu.Unlock()
		d = broadcastOne(t, c)
		if d.Success || d.StatusCode != 0 || d.Attempts != 2 || d.Err == nil ||
			!strings.Contains(d.Err.Error(), "MaxResponseHeaderBytes") || !strings.Contains(d.Err.Error(), fmt.Sprint(limit)) {
			t.Errorf("cap %d: a head of cap+1 bytes: %+v", limit, d)
		}
		hist, _ = c.History(ctx, HistoryQuery{DeliveryID: d.DeliveryID})
		if len(hist) != 2 {
			t.Fatalf("cap %d: %d history rows for 2 attempts", limit, len(hist))
		}
		for _, h := range hist {
			// The fill is a run of "f"s; a random delivery id may hold "fff".
			if h.Success || h.Response.Header != nil || strings.Contains(string(h.ExtraInfo), strings.Repeat("f", 40)) || !strings.Contains(h.Error, "MaxResponseHeaderBytes") {
				t.Errorf("cap %d: history of the refused response: %s, error %q", limit, h.ExtraInfo, h.Error)
			}
		}
	}

	// Megabytes of headers (the report's receiver sent 9.6 MB): the attempt
	// fails, every history row stays bounded, nothing of them is stored.
	big := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		v := strings.Repeat("h", 10<<10)
		for i := range 240 { // 2.4 MB
			w.Header().Set(fmt.Sprintf("X-Big-%03d", i), v)
		}
		io.WriteString(w, "ok")
	})
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: big.URL, RetryTimes: 1, RetryInterval: time.Millisecond})
	d := broadcastOne(t, c)
	if d.Success || d.Attempts != 2 || !strings.Contains(fmt.Sprint(d.Err), "MaxResponseHeaderBytes") {
		t.Errorf("huge headers: %+v (want a failure, retried like an endpoint failure)", d)
	}
	hist, _ := c.History(ctx, HistoryQuery{DeliveryID: d.DeliveryID})
	if len(hist) != 2 {
		t.Fatalf("%d history rows, want 2", len(hist))
	}
	for _, h := range hist {
		if n := len(h.ExtraInfo) + len(h.Error); n > 4<<10 || strings.Contains(string(h.ExtraInfo), "X-Big") {
			t.Errorf("history row of %d bytes (extra_info %d, error %d): %.200s", n, len(h.ExtraInfo), len(h.Error), h.ExtraInfo)
		}
		if !strings.Contains(h.Error, "MaxResponseHeaderBytes") {
			t.Errorf("history error %q does not say why", h.Error)
		}
	}

	// The same over HTTP/2 (TLS, verify: false): headers under the cap are
	// kept, megabytes fail the attempt with an error naming the limit.
	for _, tc := range []struct {
		name  string
		n     int
		value int
		ok    bool
	}{{"under the cap", 1, 6 << 10, true}, {"one huge value", 1, 1 << 20, false}, {"many values", 240, 10 << 10, false}, {"many small values", 400, 100, false}} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := strings.Repeat("h", tc.value)
			for i := range tc.n {
				w.Header().Set(fmt.Sprintf("X-Big-%03d", i), v)
			}
			io.WriteString(w, r.Proto)
		}))
		srv.EnableHTTP2 = true
		srv.StartTLS()
		t.Cleanup(srv.Close)
		c := newTestClient(t, tdb, Config{})
		oneWebhook(t, c, WebhookConfig{Endpoint: srv.URL, InsecureSkipVerify: true, RetryTimes: 1, RetryInterval: time.Millisecond})
		d := broadcastOne(t, c)
		hist, _ := c.History(ctx, HistoryQuery{DeliveryID: d.DeliveryID})
		if len(hist) == 0 {
			t.Fatalf("HTTP/2, %s: no history", tc.name)
		}
		resp := hist[0].Response
		if tc.ok {
			if !d.Success || resp.Body != "HTTP/2.0" || resp.HeaderTruncated || len(resp.Header["X-Big-000"]) != tc.value {
				t.Errorf("HTTP/2, %s: %+v, body %q, truncated %v, X-Big-000 %d bytes", tc.name, d, resp.Body, resp.HeaderTruncated, len(resp.Header["X-Big-000"]))
			}
			continue
		}
		if d.Success || d.Attempts != 2 || !strings.Contains(fmt.Sprint(d.Err), "MaxResponseHeaderBytes") {
			t.Errorf("HTTP/2, %s: %+v", tc.name, d)
		}
		for _, h := range hist {
			if len(h.ExtraInfo)+len(h.Error) > 4<<10 || strings.Contains(string(h.ExtraInfo), "X-Big") {
				t.Errorf("HTTP/2, %s: history row of %d bytes", tc.name, len(h.ExtraInfo)+len(h.Error))
			}
		}
	}

	// Headers under the transport's cap whose JSON is larger (every
	// backslash becomes two bytes): those that fit are kept whole, in name
	// order, the rest left out, and the row says so.
	esc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("X-A", strings.Repeat(`\`, 3000))
		w.Header().Set("X-B", strings.Repeat(`\`, 3000))
		w.Header().Set("X-C", "small")
		io.WriteString(w, "ok")
	})
	c = newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: esc.URL})
	d = broadcastOne(t, c)
	hist, _ = c.History(ctx, HistoryQuery{DeliveryID: d.DeliveryID})
	if !d.Success || len(hist) != 1 {
		t.Fatalf("escaped headers: %+v, %d rows", d, len(hist))
	}
	resp := hist[0].Response
	enc, _ := marshalJSON(resp.Header)
	if !resp.HeaderTruncated || len(enc) > DefaultMaxResponseHeaderBytes || len(resp.Header["X-A"]) != 3000 || resp.Header["X-B"] != "" || resp.Header["X-C"] != "small" {
		t.Errorf("escaped headers: truncated %v, %d bytes of JSON, X-A %d bytes, X-B %d bytes, X-C %q",
			resp.HeaderTruncated, len(enc), len(resp.Header["X-A"]), len(resp.Header["X-B"]), resp.Header["X-C"])
	}
	var stored struct {
		Response struct {
			HeadersTruncated bool `json:"headers_truncated"`
		} `json:"response"`
	}
	if err := json.Unmarshal(hist[0].ExtraInfo, &stored); err != nil || !stored.Response.HeadersTruncated {
		t.Errorf("extra_info does not flag the truncation: %.300s", hist[0].ExtraInfo)
	}
}

// The transport's limit follows Config.MaxResponseHeaderBytes, keeps a
// smaller one of the caller's transport, and the setting is validated.
func TestMaxResponseHeaderBytesConfig(t *testing.T) {
	t.Parallel()
	db := openSQLite(t, "")
	limits := func(c *Client) (int64, int64) {
		return c.http.Transport.(*http.Transport).MaxResponseHeaderBytes, c.insecureHTTP.Transport.(*http.Transport).MaxResponseHeaderBytes
	}
	for _, tc := range []struct {
		cfg  int
		base *http.Client
		want int64
	}{
		{0, nil, DefaultMaxResponseHeaderBytes},
		{100 << 10, nil, 100 << 10},
		{0, &http.Client{}, DefaultMaxResponseHeaderBytes},
		{0, &http.Client{Transport: &http.Transport{}}, DefaultMaxResponseHeaderBytes},
		{0, &http.Client{Transport: &http.Transport{MaxResponseHeaderBytes: 1 << 20}}, DefaultMaxResponseHeaderBytes},
		{0, &http.Client{Transport: &http.Transport{MaxResponseHeaderBytes: -1}}, DefaultMaxResponseHeaderBytes},
		{0, &http.Client{Transport: &http.Transport{MaxResponseHeaderBytes: 512}}, 512},
	} {
		c, err := New(db, Config{PrivateSecret: testSecret, MaxResponseHeaderBytes: tc.cfg, HTTPClient: tc.base})
		if err != nil {
			t.Fatal(err)
		}
		if s, in := limits(c); s != tc.want || in != tc.want {
			t.Errorf("MaxResponseHeaderBytes %d, base %v: transport limits %d and %d, want %d", tc.cfg, tc.base, s, in, tc.want)
		}
		if tc.cfg == 0 && c.cfg.MaxResponseHeaderBytes != DefaultMaxResponseHeaderBytes {
			t.Errorf("zero did not become the default: %d", c.cfg.MaxResponseHeaderBytes)
		}
	}
	base := &http.Transport{MaxResponseHeaderBytes: 1 << 20}
	if _, err := New(db, Config{PrivateSecret: testSecret, HTTPClient: &http.Client{Transport: base}}); err != nil || base.MaxResponseHeaderBytes != 1<<20 {
		t.Errorf("the caller's transport was changed: %d, %v", base.MaxResponseHeaderBytes, err)
	}
	if _, err := New(db, Config{PrivateSecret: testSecret, MaxResponseHeaderBytes: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("a negative MaxResponseHeaderBytes: %v, want ErrInvalidConfig", err)
	}
}

// latin1 is what Node (and Python's WSGI/ASGI servers) make of header
// bytes: each byte one character, which their HMAC code then signs as
// UTF-8.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// checkSignedID checks one signed request carrying delivery id id: the
// body has the id exactly, webhook-id is visible ASCII that decodes back
// to it, and the signature verifies whether the receiver reads header
// bytes as Go does or as Latin-1, like Node and Python.
func checkSignedID(t *testing.T, secret, id string, r received) string {
	t.Helper()
	var body struct {
		DeliveryID string `json:"delivery_id"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.DeliveryID != id {
		t.Errorf("id %q: body delivery_id %q (%v), want it exactly", id, body.DeliveryID, err)
	}
	hid := r.Header.Get(HeaderWebhookID)
	for i := 0; i < len(hid); i++ {
		if hid[i] < '!' || hid[i] > '~' {
			t.Errorf("id %q: webhook-id %q has byte %#x", id, hid, hid[i])
			break
		}
	}
	if back, err := url.PathUnescape(hid); err != nil || back != id {
		t.Errorf("id %q: webhook-id %q decodes to %q, %v", id, hid, back, err)
	}
	v := &Verifier{Secrets: []string{secret}}
	if err := v.Verify(r.Header, r.Body); err != nil {
		t.Errorf("id %q: Verify: %v", id, err)
	}
	asLatin1 := r.Header.Clone()
	asLatin1.Set(HeaderWebhookID, latin1(hid))
	if err := v.Verify(asLatin1, r.Body); err != nil {
		t.Errorf("id %q: Verify with webhook-id read as Latin-1: %v", id, err)
	}
	return hid
}

// A delivery id that is not plain ASCII (or has spaces at its ends, or a
// '%') is sent percent-encoded in webhook-id and signed so, while the body
// keeps it exactly: receivers in every runtime verify it, through Broadcast
// and through the outbox.
func testSignedNonASCIIDeliveryIDVerifies(t *testing.T, tdb *testDB) {
	secret, _ := NewSigningSecret()
	rc := newReceiver(t, nil)
	c := newTestClient(t, tdb, Config{})
	oneWebhook(t, c, WebhookConfig{Endpoint: rc.URL, SigningSecrets: []string{secret}})
	ctx := testCtx(t)
	ids := []string{"订单-42", "café au lait", " padded ", "50%", "a%C3%A9", "aé", "tab\there", "ascii-id_0123.~!", strings.Repeat("é", 32)}
	seen := map[string]string{}
	for i, id := range ids {
		res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "one"}}, map[string]any{"delivery_id": id})
		if err != nil || len(res.Deliveries) != 1 || !res.Deliveries[0].Success || res.Deliveries[0].DeliveryID != id {
			t.Fatalf("id %q: %+v, %v", id, res, err)
		}
		reqs := rc.requests()
		if len(reqs) != i+1 {
			t.Fatalf("%d requests after %d broadcasts", len(reqs), i+1)
		}
		hid := checkSignedID(t, secret, id, reqs[i])
		if other, dup := seen[hid]; dup {
			t.Errorf("ids %q and %q share webhook-id %q", other, id, hid)
		}
		seen[hid] = id
	}
	if hid := rc.requests()[7].Header.Get(HeaderWebhookID); hid != ids[7] {
		t.Errorf("a visible-ASCII id was changed: %q, want %q", hid, ids[7])
	}
	if hid := rc.requests()[0].Header.Get(HeaderWebhookID); hid != "%E8%AE%A2%E5%8D%95-42" {
		t.Errorf("webhook-id of %q = %q", ids[0], hid)
	}
	// History and results keep the caller's id.
	if hist, _ := c.History(ctx, HistoryQuery{DeliveryID: ids[0]}); len(hist) != 1 {
		t.Errorf("history by the caller's id: %d rows", len(hist))
	}

	// The outbox path sends the same.
	const queued = "队列-é 1"
	got, err := c.Enqueue(ctx, "template_update", []Scope{{"biz", "one"}}, map[string]any{"delivery_id": queued})
	if err != nil || len(got) != 1 || got[0] != queued {
		t.Fatalf("Enqueue: %v, %v", got, err)
	}
	startWorkers(t, c)
	waitFor(t, "the queued delivery", 20*time.Second, func() bool { return len(rc.requests()) == len(ids)+1 })
	checkSignedID(t, secret, queued, rc.requests()[len(ids)])
}

// headerDeliveryID leaves visible ASCII other than '%' alone, encodes
// every other byte, and is undone by url.PathUnescape for every byte.
func TestHeaderDeliveryID(t *testing.T) {
	t.Parallel()
	for b := 0; b < 256; b++ {
		id := "x" + string([]byte{byte(b)}) + "y"
		got := headerDeliveryID(id)
		keep := b >= '!' && b <= '~' && b != '%'
		if keep && got != id || !keep && got != fmt.Sprintf("x%%%02Xy", b) {
			t.Errorf("byte %#x: %q", b, got)
		}
		if back, err := url.PathUnescape(got); err != nil || back != id {
			t.Errorf("byte %#x: %q unescapes to %q, %v", b, got, back, err)
		}
	}
	for _, id := range []string{"", "0123456789abcdef0123456789abcdef", "msg_p5jXN8AQM9LWM0D4loKWxJek"} {
		if got := headerDeliveryID(id); got != id {
			t.Errorf("%q became %q", id, got)
		}
	}
}
