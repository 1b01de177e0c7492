package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// Every page and action is a handlerFunc: it writes its response, or returns
// an error that fail, the one error path, turns into the error page.
//
//   - requestError: something the operator asked for that cannot be done (a
//     bad parameter, a refused form, a missing record): its status and its
//     message are shown.
//   - webhook.ErrDeliveryNotFound, webhook.ErrWebhookNotFound: 404.
//   - webhook.ErrInvalidArgument: 400 with the library's explanation.
//   - anything else: 500 with a reference; the error itself is logged, never
//     shown.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// requestError is an error shown to the operator as it is, with its status.
type requestError struct {
	status  int
	heading string
	msg     string
	err     error // the library's sentinel it stands for, if any
}

func (e *requestError) Error() string { return e.msg }

func (e *requestError) Unwrap() error { return e.err }

// badInput is a 400 Bad Request saying what is wrong with the request.
func badInput(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, heading: "Bad request", msg: fmt.Sprintf(format, args...)}
}

// deliveryMissing is the 404 of a delivery id nothing is known of.
func deliveryMissing(id, consequence string) error {
	return &requestError{
		status: http.StatusNotFound, heading: "Delivery not found", err: webhook.ErrDeliveryNotFound,
		msg: "No delivery and no attempt has the delivery id " + strconv.Quote(htmlview.Clip(id, 80)) + consequence +
			". Check the id, or search for it on the Deliveries page (history may have been pruned).",
	}
}

// webhookMissing is the 404 of a webhook a form names.
func webhookMissing(scopeType, scopeCode, code string) error {
	return &requestError{
		status: http.StatusNotFound, heading: "Webhook not found", err: webhook.ErrWebhookNotFound,
		msg: "No webhook " + strconv.Quote(htmlview.Clip(code, 80)) + " in scope " + strconv.Quote(htmlview.Clip(scopeType+"/"+scopeCode, 80)) +
			": it may have been removed since the page was loaded. Reload the webhooks page.",
	}
}

// serve adapts a handlerFunc to net/http through the one error path.
func (h *handler) serve(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

// fail answers a request with the error page err calls for.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		h.errorPage(w, r, re.status, re.heading, re.msg)
	case errors.Is(err, webhook.ErrDeliveryNotFound):
		h.errorPage(w, r, http.StatusNotFound, "Delivery not found", "The delivery does not exist (any more). Search for it on the Deliveries page.")
	case errors.Is(err, webhook.ErrWebhookNotFound):
		h.errorPage(w, r, http.StatusNotFound, "Webhook not found", "The webhook does not exist (any more). Reload the webhooks page.")
	case errors.Is(err, webhook.ErrInvalidArgument):
		h.errorPage(w, r, http.StatusBadRequest, "Bad request", "The request was refused: "+err.Error())
	default:
		op := htmlview.OpOf(err, "serve this page")
		ref := htmlview.NewRef()
		h.log.Error("admin: "+op, "ref", ref, "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"The admin could not "+op+". The error was logged with reference "+ref+
				": look for it in the service's log. A database that is down or unreachable is the usual cause; reload the page once it is back.")
	}
}
