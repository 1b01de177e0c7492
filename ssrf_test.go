package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAddressPolicy(t *testing.T) {
	t.Parallel()
	def, _ := newAddressPolicy(false, nil)
	strict, _ := newAddressPolicy(true, nil)
	holes, err := newAddressPolicy(true, []string{"10.1.0.0/16", "127.0.0.1", "169.254.169.254/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		addr               string
		def, strict, holes bool // allowed?
		reasonWhenRefused  string
	}{
		{"93.184.216.34", true, true, true, ""},
		{"2606:2800:220:1:248:1893:25c8:1946", true, true, true, ""},
		{"169.254.169.254", false, false, true, "link-local"},
		{"169.254.1.1", false, false, false, "link-local"},
		{"fe80::1", false, false, false, "link-local"},
		{"fd00:ec2::254", false, false, false, "metadata"},
		{"100.100.100.200", false, false, false, "metadata"},
		{"0.0.0.0", false, false, false, "unspecified"},
		{"::", false, false, false, "unspecified"},
		{"224.0.0.1", false, false, false, "multicast"},
		{"ff02::1", false, false, false, "multicast"},
		{"255.255.255.255", false, false, false, "broadcast"},
		{"127.0.0.1", true, false, true, "loopback"},
		{"127.8.9.10", true, false, false, "loopback"},
		{"::1", true, false, false, "loopback"},
		{"10.0.0.1", true, false, false, "RFC 1918"},
		{"10.1.2.3", true, false, true, ""},
		{"172.16.5.4", true, false, false, "RFC 1918"},
		{"172.32.0.1", true, true, true, ""},
		{"192.168.1.1", true, false, false, "RFC 1918"},
		{"100.64.0.1", true, false, false, "carrier-grade NAT"},
		{"fc00::1", true, false, false, "unique local"},
		{"fd12:3456::1", true, false, false, "unique local"},
		// IPv4 hidden in IPv6.
		{"::ffff:169.254.169.254", false, false, true, "link-local"},
		{"::ffff:127.0.0.1", true, false, true, "loopback"},
		{"::ffff:10.0.0.1", true, false, false, "RFC 1918"},
		{"2002:a9fe:a9fe::1", false, false, true, "link-local"},                  // 6to4 of 169.254.169.254
		{"2002:0a00:0001::1", true, false, false, "RFC 1918"},                    // 6to4 of 10.0.0.1
		{"64:ff9b::a9fe:a9fe", false, false, true, "link-local"},                 // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", true, false, true, "loopback"},                       // NAT64 of 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:f5ff:fffe", true, false, false, "RFC 1918"}, // Teredo client 10.0.0.1
		{"::a9fe:a9fe", false, false, true, "link-local"},                        // IPv4-compatible 169.254.169.254
		{"::a00:1", true, false, false, "RFC 1918"},                              // IPv4-compatible 10.0.0.1
		{"::102:304", true, false, false, "IPv4-compatible"},                     // IPv4-compatible 1.2.3.4
		{"::2", false, false, false, "unspecified"},                              // IPv4-compatible 0.0.0.2
		// Metadata and platform addresses outside link-local: refused always.
		{"fd20:ce::254", false, false, false, "metadata"},
		{"FD20:CE:0:0:0:0:0:254", false, false, false, "metadata"},
		{"fd00:ec2::23", false, false, false, "metadata"},
		{"fd00:ec2:0::254", false, false, false, "metadata"},
		{"fd00:c1::a9fe:a9fe", false, false, false, "metadata"},
		{"fd00:c1::169.254.169.254", false, false, false, "metadata"},
		{"192.0.0.192", false, false, false, "metadata"},
		{"168.63.129.16", false, false, false, "metadata"},
		{"::ffff:168.63.129.16", false, false, false, "metadata"},
		{"::ffff:a83f:8110", false, false, false, "metadata"},
		{"64:ff9b::a83f:8110", false, false, false, "metadata"},
		{"2002:a83f:8110::", false, false, false, "metadata"},
		{"::a83f:8110", false, false, false, "metadata"},
		{"2001:0:4136:e378:8000:63bf:57c0:7eef", false, false, false, "metadata"}, // Teredo client 168.63.129.16
		{"::ffff:100.100.100.200", false, false, false, "metadata"},
		{"64:ff9b::6464:64c8", false, false, false, "metadata"},
		{"2002:6464:64c8::1", false, false, false, "metadata"},
		{"::ffff:192.0.0.192", false, false, false, "metadata"},
		{"64:ff9b::c000:c0", false, false, false, "metadata"},
		{"240.0.0.1", false, false, false, "reserved"},
		{"::ffff:240.0.0.1", false, false, false, "reserved"},
		// IANA special-purpose ranges, refused with DenyPrivateNetworks.
		{"192.0.0.8", true, false, false, "IETF protocol assignment"},
		{"192.0.2.1", true, false, false, "documentation"},
		{"198.51.100.7", true, false, false, "documentation"},
		{"203.0.113.255", true, false, false, "documentation"},
		{"2001:db8::1", true, false, false, "documentation"},
		{"3fff:fff::1", true, false, false, "documentation"},
		{"198.18.0.1", true, false, false, "benchmarking"},
		{"198.19.255.254", true, false, false, "benchmarking"},
		{"2001:2::1", true, false, false, "benchmarking"},
		{"192.88.99.1", true, false, false, "6to4 relay"},
		{"100::1", true, false, false, "discard-only"},
		{"fec0::1", true, false, false, "site-local"},
		{"::ffff:192.0.2.1", true, false, false, "documentation"},
		{"2002:c000:201::", true, false, false, "documentation"}, // 6to4 of 192.0.2.1
		// Their neighbours are public.
		{"192.0.1.255", true, true, true, ""},
		{"192.0.3.0", true, true, true, ""},
		{"198.20.0.1", true, true, true, ""},
		{"192.88.100.1", true, true, true, ""},
		{"2001:db9::1", true, true, true, ""},
		{"3fff:1000::1", true, true, true, ""},
		{"100:0:0:1::1", true, true, true, ""},
		{"2001:3::1", true, true, true, ""},
	}
	for _, tc := range cases {
		ip := netip.MustParseAddr(tc.addr)
		for _, p := range []struct {
			name   string
			policy *addressPolicy
			want   bool
		}{{"default", def, tc.def}, {"DenyPrivateNetworks", strict, tc.strict}, {"with AllowNetworks", holes, tc.holes}} {
			err := p.policy.check(ip)
			if (err == nil) != p.want {
				t.Errorf("%s, %s: allowed=%v (%v), want allowed=%v", tc.addr, p.name, err == nil, err, p.want)
				continue
			}
			if err != nil && (!errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), tc.reasonWhenRefused)) {
				t.Errorf("%s, %s: error %q does not say %q", tc.addr, p.name, err, tc.reasonWhenRefused)
			}
		}
	}
	if _, err := newAddressPolicy(false, []string{"not-a-cidr"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad AllowNetworks: %v", err)
	}
}

