package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// TestOneErrorPath sends errors of every kind through fail: requestError
// shows its status and message, the library's not-found sentinels are 404,
// ErrInvalidArgument 400, anything else a 500 that shows what failed but
// not the error, which is logged.
func TestOneErrorPath(t *testing.T) {
	t.Parallel()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "e.db")), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	c, err := webhook.New(db, webhook.Config{PrivateSecret: "admin-test-private-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	hh, err := NewHandler(c, Options{Insecure: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := hh.(*handler)
	secret := errors.New("dial tcp 10.0.0.7:5432: password authentication failed for user svc")
	for _, tc := range []struct {
		err    error
		status int
		want   string
	}{
		{badInput("status must be %s.", "pending"), http.StatusBadRequest, "status must be pending."},
		{deliveryMissing("d-1", ""), http.StatusNotFound, "No delivery and no attempt has the delivery id &#34;d-1&#34;"},
		{webhookMissing("biz", "b1", "wh"), http.StatusNotFound, "No webhook &#34;wh&#34; in scope &#34;biz/b1&#34;"},
		{fmt.Errorf("x: %w", webhook.ErrDeliveryNotFound), http.StatusNotFound, "Delivery not found"},
		{htmlview.Failed("close the circuit", webhook.ErrWebhookNotFound), http.StatusNotFound, "Webhook not found"},
		{htmlview.Failed("load the deliveries", fmt.Errorf("%w: bad cursor", webhook.ErrInvalidArgument)), http.StatusBadRequest, "bad cursor"},
		{htmlview.Failed("load the deliveries", secret), http.StatusInternalServerError, "The admin could not load the deliveries."},
		{secret, http.StatusInternalServerError, "The admin could not serve this page."},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/x", nil)
		h.serve(func(http.ResponseWriter, *http.Request) error { return tc.err })(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%v: %d, want %d with %q:\n%s", tc.err, rec.Code, tc.status, tc.want, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "password authentication") {
			t.Errorf("%v: the page shows the error", tc.err)
		}
	}
	if !strings.Contains(logs.String(), "password authentication failed") || !strings.Contains(logs.String(), "ref=") {
		t.Errorf("the 500s were not logged with a reference:\n%s", logs.String())
	}
}
