package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scopehook/webhook"
)

// Sessions. A portal link carries a portal token once, in its query
// (?token=…). The handler verifies it, stores the token itself in the
// session cookie (HttpOnly, SameSite=Strict, Secure over TLS, Path the
// prefix), and answers with a page that moves on, by a meta refresh and a
// link, to the same address without the token. A redirect would not do:
// a SameSite=Strict cookie is not sent on a redirect that continues a
// navigation begun on another site (the mail or the host application the
// link was clicked in), whereas a refresh from the portal's own page is a
// same-site navigation. Every request then verifies the cookie's token with
// webhook.Client.VerifyPortalToken: its signature and its expiry are the
// session, and its scope the only one any page shows or changes.
//
// CSRF. Every form carries HMAC-SHA256 of the session's token under a fixed
// domain-separation key: it is unforgeable without the token, which the
// HttpOnly cookie keeps from scripts, and it needs no state, so a form
// posts to any instance of the service, before or after a restart. A POST
// passes only when its form token matches its cookie, and not when the
// browser says it comes from another site (Sec-Fetch-Site). The
// SameSite=Strict cookie already keeps other sites' forms without a
// session.

// reqState is what a request carries through the handlers.
type reqState struct {
	lang   *lang
	scope  webhook.Scope
	token  string
	csrf   string
	expiry time.Time
	authed bool
}

type stateKey struct{}

func withState(ctx context.Context, st *reqState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

// stateOf returns the request's state; a request that did not pass through
// ServeHTTP gets an English one without a session.
func stateOf(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{lang: newLang(English, catalogEN())}
}

// csrfKey separates the CSRF tokens' HMAC from any other use of the token.
const csrfKey = "scopehook webhook portal csrf v1"

// csrfField is the name of the hidden form field carrying the CSRF token.
const csrfField = "csrf_token"

// csrfToken is the form token of a session.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(csrfKey))
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setSession stores a verified token in the session cookie.
func (h *handler) setSession(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	maxAge := expires.Sub(h.now())
	if h.ttl > 0 && h.ttl < maxAge {
		maxAge = h.ttl
	}
	secs := int(maxAge / time.Second)
	if secs < 1 {
		secs = 1
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookieName, Value: token, Path: h.prefix + "/", MaxAge: secs,
		HttpOnly: true, Secure: h.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// clearSession removes the session cookie.
func (h *handler) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookieName, Value: "", Path: h.prefix + "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// tokenProblem says why a token is refused: expired, or not valid.
func (h *handler) tokenProblem(l *lang, claims webhook.PortalClaims, err error) *requestError {
	// VerifyPortalToken returns the claims of a token that is well signed
	// but expired, and none otherwise.
	if errors.Is(err, webhook.ErrInvalidToken) && !claims.ExpiresAt.IsZero() {
		return &requestError{status: http.StatusUnauthorized, heading: "err.expired.heading", msg: l.T("err.expired.msg", h.serviceName(l))}
	}
	return &requestError{status: http.StatusUnauthorized, heading: "err.badlink.heading", msg: l.T("err.badlink.msg", h.serviceName(l))}
}

// serviceName is Options.ServiceName, or a phrase naming none.
func (h *handler) serviceName(l *lang) string {
	if h.service != "" {
		return h.service
	}
	return l.T("service.default")
}

// landingData is the page that follows a portal link.
type landingData struct {
	Next string
}

// land starts a session from a portal link: it verifies the token, sets the
// cookie and answers with a page that moves on to the address without the
// token.
func (h *handler) land(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r)
	q := r.URL.Query()
	token := q.Get(TokenParam)
	claims, err := h.client.VerifyPortalToken(token)
	if err != nil {
		h.log.Info("portal: link refused", "err", err)
		h.fail(w, r, h.tokenProblem(st.lang, claims, err))
		return
	}
	h.setSession(w, r, token, claims.ExpiresAt)
	q.Del(TokenParam)
	// One leading slash: "//host" would leave the portal.
	u := url.URL{Path: h.prefix + "/" + strings.TrimLeft(r.URL.Path, `/\`), RawQuery: q.Encode()}
	next := u.String()
	st.scope, st.authed = claims.Scope, false
	h.log.Info("portal: session started", "scope", claims.Scope.String(), "expires", claims.ExpiresAt)
	if err := h.renderStatus(w, r, http.StatusOK, "landing", st.lang.T("landing.title"), "", landingData{Next: next}); err != nil {
		h.fail(w, r, err)
	}
}

// authenticate checks the session cookie; it writes the refusal (401) and
// returns false when there is no valid session.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request, st *reqState) bool {
	c, err := r.Cookie(SessionCookieName)
	if err != nil || c.Value == "" {
		h.fail(w, r, &requestError{status: http.StatusUnauthorized, heading: "err.nosession.heading", msg: st.lang.T("err.nosession.msg", h.serviceName(st.lang))})
		return false
	}
	claims, err := h.client.VerifyPortalToken(c.Value)
	if err != nil {
		h.clearSession(w, r)
		h.fail(w, r, h.tokenProblem(st.lang, claims, err))
		return false
	}
	st.scope, st.token, st.expiry, st.authed = claims.Scope, c.Value, claims.ExpiresAt, true
	st.csrf = csrfToken(c.Value)
	return true
}

// checkCSRF returns why a POST is refused, or "" when its form token
// matches the session.
func (h *handler) checkCSRF(r *http.Request, st *reqState) string {
	l := st.lang
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return l.T("err.csrf.site")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return l.T("err.csrf.form")
	}
	got := r.PostForm.Get(csrfField)
	if got == "" {
		return l.T("err.csrf.missing")
	}
	if !hmac.Equal([]byte(got), []byte(st.csrf)) {
		return l.T("err.csrf.mismatch")
	}
	return ""
}

// checkScopeParams refuses a request whose query or form names a scope
// other than the session's: the portal's addresses never need one, so one
// that is there was written for another scope.
func (h *handler) checkScopeParams(r *http.Request, st *reqState) error {
	forms := []url.Values{r.URL.Query()}
	if r.PostForm != nil {
		forms = append(forms, r.PostForm)
	}
	for _, f := range forms {
		for name, want := range map[string]string{"scope_type": st.scope.Type, "scope_code": st.scope.Code, "scope": st.scope.String()} {
			for _, v := range f[name] {
				if v != want && !(name == "scope" && v == st.scope.Type+":"+st.scope.Code) {
					return &requestError{status: http.StatusForbidden, heading: "err.scope.heading", msg: st.lang.T("err.scope.msg")}
				}
			}
		}
	}
	return nil
}

// logout ends the session (POST /logout).
func (h *handler) logout(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	h.clearSession(w, r)
	h.log.Info("portal: signed out", "scope", st.scope.String())
	st.authed = false
	return h.renderStatus(w, r, http.StatusOK, "message", st.lang.T("logout.title"), "",
		messageData{Heading: st.lang.T("logout.title"), Message: st.lang.T("logout.msg", h.serviceName(st.lang))})
}