// fakeResolver answers from a map, as a DNS server under an attacker's
// control might.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	list, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range list {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// The guard works at dial time, on the address a name resolves to: a
// harmless-looking name that resolves to a metadata address is refused
// and never reaches a socket; a name that resolves to the receiver works.
func testSSRFGuardAtDialTime(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	u, _ := url.Parse(rc.URL)
	port := u.Port()
	resolver := fakeResolver{
		"metadata.attacker.test": {"169.254.169.254"},
		"mapped.attacker.test":   {"::ffff:169.254.169.254"},
		"mixed.attacker.test":    {"169.254.169.254", "127.0.0.1"},
		"receiver.test":          {"127.0.0.1"},
	}
	c := newTestClient(t, tdb, Config{Resolver: resolver})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	hooks := []WebhookConfig{
		{Code: "meta", Name: "meta", Endpoint: "http://metadata.attacker.test:" + port + "/latest/meta-data"},
		{Code: "mapped", Name: "mapped", Endpoint: "http://mapped.attacker.test:" + port + "/x"},
		{Code: "literal", Name: "literal", Endpoint: "http://[::ffff:169.254.169.254]:" + port + "/x"},
		{Code: "mixed", Name: "mixed", Endpoint: "http://mixed.attacker.test:" + port + "/mixed"},
		{Code: "ok", Name: "ok", Endpoint: "http://receiver.test:" + port + "/ok"},
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "ssrf", hooks); err != nil {
		t.Fatal(err)
	}
	subs := map[string][]string{}
	for _, h := range hooks {
		subs[h.Code] = []string{AllEvents}
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "ssrf", subs); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "ssrf"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Deliveries {
		switch d.WebhookCode {
		case "meta", "mapped", "literal":
			if d.Success || !errors.Is(d.Err, ErrForbiddenAddress) || d.Attempts != 1 {
				t.Errorf("%s: %+v, want refused by the guard, no retry", d.WebhookCode, d)
			}
		case "mixed", "ok":
			if !d.Success {
				t.Errorf("%s: %+v, want delivered (to the permitted address)", d.WebhookCode, d)
			}
		}
	}
	if got := counts(rc.byPath()); fmt.Sprint(got) != fmt.Sprint(map[string]int{"/mixed": 1, "/ok": 1}) {
		t.Errorf("receiver got %v", got)
	}
	hist, _ := c.History(ctx, HistoryQuery{WebhookCode: "meta"})
	if len(hist) != 1 || hist[0].Success || !strings.Contains(hist[0].Error, "link-local") || !strings.Contains(hist[0].Error, "metadata.attacker.test") {
		t.Errorf("history of the refused delivery: %+v", hist)
	}
}

