package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// The SSRF guard: every connection the library opens is checked at dial
// time, after DNS resolution, against the addresses a webhook must never
// reach, and the checked address is the one dialled (a name that resolves
// differently a second time cannot slip through). Redirects are never
// followed, so a guarded first hop is the only hop. Host names are
// normalised first (see canonicalHost). No proxy is used unless
// Config.EgressProxy names one (see httpClients and egressProxy), and the
// transport hooks that would dial around the guard (DialTLSContext, DialTLS)
// are refused.

// Resolver looks up the addresses of a host; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

type namedPrefix struct {
	prefix netip.Prefix
	name   string
	always bool // refused whatever DenyPrivateNetworks says
}

func prefixes(kind string, cidrs ...string) []namedPrefix {
	out := make([]namedPrefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = namedPrefix{netip.MustParsePrefix(c), kind, false}
	}
	return out
}

// alwaysDenied are refused whatever the configuration (unless allowed
// explicitly): nothing a webhook should reach lives there, and cloud
// metadata services do.
func alwaysDenied() []namedPrefix {
	var p []namedPrefix
	p = append(p, prefixes("an unspecified address", "0.0.0.0/8", "::/128")...)
	p = append(p, prefixes("a link-local address (cloud metadata lives there)", "169.254.0.0/16", "fe80::/10")...)
	// Metadata and platform services outside link-local. 169.254.169.254
	// (AWS, GCP, Azure, Oracle, ...) and 169.254.170.2/23 (AWS ECS, EKS) are
	// link-local above.
	p = append(p, prefixes("a cloud metadata address",
		// AWS IMDS over IPv6: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
		"fd00:ec2::254/128",
		// AWS EKS Pod Identity Agent over IPv6: https://docs.aws.amazon.com/eks/latest/userguide/pod-id-agent-setup.html
		"fd00:ec2::23/128",
		// Google Compute Engine metadata server over IPv6: https://cloud.google.com/compute/docs/metadata/querying-metadata
		"fd20:ce::254/128",
		// Oracle Cloud Infrastructure IMDS over IPv6: https://docs.oracle.com/en-us/iaas/Content/Compute/Tasks/gettingmetadata.htm
		"fd00:c1::a9fe:a9fe/128",
		// Oracle Cloud Infrastructure Classic metadata: https://docs.oracle.com/en/cloud/iaas-classic/compute-iaas-cloud/stcsg/retrieving-instance-metadata.html
		"192.0.0.192/32",
		// Azure WireServer (host agent, extensions, DNS): https://learn.microsoft.com/en-us/azure/virtual-network/what-is-ip-address-168-63-129-16
		"168.63.129.16/32",
		// Alibaba Cloud ECS metadata: https://www.alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata
		"100.100.100.200/32",
	)...)
	p = append(p, prefixes("a multicast address", "224.0.0.0/4", "ff00::/8")...)
	p = append(p, prefixes("the broadcast address", "255.255.255.255/32")...)
	p = append(p, prefixes("a reserved address", "240.0.0.0/4")...)
	for i := range p {
		p[i].always = true
	}
	return p
}

