package main

import (
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/scopehook/webhook"
)

// networkFlags are the SSRF guard and egress settings of a command that
// sends requests, as the service's Config has them: DenyPrivateNetworks,
// AllowNetworks and EgressProxy.
type networkFlags struct {
	denyPrivate    bool
	allowNetworks  stringList
	egressProxy    string
	egressProxyEnv string
}

// register adds the flags to fs.
func (f *networkFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.denyPrivate, "deny-private", false, "also refuse loopback, private, CGNAT and ULA addresses, as the service's DenyPrivateNetworks does")
	fs.Var(&f.allowNetworks, "allow-network", "let requests through to `CIDR` (10.1.0.0/16, or one address) even where the SSRF guard refuses it, as the service's AllowNetworks does; repeat for several")
	fs.StringVar(&f.egressProxy, "egress-proxy", "", "send every request through the proxy at `URL` (http://, https://, socks5:// or socks5h://), which must enforce the egress policy, as the service's EgressProxy does; a URL with a password goes in --egress-proxy-env")
	fs.StringVar(&f.egressProxyEnv, "egress-proxy-env", "", "as --egress-proxy, with the proxy's URL (and password) read from the environment variable `VAR`")
}

// given returns the names of the flags that were set, as --name.
func (f *networkFlags) given() []string {
	var names []string
	if f.denyPrivate {
		names = append(names, "--deny-private")
	}
	if len(f.allowNetworks) > 0 {
		names = append(names, "--allow-network")
	}
	if f.egressProxy != "" {
		names = append(names, "--egress-proxy")
	}
	if f.egressProxyEnv != "" {
		names = append(names, "--egress-proxy-env")
	}
	return names
}

// egress is what networkFlags resolve to.
type egress struct {
	denyPrivate bool
	allow       []string
	proxy       string // the proxy's URL, possibly with a password: never printed as is
}

// resolve validates the flags, reading the proxy's URL from the environment
// for --egress-proxy-env. Its errors are usage errors naming the flag, and
// never show a password.
func (f *networkFlags) resolve(getenv func(string) string) (egress, error) {
	e := egress{denyPrivate: f.denyPrivate}
	for _, n := range f.allowNetworks {
		s := strings.TrimSpace(n)
		if _, err := netip.ParsePrefix(s); err != nil {
			if _, err := netip.ParseAddr(s); err != nil {
				return egress{}, usageErrorf("--allow-network %q: want a CIDR such as 10.1.0.0/16 or fd00::/8, or one address such as 10.1.2.3", printable(n))
			}
		}
		e.allow = append(e.allow, s)
	}
	switch {
	case f.egressProxy != "" && f.egressProxyEnv != "":
		return egress{}, usageErrorf("--egress-proxy and --egress-proxy-env both name the proxy: give one of them")
	case f.egressProxy != "":
		u, err := parseProxyURL("--egress-proxy", f.egressProxy)
		if err != nil {
			return egress{}, err
		}
		if _, has := u.User.Password(); has {
			return egress{}, usageErrorf("--egress-proxy %s: the URL holds a password, which ps would show: "+
				"export the URL in an environment variable and give its name with --egress-proxy-env", u.Redacted())
		}
		e.proxy = f.egressProxy
	case f.egressProxyEnv != "":
		raw := getenv(f.egressProxyEnv)
		if raw == "" {
			return egress{}, usageErrorf("--egress-proxy-env %s: the variable is not set or empty: export it with the proxy's URL", printable(f.egressProxyEnv))
		}
		if _, err := parseProxyURL("--egress-proxy-env "+printable(f.egressProxyEnv), raw); err != nil {
			return egress{}, err
		}
		e.proxy = raw
	}
	return e, nil
}

// parseProxyURL checks a proxy URL given to flag. Its errors show the URL
// with its password redacted, or not at all when it does not parse.
func parseProxyURL(flag, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usageErrorf("%s: not a URL: want one such as http://127.0.0.1:4750", flag)
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, usageErrorf("%s %s: the scheme must be http, https, socks5 or socks5h, such as http://127.0.0.1:4750", flag, printable(u.Redacted()))
	}
	if u.Hostname() == "" {
		return nil, usageErrorf("%s %s: the URL has no host", flag, printable(u.Redacted()))
	}
	return u, nil
}

// applyTo sets the settings on cfg.
func (e egress) applyTo(cfg *webhook.Config) {
	cfg.DenyPrivateNetworks = e.denyPrivate
	cfg.AllowNetworks = e.allow
	cfg.EgressProxy = e.proxy
}

// describe says, for the operator, what the settings are; the proxy's
// password is redacted.
func (e egress) describe() string {
	parts := []string{"link-local and metadata addresses refused"}
	if e.denyPrivate {
		parts[0] = "loopback, private, link-local and metadata addresses refused"
	}
	if len(e.allow) > 0 {
		parts = append(parts, "allowed: "+printable(strings.Join(e.allow, ", ")))
	}
	if e.proxy != "" {
		shown := "(a proxy URL)"
		if u, err := url.Parse(e.proxy); err == nil {
			shown = u.Redacted()
		}
		parts = append(parts, "through the proxy "+printable(shown))
	}
	return strings.Join(parts, "; ")
}

// egressConfigError turns the library's refusal of the proxy's address,
// the only setting of networkFlags that resolve cannot check, into a usage
// error naming the flags; it returns other errors unchanged.
func egressConfigError(err error) error {
	if strings.Contains(err.Error(), "EgressProxy") {
		return withHint(&usageError{fmt.Errorf("--egress-proxy: %w", err)},
			"the SSRF guard refuses the proxy's address: list it with --allow-network, or drop --deny-private")
	}
	return err
}