// DenyPrivateNetworks refuses the loopback receiver; AllowNetworks lets it
// through; CheckEndpointsOnApply refuses it when the webhook is saved.
func testDenyPrivateNetworks(t *testing.T, tdb *testDB) {
	rc := newReceiver(t, nil)
	strict := newTestClient(t, tdb, Config{DenyPrivateNetworks: true})
	oneWebhook(t, strict, WebhookConfig{Endpoint: rc.URL, RetryTimes: 3})
	d := broadcastOne(t, strict)
	if d.Success || !errors.Is(d.Err, ErrForbiddenAddress) || !strings.Contains(d.Err.Error(), "loopback") || d.Attempts != 1 {
		t.Fatalf("loopback under DenyPrivateNetworks: %+v", d)
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("the refused endpoint got %d requests", n)
	}
	holed := newClientOn(t, strict.DB(), Config{PrivateSecret: testSecret, DenyPrivateNetworks: true, AllowNetworks: []string{"127.0.0.0/8", "::1/128"}})
	if d := broadcastOne(t, holed); !d.Success {
		t.Fatalf("loopback allowed by AllowNetworks: %+v", d)
	}
	checking := newClientOn(t, strict.DB(), Config{PrivateSecret: testSecret, DenyPrivateNetworks: true, CheckEndpointsOnApply: true})
	err := checking.ApplyScopeWebhooks(testCtx(t), "biz", "checked", []WebhookConfig{{Code: "c", Name: "c", Endpoint: rc.URL}})
	if !errors.Is(err, ErrInvalidWebhook) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("CheckEndpointsOnApply: %v", err)
	}
	if err := checking.CheckEndpoint(testCtx(t), "https://93.184.216.34/hook"); err != nil {
		t.Errorf("a public address: %v", err)
	}
}

// noDial is the inner dialler of tests of refused addresses: the guard
// refuses before dialling, so a call is a failure (and sends nothing).
func noDial(t *testing.T) func(context.Context, string, string) (net.Conn, error) {
	return func(_ context.Context, _, addr string) (net.Conn, error) {
		t.Errorf("dialled %s: the guard should have refused before dialling", addr)
		return nil, errors.New("test: no dialling here")
	}
}

// fetch sends a GET with client and returns the body.
func fetch(t *testing.T, client *http.Client, endpoint string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, endpoint, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// newTLSReceiver starts an https server on loopback answering "tls ok";
// its certificate is valid for example.com and 127.0.0.1.
func newTLSReceiver(t *testing.T) (srv *httptest.Server, port string) {
	t.Helper()
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "tls ok")
	}))
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return srv, port
}

func portOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// testProxy is a loopback HTTP proxy that records what it is asked. It
// answers plain requests itself and tunnels a CONNECT to 127.0.0.1 at the
// requested port, whatever host was named, so that a test never reaches
// another address.
type testProxy struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
	conns []net.Conn
}

func newTestProxy(t *testing.T) *testProxy {
	t.Helper()
	p := &testProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *testProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.asked)
}

func (p *testProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if r.Method == http.MethodConnect {
		p.asked = append(p.asked, "CONNECT "+r.Host)
	} else {
		p.asked = append(p.asked, r.Method+" "+r.URL.String())
	}
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		io.WriteString(w, "answered by the proxy")
		return
	}
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	upstream, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, conn, upstream)
	p.mu.Unlock()
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	go func() { io.Copy(upstream, buf); upstream.Close() }()
	go func() { io.Copy(conn, upstream); conn.Close() }()
}

