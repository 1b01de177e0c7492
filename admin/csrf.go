package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRF protection is a signed double submit: each browser gets a random
// cookie (HttpOnly, SameSite=Strict), and every form carries
// HMAC(key, cookie) under a key drawn from crypto/rand when the handler is
// built. A POST passes only when its form token matches its cookie.

type csrfCtxKey struct{}

const csrfCookieBytes = 32

// ensureCSRFCookie returns the CSRF token of the request's browser, setting a
// fresh cookie when the request has none (or a malformed one).
func (h *handler) ensureCSRFCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(CSRFCookieName); err == nil && validCookieValue(c.Value) {
		return h.csrfToken(c.Value)
	}
	b := make([]byte, csrfCookieBytes)
	if _, err := rand.Read(b); err != nil {
		panic("admin: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	value := base64.RawURLEncoding.EncodeToString(b)
	path := h.prefix + "/"
	http.SetCookie(w, &http.Cookie{
		Name:     CSRFCookieName,
		Value:    value,
		Path:     path,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	return h.csrfToken(value)
}

func validCookieValue(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == csrfCookieBytes
}

// csrfToken is the form token bound to a cookie value.
func (h *handler) csrfToken(cookie string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte("webhook-admin-csrf\x00"))
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF returns why a POST is refused, or "" when its token matches the
// browser's cookie (want is the token of that cookie).
func (h *handler) checkCSRF(r *http.Request, want string) string {
	const retry = " Reload the page and submit the form again."
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "The form was submitted from another site." + retry
	}
	c, err := r.Cookie(CSRFCookieName)
	if err != nil || !validCookieValue(c.Value) {
		return "The browser sent no security cookie with the form (cookies may be disabled)." + retry
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return "The form could not be read." + retry
	}
	got := r.PostForm.Get(csrfField)
	if got == "" {
		return "The form carries no security token." + retry
	}
	if !hmac.Equal([]byte(got), []byte(want)) {
		return "The form's security token does not match this browser's cookie." + retry
	}
	return ""
}

func csrfFromContext(r *http.Request) string {
	s, _ := r.Context().Value(csrfCtxKey{}).(string)
	return s
}