// privateNetworks are refused with Config.DenyPrivateNetworks: private
// networks and the IANA special-purpose ranges no webhook lives in
// (https://www.iana.org/assignments/iana-ipv4-special-registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry).
func privateNetworks() []namedPrefix {
	var p []namedPrefix
	p = append(p, prefixes("a loopback address", "127.0.0.0/8", "::1/128")...)
	p = append(p, prefixes("a private (RFC 1918) address", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")...)
	p = append(p, prefixes("a carrier-grade NAT address", "100.64.0.0/10")...)
	p = append(p, prefixes("a unique local IPv6 address", "fc00::/7")...)
	p = append(p, prefixes("a site-local IPv6 address (deprecated, RFC 3879)", "fec0::/10")...)
	p = append(p, prefixes("an IETF protocol assignment address (RFC 6890)", "192.0.0.0/24")...)
	p = append(p, prefixes("a documentation address (RFC 5737, RFC 3849, RFC 9637)",
		"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")...)
	p = append(p, prefixes("a benchmarking address (RFC 2544, RFC 5180)", "198.18.0.0/15", "2001:2::/48")...)
	p = append(p, prefixes("the deprecated 6to4 relay anycast range (RFC 7526)", "192.88.99.0/24")...)
	p = append(p, prefixes("a discard-only address (RFC 6666)", "100::/64")...)
	p = append(p, prefixes("a deprecated IPv4-compatible IPv6 address (RFC 4291)", "::/96")...)
	return p
}

// addressPolicy decides which addresses the library may connect to.
type addressPolicy struct {
	deny  []namedPrefix
	allow []netip.Prefix
}

func newAddressPolicy(denyPrivate bool, allow []string) (*addressPolicy, error) {
	p := &addressPolicy{deny: alwaysDenied()}
	if denyPrivate {
		p.deny = append(p.deny, privateNetworks()...)
	}
	for _, a := range allow {
		prefix, err := netip.ParsePrefix(strings.TrimSpace(a))
		if err != nil {
			addr, aerr := netip.ParseAddr(strings.TrimSpace(a))
			if aerr != nil {
				return nil, fmt.Errorf("%w: AllowNetworks entry %q is not a CIDR (like 10.1.0.0/16) or an address", ErrInvalidConfig, a)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.allow = append(p.allow, prefix.Masked())
	}
	return p, nil
}

// embedded returns the IPv4 address hidden in an IPv6 one (IPv4-mapped,
// IPv4-compatible, 6to4, NAT64, Teredo), so that a forbidden IPv4 address
// cannot hide there.
func embedded(ip netip.Addr) (netip.Addr, bool) {
	if ip.Is4In6() {
		return ip.Unmap(), true
	}
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case b[0] == 0x20 && b[1] == 0x02: // 6to4 2002:V4ADDR::/48
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b: // NAT64 64:ff9b::/96 (and /48 local use)
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0: // Teredo 2001::/32: client address obfuscated
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	case netip.PrefixFrom(netip.IPv6Unspecified(), 96).Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
		// IPv4-compatible ::V4ADDR (deprecated, RFC 4291), but :: and ::1.
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	}
	return netip.Addr{}, false
}

// check returns nil when ip may be connected to, or an error saying why not.
func (p *addressPolicy) check(ip netip.Addr) error {
	ip = ip.WithZone("")
	candidates := []netip.Addr{ip}
	if v4, ok := embedded(ip); ok {
		candidates = append(candidates, v4)
	}
	for _, a := range p.allow {
		for _, c := range candidates {
			if a.Contains(c) {
				return nil
			}
		}
	}
	// Range by range, so that an always-refused reason wins over a
	// DenyPrivateNetworks one (::a9fe:a9fe is link-local before it is
	// IPv4-compatible).
	for _, d := range p.deny {
		for _, c := range candidates {
			if d.prefix.Contains(c) {
				how := "refused by default"
				if !d.always {
					how = "refused by DenyPrivateNetworks"
				}
				if c != ip {
					return fmt.Errorf("%w: %s embeds %s, %s (%s; allow it with AllowNetworks)", ErrForbiddenAddress, ip, c, d.name, how)
				}
				return fmt.Errorf("%w: %s is %s (%s; allow it with AllowNetworks)", ErrForbiddenAddress, ip, d.name, how)
			}
		}
	}
	return nil
}

// canonicalHost normalises the host of an endpoint (or of the egress
// proxy) the way the guard checks and resolves it, with the standard
// library only: the Unicode full stops IDNA maps to '.' (U+3002, U+FF0E,
// U+FF61) become dots and fullwidth ASCII (U+FF01–U+FF5E: digits, letters,
// ':') becomes ASCII, as net/http's own IDNA mapping does before dialling;
// one trailing dot goes. What netip.ParseAddr then accepts is an IP literal,
// returned as ip (a fullwidth "１６９。２５４。１６９。２５４" is
// 169.254.169.254). Anything else is a name, lowercased and returned as
// name, and it must be an ASCII host name: dot-separated labels of letters,
// digits, '-' and '_', 1 to 63 characters, not starting or ending with '-',
// 253 characters at most. A name whose last label is a number
// ("2852039166", "0xa9fea9fe", "169.254.43518", "0251.0376.0251.0376") is
// refused: getaddrinfo and other inet_aton-based resolvers read it as an
// IPv4 address in decimal, octal or hex. Internationalised names must be
// written in their ASCII (xn--) form. Errors wrap ErrForbiddenAddress.
func canonicalHost(host string) (name string, ip netip.Addr, err error) {
	orig := host
	if !isASCII(host) {
		host = strings.Map(func(r rune) rune {
			switch {
			case r == '\u3002' || r == '\uff0e' || r == '\uff61':
				return '.'
			case r >= '\uff01' && r <= '\uff5e':
				return r - 0xfee0
			}
			return r
		}, host)
		if !isASCII(host) {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q is not an ASCII host name: write an internationalised name in its ASCII (xn--) form", ErrForbiddenAddress, orig)
		}
	}
	host = strings.TrimSuffix(host, ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return "", a, nil
	}
	host = strings.ToLower(host)
	if !validHostName(host) {
		return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid host name (dot-separated labels of letters, digits, '-' and '_', at most 63 characters each) nor an IP address", ErrForbiddenAddress, orig)
	}
	if endsInNumber(host) {
		denotes := ""
		if a, ok := inetAton(host); ok {
			denotes = ", here " + a.String()
		}
		return "", netip.Addr{}, fmt.Errorf("%w: host %q is not an IP address in standard form, but resolvers read it as an IPv4 address in decimal, octal or hex%s: write IPv4 addresses as a.b.c.d in decimal", ErrForbiddenAddress, orig, denotes)
	}
	return host, netip.Addr{}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validHostName reports whether s (lowercase) is an ASCII host name, with
// the rules of the net package's own name check plus label lengths.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// endsInNumber reports whether the last label of a valid lowercase host
// name is a decimal, octal or hex number (the WHATWG URL standard's
// "ends in a number"): such a name is an IPv4 address to inet_aton.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	digits, isHex := last, false
	if strings.HasPrefix(last, "0x") {
		digits, isHex = last[2:], true
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !(c >= '0' && c <= '9' || isHex && c >= 'a' && c <= 'f') {
			return false
		}
	}
	return digits != "" || isHex
}

// inetAton parses s as inet_aton does (one to four parts, each decimal,
// octal with a leading 0 or hex with 0x, the last filling the remaining
// bytes), for error messages.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, part := range parts {
		base := 10
		switch {
		case strings.HasPrefix(part, "0x"):
			base, part = 16, part[2:]
			if part == "" {
				part = "0"
			}
		case len(part) > 1 && part[0] == '0':
			base, part = 8, part[1:]
		}
		v, err := strconv.ParseUint(part, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(vals)
	if vals[n-1] >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	v := uint32(vals[n-1])
	for i := 0; i < n-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		v |= uint32(vals[i]) << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// guardedDialer resolves the host itself, checks every address and dials a
// permitted one, so that the address checked is the address connected to.
type guardedDialer struct {
	policy   *addressPolicy
	resolver Resolver
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (g *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	name, literal, err := canonicalHost(host)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if literal.IsValid() {
		addrs = []netip.Addr{literal}
	} else {
		family := "ip"
		switch network {
		case "tcp4":
			family = "ip4"
		case "tcp6":
			family = "ip6"
		}
		addrs, err = g.resolver.LookupNetIP(ctx, family, name)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("webhook: %s has no address", name)
		}
	}
	var refused, dialErr error
	for _, ip := range addrs {
		if err := g.policy.check(ip); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		conn, err := g.dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		dialErr = err
	}
	if dialErr != nil {
		return nil, dialErr
	}
	if !literal.IsValid() {
		return nil, fmt.Errorf("%w (%s resolves there)", refused, name)
	}
	return nil, refused
}

// checkTransport refuses the *http.Transport settings through which a
// connection would escape the guard: a Proxy (the proxy, not the guard,
// would connect to the endpoint) and the TLS dial hooks, which net/http
// calls instead of DialContext for https. name says where t came from.
func checkTransport(t *http.Transport, name string) error {
	switch {
	case t.Proxy != nil:
		return fmt.Errorf("%w: %s.Proxy is set: through a proxy the SSRF guard would check the proxy's address, not the endpoint's (a clone of http.DefaultTransport reads HTTP_PROXY and HTTPS_PROXY this way); set it to nil, and use Config.EgressProxy for an egress proxy that enforces the policy", ErrInvalidConfig, name)
	case t.DialTLSContext != nil:
		return fmt.Errorf("%w: %s.DialTLSContext is set: net/http dials https with it instead of DialContext, around the SSRF guard; remove it (use TLSClientConfig for TLS settings, DialContext for dialling)", ErrInvalidConfig, name)
	//lint:ignore SA1019 the deprecated DialTLS is checked because net/http still uses it
	case t.DialTLS != nil:
		return fmt.Errorf("%w: %s.DialTLS is set: net/http dials https with it instead of DialContext, around the SSRF guard; remove it (use TLSClientConfig for TLS settings, DialContext for dialling)", ErrInvalidConfig, name)
	}
	return nil
}

// egressProxy parses Config.EgressProxy and returns the Transport.Proxy
// that sends every request through it. Before a request goes to the
// proxy, its host is normalised and, when it is an IP literal, checked
// against the policy (names are the proxy's to resolve and check). The
// proxy's own address is checked when the guard dials it; a literal one is
// checked here too, so that New fails early.
func (c *Client) egressProxy(raw string) (func(*http.Request) (*url.URL, error), error) {
	p, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: EgressProxy is not a URL: %v", ErrInvalidConfig, redactURLError(err))
	}
	switch p.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("%w: EgressProxy %q: scheme %q is not supported: use an absolute http://, https://, socks5:// or socks5h:// URL", ErrInvalidConfig, p.Redacted(), p.Scheme)
	}
	if p.Hostname() == "" {
		return nil, fmt.Errorf("%w: EgressProxy %q has no host", ErrInvalidConfig, p.Redacted())
	}
	_, ip, err := canonicalHost(p.Hostname())
	if err == nil && ip.IsValid() {
		err = c.policy.check(ip)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: EgressProxy %q: %v", ErrInvalidConfig, p.Redacted(), err)
	}
	proxy := *p
	return func(req *http.Request) (*url.URL, error) {
		_, ip, err := canonicalHost(req.URL.Hostname())
		if err == nil && ip.IsValid() {
			err = c.policy.check(ip)
		}
		if err != nil {
			return nil, err
		}
		u := proxy
		return &u, nil
	}, nil
}

// CheckEndpoint resolves the host of an endpoint URL and reports, with
// ErrForbiddenAddress, whether the SSRF guard would refuse it. Deliveries
// are checked at dial time whatever it says; this is for validating input
// early (Config.CheckEndpointsOnApply makes ApplyScopeWebhooks call it).
// The host is normalised as the guard does (see canonicalHost): a host that
// is not a valid ASCII host name or IP address is refused.
func (c *Client) CheckEndpoint(ctx context.Context, endpoint string) error {
	if msg := validateEndpoint(endpoint); msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalidWebhook, msg)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidWebhook, redactURLError(err))
	}
	name, ip, err := canonicalHost(u.Hostname())
	if err != nil {
		return err
	}
	if ip.IsValid() {
		return c.policy.check(ip)
	}
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return fmt.Errorf("webhook: resolving %s: %w", name, err)
	}
	for _, ip := range addrs {
		if err := c.policy.check(ip); err != nil {
			return fmt.Errorf("%w (%s resolves there)", err, name)
		}
	}
	return nil
}
