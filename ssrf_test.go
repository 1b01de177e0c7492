package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"testing"
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