// Host names are normalised with the standard library only: Unicode full
// stops and fullwidth forms become ASCII (as net/http's IDNA mapping does
// before dialling), case and one trailing dot go, netip decides what an IP
// literal is, and what is left must be an ASCII host name that does not
// end in a number.
func TestCanonicalHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host, name, ip, err string
	}{
		{host: "Example.COM.", name: "example.com"},
		{host: "ｅｘａｍｐｌｅ。ｃｏｍ", name: "example.com"},
		{host: "under_score.example", name: "under_score.example"},
		{host: "xn--mnchen-3ya.test", name: "xn--mnchen-3ya.test"},
		{host: "a1.example.com9", name: "a1.example.com9"},
		{host: "169.254.169.254.", ip: "169.254.169.254"},
		{host: "169。254。169。254", ip: "169.254.169.254"},
		{host: "169．254．169．254", ip: "169.254.169.254"},
		{host: "169｡254｡169｡254", ip: "169.254.169.254"},
		{host: "１６９.２５４.１６９.２５４", ip: "169.254.169.254"},
		{host: "::ｆｆｆｆ：a9fe：a9fe", ip: "::ffff:169.254.169.254"},
		{host: "FD00:EC2::254", ip: "fd00:ec2::254"},
		{host: "fe80::1%eth0", ip: "fe80::1%eth0"},
		{host: "münchen.test", err: "not an ASCII host name"},
		{host: "exa\u00admple.com", err: "not an ASCII host name"}, // soft hyphen
		{host: "a..b", err: "not a valid host name"},
		{host: "-a.test", err: "not a valid host name"},
		{host: "a-.test", err: "not a valid host name"},
		{host: "bad!host.test", err: "not a valid host name"},
		{host: strings.Repeat("a", 64) + ".test", err: "not a valid host name"},
		{host: strings.Repeat("a.", 127) + "test", err: "not a valid host name"},
		{host: "", err: "not a valid host name"},
		{host: "2852039166", err: "here 169.254.169.254"},
		{host: "0xa9fea9fe", err: "here 169.254.169.254"},
		{host: "0XA9FEA9FE", err: "here 169.254.169.254"},
		{host: "0251.0376.0251.0376", err: "here 169.254.169.254"},
		{host: "0xa9.0xfe.0xa9.0xfe", err: "here 169.254.169.254"},
		{host: "169.254.43518", err: "here 169.254.169.254"},
		{host: "169.16689662", err: "here 169.254.169.254"},
		{host: "169.254.169.0254", err: "here 169.254.169.172"}, // octal 0254
		{host: "１６９。２５４。４３５１８", err: "here 169.254.169.254"},
		{host: "0x7f000001", err: "here 127.0.0.1"},
		{host: "127.1", err: "here 127.0.0.1"},
		{host: "1.2.3.4.5", err: "decimal, octal or hex:"},
		{host: "example.0x", err: "decimal, octal or hex"},
		{host: "example.123", err: "decimal, octal or hex"},
	}
	for _, tc := range cases {
		name, ip, err := canonicalHost(tc.host)
		switch {
		case tc.err != "":
			if err == nil || !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: (%q, %v, %v), want an error saying %q", tc.host, name, ip, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.host, err)
		case tc.ip != "":
			if name != "" || ip != netip.MustParseAddr(tc.ip) {
				t.Errorf("%q: (%q, %v), want the address %s", tc.host, name, ip, tc.ip)
			}
		case name != tc.name || ip.IsValid():
			t.Errorf("%q: (%q, %v), want the name %q", tc.host, name, ip, tc.name)
		}
	}
}

