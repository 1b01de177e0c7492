package mount

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"": "", "/": "", "/admin/": "/admin", "/ops/webhooks": "/ops/webhooks"} {
		if got, err := Clean("admin", in, "/admin", "static"); err != nil || got != want {
			t.Errorf("Clean(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"admin", "//evil.example", "/a b", "/a?x", "/a#x", "/a%2f", "/a;b", "/<x>", "/static", "/static/x", "http://x/y"} {
		_, err := Clean("admin", in, "/admin", "static")
		if !errors.Is(err, webhook.ErrInvalidConfig) || !strings.Contains(err.Error(), "admin: Prefix") {
			t.Errorf("Clean(%q) = %v, want ErrInvalidConfig naming the package", in, err)
		}
	}
}

func TestStrip(t *testing.T) {
	for path, want := range map[string]string{"/admin": "/", "/admin/": "/", "/admin/x/y": "/x/y", "/x": "/x", "/administrator": "/administrator"} {
		r := httptest.NewRequest("GET", path, nil)
		if got := Strip("/admin", r).URL.Path; got != want {
			t.Errorf("Strip(%q) = %q, want %q", path, got, want)
		}
		if r.URL.Path != path {
			t.Errorf("Strip changed the caller's request: %q", r.URL.Path)
		}
	}
	if got := Strip("/admin", httptest.NewRequest("GET", "/admin/deliveries/a%2Fb", nil)); got.URL.Path != "/deliveries/a/b" || got.URL.EscapedPath() != "/deliveries/a%2Fb" {
		t.Errorf("an escaped slash: path %q, escaped %q", got.URL.Path, got.URL.EscapedPath())
	}
	if r := httptest.NewRequest("GET", "/x", nil); Strip("", r) != r {
		t.Error("Strip with no prefix copied the request")
	}
}
