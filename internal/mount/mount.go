// Package mount is what the library's HTTP handlers (packages admin, api and
// portal) share about the path they are mounted under: one rule for a valid
// prefix, and one way to strip it from a request.
package mount

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/scopehook/webhook"
)

// Clean validates a mount prefix and returns it without a trailing slash:
// "" (the root) or an absolute URL path such as example. reserved are the
// first path segments of the handler's own routes, which a prefix may not
// begin with (a request under it would be ambiguous). Errors wrap
// webhook.ErrInvalidConfig and name pkg.
func Clean(pkg, p, example string, reserved ...string) (string, error) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", nil
	}
	bad := !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//")
	for _, r := range p {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"'<>\?#%;,`+"`", r) {
			bad = true
		}
	}
	if u, err := url.Parse(p); err != nil || u.Scheme != "" || u.Host != "" {
		bad = true
	}
	if bad {
		return "", fmt.Errorf("%w: %s: Prefix %q is not an absolute URL path such as %q", webhook.ErrInvalidConfig, pkg, p, example)
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if slices.Contains(reserved, first) {
		return "", fmt.Errorf("%w: %s: Prefix %q begins with %q, the name of one of its own paths: a request under it would be ambiguous; choose another, such as %q",
			webhook.ErrInvalidConfig, pkg, p, first, example)
	}
	return p, nil
}

// Strip returns r with prefix removed from its path, or r itself when its
// path does not start with prefix (served at the root, or stripped already
// by http.StripPrefix).
func Strip(prefix string, r *http.Request) *http.Request {
	p := r.URL.Path
	if prefix == "" || (p != prefix && !strings.HasPrefix(p, prefix+"/")) {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path = strings.TrimPrefix(p, prefix)
	if u.Path == "" {
		u.Path = "/"
	}
	// A valid prefix holds no escapes, so the escaped path (kept for ids
	// with an escaped slash) starts with it too.
	if u.RawPath != "" {
		u.RawPath = strings.TrimPrefix(u.RawPath, prefix)
		if u.RawPath == "" {
			u.RawPath = "/"
		}
	}
	r2.URL = &u
	return r2
}