// Published bypass spellings of metadata addresses, each refused by
// CheckEndpoint and, through net/http and both clients, at dial time,
// before any connection (the inner dialler fails the test if called); the
// literal ones also before asking an egress proxy. Names resolve through a
// fake resolver.
func TestGuardRefusesBypassSpellings(t *testing.T) {
	t.Parallel()
	resolver := fakeResolver{
		"metadata.google.internal": {"169.254.169.254"},
		"metadata.attacker.test":   {"169.254.169.254"},
		"azure.attacker.test":      {"168.63.129.16"},
		"alibaba.attacker.test":    {"100.100.100.200"},
		"classic.attacker.test":    {"192.0.0.192"},
		"gcp6.attacker.test":       {"fd20:ce::254"},
		"eks6.attacker.test":       {"fd00:ec2::23"},
		"imds6.attacker.test":      {"fd00:ec2::254"},
		"oci6.attacker.test":       {"fd00:c1::a9fe:a9fe"},
		"mapped.attacker.test":     {"::ffff:168.63.129.16"},
		"nat64.attacker.test":      {"64:ff9b::a9fe:a9fe"},
	}
	const numeric = "decimal, octal or hex"
	cases := []struct {
		host, reason string
		name         bool // resolved: an egress proxy's to check
	}{
		{host: "169.254.169.254", reason: "link-local"},
		{host: "169.254.169.254.", reason: "link-local"},
		{host: "2852039166", reason: numeric},
		{host: "0xa9fea9fe", reason: numeric},
		{host: "0XA9FEA9FE", reason: numeric},
		{host: "0251.0376.0251.0376", reason: numeric},
		{host: "0xa9.0xfe.0xa9.0xfe", reason: numeric},
		{host: "169.254.43518", reason: numeric},
		{host: "169.16689662", reason: numeric},
		{host: "0251.254.169.254", reason: numeric},
		{host: "169.254.169.0254", reason: numeric},
		{host: "[::ffff:169.254.169.254]", reason: "link-local"},
		{host: "[::ffff:a9fe:a9fe]", reason: "link-local"},
		{host: "[0:0:0:0:0:ffff:a9fe:a9fe]", reason: "link-local"},
		{host: "[64:ff9b::a9fe:a9fe]", reason: "link-local"},
		{host: "[64:ff9b::169.254.169.254]", reason: "link-local"},
		{host: "[2002:a9fe:a9fe::]", reason: "link-local"},
		{host: "[::169.254.169.254]", reason: "link-local"},
		{host: "[fe80::a9fe:a9fe%25eth0]", reason: "link-local"},
		{host: "169。254。169。254", reason: "link-local"},
		{host: "169．254．169．254", reason: "link-local"},
		{host: "169｡254｡169｡254", reason: "link-local"},
		{host: "１６９.２５４.１６９.２５４", reason: "link-local"},
		{host: "１６９。２５４。１６９。２５４", reason: "link-local"},
		{host: "169。254。43518", reason: numeric},
		{host: "０ｘａ９ｆｅａ９ｆｅ", reason: numeric},
		{host: "[fd20:ce::254]", reason: "metadata"},
		{host: "[fd00:ec2::23]", reason: "metadata"},
		{host: "[fd00:ec2::254]", reason: "metadata"},
		{host: "[FD00:EC2:0::254]", reason: "metadata"},
		{host: "[fd00:c1::a9fe:a9fe]", reason: "metadata"},
		{host: "192.0.0.192", reason: "metadata"},
		{host: "168.63.129.16", reason: "metadata"},
		{host: "100.100.100.200", reason: "metadata"},
		{host: "[::ffff:168.63.129.16]", reason: "metadata"},
		{host: "[64:ff9b::a83f:8110]", reason: "metadata"},
		{host: "[2002:a83f:8110::]", reason: "metadata"},
		{host: "[::ffff:100.100.100.200]", reason: "metadata"},
		{host: "[64:ff9b::6464:64c8]", reason: "metadata"},
		{host: "[::ffff:c000:c0]", reason: "metadata"},
		{host: "100。100。100。200", reason: "metadata"},
		{host: "１６８．６３．１２９．１６", reason: "metadata"},
		{host: "2822734096", reason: numeric},
		{host: "0xa83f8110", reason: numeric},
		{host: "0250.077.0201.020", reason: numeric},
		{host: "1684301000", reason: numeric},
		{host: "0x646464c8", reason: numeric},
		{host: "0300.0.0.0300", reason: numeric},
		{host: "0.0.0.0", reason: "unspecified"},
		{host: "[::]", reason: "unspecified"},
		{host: "0", reason: numeric},
		{host: "metadata.google.internal", reason: "link-local", name: true},
		{host: "METADATA.Google.Internal.", reason: "link-local", name: true},
		{host: "ｍｅｔａｄａｔａ。attacker。test", reason: "link-local", name: true},
		{host: "azure.attacker.test", reason: "metadata", name: true},
		{host: "alibaba.attacker.test", reason: "metadata", name: true},
		{host: "classic.attacker.test", reason: "metadata", name: true},
		{host: "gcp6.attacker.test", reason: "metadata", name: true},
		{host: "eks6.attacker.test", reason: "metadata", name: true},
		{host: "imds6.attacker.test", reason: "metadata", name: true},
		{host: "oci6.attacker.test", reason: "metadata", name: true},
		{host: "mapped.attacker.test", reason: "metadata", name: true},
		{host: "nat64.attacker.test", reason: "link-local", name: true},
	}
	hc := func() *http.Client { return &http.Client{Transport: &http.Transport{DialContext: noDial(t)}} }
	direct := newOfflineClient(t, Config{Resolver: resolver, HTTPClient: hc()})
	proxied := newOfflineClient(t, Config{Resolver: resolver, HTTPClient: hc(), EgressProxy: "http://proxy.invalid:3128"})
	ctx := testCtx(t)
	for _, tc := range cases {
		endpoint := "http://" + tc.host + "/latest/meta-data/"
		if err := direct.CheckEndpoint(ctx, endpoint); !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("CheckEndpoint(%s): %v, want refused as %s", endpoint, err, tc.reason)
		}
		clients := []*http.Client{direct.http, direct.insecureHTTP}
		if !tc.name {
			clients = append(clients, proxied.http, proxied.insecureHTTP)
		}
		for i, client := range clients {
			for _, scheme := range []string{"http://", "https://"} {
				u := scheme + tc.host + "/latest/meta-data/"
				if _, err := fetch(t, client, u); !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("GET %s (client %d): %v, want refused as %s", u, i, err, tc.reason)
				}
			}
		}
	}
}

