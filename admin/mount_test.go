package admin_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// Mounting needs one setting: with Prefix "/admin" the handler works both
// mounted as it is and behind http.StripPrefix, and its links carry the
// prefix either way.
func TestMountWithOneSetting(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{})
	h, err := admin.NewHandler(c, admin.Options{Prefix: "/admin", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	plain := http.NewServeMux()
	plain.Handle("/admin/", h)
	stripped := http.NewServeMux()
	stripped.Handle("/admin/", http.StripPrefix("/admin", h))
	for name, mux := range map[string]*http.ServeMux{"as it is": plain, "behind StripPrefix": stripped} {
		srv := httptest.NewServer(mux)
		client := &http.Client{Timeout: 10 * time.Second}
		for _, path := range []string{"/admin/", "/admin/webhooks", "/admin/deliveries", "/admin/static/admin.css"} {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: GET %s = %d", name, path, resp.StatusCode)
			}
			if strings.HasSuffix(path, "/webhooks") && !strings.Contains(string(body), `href="/admin/deliveries`) {
				t.Errorf("%s: the webhooks page has no link under /admin", name)
			}
		}
		srv.Close()
	}
	// A prefix that starts like one of the pages would be ambiguous.
	if _, err := admin.NewHandler(c, admin.Options{Prefix: "/webhooks", Insecure: true}); !errors.Is(err, webhook.ErrInvalidConfig) {
		t.Errorf("Prefix /webhooks: %v, want ErrInvalidConfig", err)
	}
}
