package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// The SSRF guard: every connection the library opens is checked at dial
// time, after DNS resolution, against the addresses a webhook must never
// reach, and the checked address is the one dialled (a name that resolves
// differently a second time cannot slip through). Redirects are never
// followed, so a guarded first hop is the only hop.

// ErrForbiddenAddress means an endpoint resolves to an address the SSRF
// guard refuses; no connection was made.
var ErrForbiddenAddress = errors.New("webhook: endpoint address is forbidden")

// Resolver looks up the addresses of a host; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

type namedPrefix struct {
	prefix netip.Prefix
	name   string
}

func prefixes(kind string, cidrs ...string) []namedPrefix {
	out := make([]namedPrefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = namedPrefix{netip.MustParsePrefix(c), kind}
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
	p = append(p, prefixes("a cloud metadata address", "100.100.100.200/32", "fd00:ec2::254/128")...)
	p = append(p, prefixes("a multicast address", "224.0.0.0/4", "ff00::/8")...)
	p = append(p, prefixes("the broadcast address", "255.255.255.255/32")...)
	p = append(p, prefixes("a reserved address", "240.0.0.0/4")...)
	return p
}

// privateNetworks are refused with Config.DenyPrivateNetworks.
func privateNetworks() []namedPrefix {
	var p []namedPrefix
	p = append(p, prefixes("a loopback address", "127.0.0.0/8", "::1/128")...)
	p = append(p, prefixes("a private (RFC 1918) address", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")...)
	p = append(p, prefixes("a carrier-grade NAT address", "100.64.0.0/10")...)
	p = append(p, prefixes("a unique local IPv6 address", "fc00::/7", "fec0::/10")...)
	p = append(p, prefixes("a special-purpose address", "192.0.0.0/24", "198.18.0.0/15")...)
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
// 6to4, NAT64, Teredo), so that a forbidden IPv4 address cannot hide there.
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
	for _, c := range candidates {
		for _, d := range p.deny {
			if d.prefix.Contains(c) {
				how := "refused by default"
				if !strings.Contains(d.name, "metadata") && !strings.Contains(d.name, "link-local") && !strings.Contains(d.name, "multicast") &&
					!strings.Contains(d.name, "unspecified") && !strings.Contains(d.name, "broadcast") && !strings.Contains(d.name, "reserved") {
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
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		family := "ip"
		switch network {
		case "tcp4":
			family = "ip4"
		case "tcp6":
			family = "ip6"
		}
		addrs, err = g.resolver.LookupNetIP(ctx, family, host)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("webhook: %s has no address", host)
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
	if host != addrs[0].String() {
		return nil, fmt.Errorf("%w (%s resolves there)", refused, host)
	}
	return nil, refused
}

// CheckEndpoint resolves the host of an endpoint URL and reports, with
// ErrForbiddenAddress, whether the SSRF guard would refuse it. Deliveries
// are checked at dial time whatever it says; this is for validating input
// early (Config.CheckEndpointsOnApply makes ApplyScopeWebhooks call it).
func (c *Client) CheckEndpoint(ctx context.Context, endpoint string) error {
	if msg := validateEndpoint(endpoint); msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalidWebhook, msg)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidWebhook, redactURLError(err))
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return c.policy.check(ip)
	}
	addrs, err := c.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("webhook: resolving %s: %w", host, err)
	}
	for _, ip := range addrs {
		if err := c.policy.check(ip); err != nil {
			return fmt.Errorf("%w (%s resolves there)", err, host)
		}
	}
	return nil
}