// Proxies set in the environment are never used: not when HTTPClient is
// nil, not with a nil Transport (the copy of http.DefaultTransport loses
// its Proxy), not with a transport of the caller's. Endpoints are names
// (through a fake resolver), since net/http never proxies loopback
// literals: with the proxy variables set, the receiver is reached directly
// and the proxy is asked nothing, for http and for https (CONNECT), and
// DenyPrivateNetworks refuses a private endpoint instead of letting the
// proxy fetch it. Not parallel: t.Setenv.
func TestEnvironmentProxiesAreNeverUsed(t *testing.T) {
	proxy := newTestProxy(t)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"} {
		t.Setenv(k, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	rc := newReceiver(t, nil)
	port := portOf(t, rc.URL)
	_, tlsPort := newTLSReceiver(t)
	resolver := fakeResolver{"receiver.test": {"127.0.0.1"}, "private.test": {"10.0.0.1"}}
	for _, tc := range []struct {
		name string
		hc   func() *http.Client
	}{
		{"no HTTPClient", func() *http.Client { return nil }},
		{"an HTTPClient with a nil Transport", func() *http.Client { return &http.Client{Timeout: 30 * time.Second} }},
		{"an HTTPClient with a Transport", func() *http.Client { return &http.Client{Transport: &http.Transport{}} }},
	} {
		c := newOfflineClient(t, Config{HTTPClient: tc.hc(), Resolver: resolver})
		for _, hc := range []*http.Client{c.http, c.insecureHTTP} {
			if hc.Transport.(*http.Transport).Proxy != nil {
				t.Errorf("%s: the transport has a Proxy", tc.name)
			}
		}
		if body, err := fetch(t, c.http, "http://receiver.test:"+port+"/env"); err != nil || !strings.Contains(body, "ok") {
			t.Errorf("%s: http: %q, %v", tc.name, body, err)
		}
		if body, err := fetch(t, c.insecureHTTP, "https://receiver.test:"+tlsPort+"/env"); err != nil || body != "tls ok" {
			t.Errorf("%s: https: %q, %v", tc.name, body, err)
		}
		// The proxy's address is allowed, so that only the proxy could
		// reach the private endpoint (never dialled: refused first).
		strict := newOfflineClient(t, Config{HTTPClient: tc.hc(), Resolver: resolver, DenyPrivateNetworks: true, AllowNetworks: []string{"127.0.0.1/32"}})
		for _, u := range []string{"http://private.test/strict", "https://private.test/strict"} {
			if _, err := fetch(t, strict.insecureHTTP, u); !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), "RFC 1918") {
				t.Errorf("%s: %s under DenyPrivateNetworks: %v, want refused as RFC 1918", tc.name, u, err)
			}
		}
		c.http.CloseIdleConnections()
		c.insecureHTTP.CloseIdleConnections()
	}
	if asked := proxy.seen(); len(asked) != 0 {
		t.Errorf("the environment's proxy was asked %q", asked)
	}
	if n := len(rc.requests()); n != 3 {
		t.Errorf("the receiver got %d requests, want 3", n)
	}
}

// A transport of the caller's with a Proxy is refused, whatever the proxy
// (a fixed one, the environment's, a clone of http.DefaultTransport), also
// next to EgressProxy: Config.EgressProxy is the one way to a proxy.
func TestTransportProxyIsRefused(t *testing.T) {
	t.Parallel()
	proxyURL, _ := url.Parse("http://127.0.0.1:3128")
	transports := map[string]func() *http.Transport{
		"a fixed proxy":               func() *http.Transport { return &http.Transport{Proxy: http.ProxyURL(proxyURL)} },
		"ProxyFromEnvironment":        func() *http.Transport { return &http.Transport{Proxy: http.ProxyFromEnvironment} },
		"a clone of DefaultTransport": func() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() },
	}
	for name, tr := range transports {
		for _, egress := range []string{"", "http://127.0.0.1:3128"} {
			_, err := New(openSQLite(t, ""), Config{PrivateSecret: testSecret, EgressProxy: egress, HTTPClient: &http.Client{Transport: tr()}})
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "HTTPClient.Transport.Proxy") || !strings.Contains(err.Error(), "EgressProxy") {
				t.Errorf("%s (EgressProxy %q): %v, want ErrInvalidConfig naming Transport.Proxy and EgressProxy", name, egress, err)
			}
		}
	}
}

// Through Config.EgressProxy every request goes to the proxy: plain http
// as an absolute URL, https through CONNECT with the certificate verified
// end to end. Nothing is resolved locally, and an endpoint at a refused
// literal address (in any spelling) is refused before the proxy is asked.
func TestEgressProxy(t *testing.T) {
	t.Parallel()
	proxy := newTestProxy(t)
	tlsRC, tlsPort := newTLSReceiver(t)
	pool := x509.NewCertPool()
	pool.AddCert(tlsRC.Certificate())
	c := newOfflineClient(t, Config{
		EgressProxy: proxy.URL,
		Resolver:    fakeResolver{}, // resolves nothing: names are the proxy's
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	})
	t.Cleanup(c.http.CloseIdleConnections)
	if body, err := fetch(t, c.http, "http://receiver.test:8080/hook"); err != nil || body != "answered by the proxy" {
		t.Errorf("http through the proxy: %q, %v", body, err)
	}
	if body, err := fetch(t, c.http, "https://example.com:"+tlsPort+"/tls"); err != nil || body != "tls ok" {
		t.Errorf("https through the proxy: %q, %v", body, err)
	}
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"https://169.254.169.254/latest/meta-data/",
		"https://[fd00:ec2::254]/latest/meta-data/",
		"http://[::ffff:a9fe:a9fe]/",
		"https://168.63.129.16/machine",
		"http://0xa9fea9fe/",
		"http://169。254。169。254/",
		"https://[fd20:ce::254]/computeMetadata/v1/",
	} {
		if _, err := fetch(t, c.http, u); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s through the proxy: %v, want ErrForbiddenAddress", u, err)
		}
	}
	want := []string{"GET http://receiver.test:8080/hook", "CONNECT example.com:" + tlsPort}
	if got := proxy.seen(); !slices.Equal(got, want) {
		t.Errorf("the proxy was asked %q, want %q", got, want)
	}
}

// EgressProxy is validated by New, and the proxy's own address goes
// through the guard: refused when the policy refuses it (a literal one by
// New, a name at dial time), unless in AllowNetworks; under
// DenyPrivateNetworks a private endpoint literal is still refused before
// the proxy is asked.
func TestEgressProxyAddressIsGuarded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		proxy, want string
		deny        bool
	}{
		{proxy: "ftp://proxy.test:21", want: "scheme"},
		{proxy: "127.0.0.1:3128", want: "not a URL"},
		{proxy: "proxy.test:3128", want: "scheme"},
		{proxy: "http://", want: "no host"},
		{proxy: "http://169.254.169.254:3128", want: "link-local"},
		{proxy: "http://[fd00:ec2::254]:3128", want: "metadata"},
		{proxy: "http://0x7f000001:3128", want: "decimal, octal or hex"},
		{proxy: "http://user:hunter2@168.63.129.16:3128", want: "metadata"},
		{proxy: "http://127.0.0.1:3128", want: "loopback", deny: true},
		{proxy: "socks5://10.0.0.1:1080", want: "RFC 1918", deny: true},
	} {
		_, err := New(openSQLite(t, ""), Config{PrivateSecret: testSecret, EgressProxy: tc.proxy, DenyPrivateNetworks: tc.deny})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("EgressProxy %q: %v, want ErrInvalidConfig saying %q", tc.proxy, err, tc.want)
		}
	}

	proxy := newTestProxy(t)
	proxyByName := "http://proxy.test:" + portOf(t, proxy.URL)
	resolver := fakeResolver{"proxy.test": {"127.0.0.1"}}
	strict := newOfflineClient(t, Config{DenyPrivateNetworks: true, EgressProxy: proxyByName, Resolver: resolver})
	for _, u := range []string{"http://receiver.test/hook", "https://example.com/hook"} {
		_, err := fetch(t, strict.http, u)
		if !errors.Is(err, ErrForbiddenAddress) || !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "proxy.test") {
			t.Errorf("%s through a loopback proxy under DenyPrivateNetworks: %v, want the proxy's address refused", u, err)
		}
	}
	if asked := proxy.seen(); len(asked) != 0 {
		t.Fatalf("the refused proxy was asked %q", asked)
	}
	holed := newOfflineClient(t, Config{DenyPrivateNetworks: true, AllowNetworks: []string{"127.0.0.1/32"}, EgressProxy: proxyByName, Resolver: resolver})
	t.Cleanup(holed.http.CloseIdleConnections)
	if body, err := fetch(t, holed.http, "http://receiver.test/hook"); err != nil || body != "answered by the proxy" {
		t.Errorf("through a proxy in AllowNetworks: %q, %v", body, err)
	}
	for _, u := range []string{"http://10.0.0.1/", "https://192.168.1.1/", "http://192.0.2.1/", "http://[fd12:3456::1]/", "http://[::ffff:10.0.0.1]/"} {
		if _, err := fetch(t, holed.http, u); !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s under DenyPrivateNetworks through the proxy: %v, want refused before the proxy", u, err)
		}
	}
	if got, want := proxy.seen(), []string{"GET http://receiver.test/hook"}; !slices.Equal(got, want) {
		t.Errorf("the proxy was asked %q, want %q", got, want)
	}
}

// DialTLSContext and DialTLS, which net/http calls instead of DialContext
// for https, are refused; DialContext and the deprecated Dial are wrapped
// by the guard and only ever get a checked address, for http and https.
func TestTransportDialHooks(t *testing.T) {
	t.Parallel()
	for field, tr := range map[string]*http.Transport{
		"DialTLSContext":                 {DialTLSContext: noDial(t)},
		"DialTLS":                        {DialTLS: func(_, addr string) (net.Conn, error) { return noDial(t)(context.Background(), "", addr) }},
		"DialTLSContext and DialContext": {DialContext: noDial(t), DialTLSContext: noDial(t)},
	} {
		_, err := New(openSQLite(t, ""), Config{PrivateSecret: testSecret, HTTPClient: &http.Client{Transport: tr}})
		name := "HTTPClient.Transport." + strings.Fields(field)[0]
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want ErrInvalidConfig naming %s", field, err, name)
		}
	}

	rc := newReceiver(t, nil)
	port := portOf(t, rc.URL)
	_, tlsPort := newTLSReceiver(t)
	resolver := fakeResolver{
		"receiver.test":          {"127.0.0.1"},
		"metadata.attacker.test": {"169.254.169.254"},
		"mixed.attacker.test":    {"fd00:ec2::254", "127.0.0.1"},
	}
	var mu sync.Mutex
	var dialled []string
	record := func(network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, addr)
		mu.Unlock()
		host, _, _ := net.SplitHostPort(addr)
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
			t.Errorf("dialled %s: not a checked loopback address", addr)
			return nil, errors.New("test: loopback only")
		}
		return net.Dial(network, addr)
	}
	for field, tr := range map[string]func() *http.Transport{
		"DialContext": func() *http.Transport {
			return &http.Transport{DialContext: func(_ context.Context, network, addr string) (net.Conn, error) { return record(network, addr) }}
		},
		//lint:ignore SA1019 the deprecated Dial must go through the guard too
		"Dial": func() *http.Transport { return &http.Transport{Dial: record} },
	} {
		mu.Lock()
		dialled = nil
		mu.Unlock()
		c := newOfflineClient(t, Config{Resolver: resolver, HTTPClient: &http.Client{Transport: tr()}})
		for _, ok := range []struct {
			client *http.Client
			url    string
		}{
			{c.http, "http://receiver.test:" + port + "/x"},
			{c.insecureHTTP, "https://receiver.test:" + tlsPort + "/x"},
			{c.http, "http://mixed.attacker.test:" + port + "/x"},
		} {
			if _, err := fetch(t, ok.client, ok.url); err != nil {
				t.Errorf("%s: %s: %v", field, ok.url, err)
			}
		}
		for _, refused := range []struct {
			client *http.Client
			url    string
		}{
			{c.http, "http://metadata.attacker.test:" + port + "/x"},
			{c.insecureHTTP, "https://metadata.attacker.test:" + tlsPort + "/x"},
			{c.insecureHTTP, "https://[fd00:ec2::254]:" + tlsPort + "/x"},
			{c.http, "http://0x7f000001:" + port + "/x"},
		} {
			if _, err := fetch(t, refused.client, refused.url); !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("%s: %s: %v, want ErrForbiddenAddress", field, refused.url, err)
			}
		}
		c.http.CloseIdleConnections()
		c.insecureHTTP.CloseIdleConnections()
		mu.Lock()
		got := slices.Clone(dialled)
		mu.Unlock()
		for _, want := range []string{"127.0.0.1:" + port, "127.0.0.1:" + tlsPort} {
			if !slices.Contains(got, want) {
				t.Errorf("%s: dialled %q, want %s among them (through the guard)", field, got, want)
			}
		}
	}
}

// Through Config.EgressProxy a delivery goes to the proxy, and one to a
// refused literal address fails before reaching it with
// ErrForbiddenAddress, recorded in history and not retried.
func testEgressProxy(t *testing.T, tdb *testDB) {
	proxy := newTestProxy(t)
	c := newTestClient(t, tdb, Config{EgressProxy: proxy.URL, Resolver: fakeResolver{}})
	mustSync(t, c, twoEvents)
	ctx := testCtx(t)
	hooks := []WebhookConfig{
		{Code: "named", Name: "named", Endpoint: "http://receiver.test/hook", RetryTimes: 3},
		{Code: "meta", Name: "meta", Endpoint: "http://169.254.169.254/latest/meta-data", RetryTimes: 3},
		{Code: "wire", Name: "wire", Endpoint: "https://168.63.129.16/machine", RetryTimes: 3},
	}
	if err := c.ApplyScopeWebhooks(ctx, "biz", "proxy", hooks); err != nil {
		t.Fatal(err)
	}
	subs := map[string][]string{}
	for _, h := range hooks {
		subs[h.Code] = []string{AllEvents}
	}
	if err := c.ApplyScopeSubscriptions(ctx, "biz", "proxy", subs); err != nil {
		t.Fatal(err)
	}
	res, err := c.Broadcast(ctx, "template_update", []Scope{{"biz", "proxy"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Deliveries {
		switch d.WebhookCode {
		case "named":
			if !d.Success {
				t.Errorf("named: %+v, want delivered through the proxy", d)
			}
		default:
			if d.Success || !errors.Is(d.Err, ErrForbiddenAddress) || d.Attempts != 1 {
				t.Errorf("%s: %+v, want refused before the proxy, no retry", d.WebhookCode, d)
			}
		}
	}
	if got := proxy.seen(); len(got) != 1 || !strings.HasSuffix(got[0], " http://receiver.test/hook") {
		t.Errorf("the proxy was asked %q", got)
	}
	hist, _ := c.History(ctx, HistoryQuery{WebhookCode: "wire"})
	if len(hist) != 1 || hist[0].Success || !strings.Contains(hist[0].Error, "metadata") {
		t.Errorf("history of the refused delivery: %+v", hist)
	}
}
