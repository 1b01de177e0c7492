package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/scopehook/webhook"
)

// Every route is a handlerFunc behind one path of checks (serve): the
// Authorizer, the scope of the path against the caller's, the body's type
// and size, the Idempotency-Key; then the function returns a reply, or an
// error that fail turns into one.
type handlerFunc func(r *http.Request, c *call) (reply, error)

// bodyKind says what body a route takes.
type bodyKind int

const (
	// noBody: none, or an empty JSON object.
	noBody bodyKind = iota
	// optionalBody: a JSON object, or none.
	optionalBody
	// requiredBody: a JSON object.
	requiredBody
)

// route is one operation of the API. Its path is spelled as in the OpenAPI
// document, with the same names for its parameters.
type route struct {
	method string
	path   string
	// public routes need no Authorizer (the OpenAPI document).
	public bool
	// operator routes span scopes: a caller bound to a scope gets 403.
	operator bool
	body     bodyKind
	// mergePatch routes also take application/merge-patch+json.
	mergePatch bool
	// idempotent routes honour Idempotency-Key; POST routes that do not
	// refuse it (their response is not kept, as it holds a secret).
	idempotent bool
	fn         handlerFunc
}

// call is what the checks established about a request.
type call struct {
	principal Principal
	// scope is the scope of the path, for the routes under /scopes.
	scope webhook.Scope
	// body is the request body, empty when none was sent.
	body []byte
}

const scopePath = "/scopes/{scope_type}/{scope_code}"

func (h *handler) routeTable() []route {
	wh := scopePath + "/webhooks/{webhook_code}"
	dl := scopePath + "/deliveries"
	return []route{
		{method: http.MethodGet, path: "/openapi.json", public: true, fn: h.openAPI},
		{method: http.MethodGet, path: "/events", fn: h.listEvents},
		{method: http.MethodGet, path: "/webhooks", operator: true, fn: h.listAllWebhooks},
		{method: http.MethodGet, path: scopePath + "/webhooks", fn: h.listWebhooks},
		{method: http.MethodPost, path: scopePath + "/webhooks", body: requiredBody, idempotent: true, fn: h.createWebhook},
		{method: http.MethodGet, path: wh, fn: h.getWebhook},
		{method: http.MethodPatch, path: wh, body: requiredBody, mergePatch: true, fn: h.updateWebhook},
		{method: http.MethodDelete, path: wh, fn: h.deleteWebhook},
		{method: http.MethodPut, path: wh + "/events", body: requiredBody, fn: h.setEvents},
		{method: http.MethodPost, path: wh + "/test", idempotent: true, fn: h.testWebhook},
		{method: http.MethodPost, path: wh + "/rotate-secret", body: optionalBody, fn: h.rotateSecret},
		{method: http.MethodGet, path: wh + "/changes", fn: h.listChanges},
		{method: http.MethodGet, path: dl, fn: h.listDeliveries},
		{method: http.MethodPost, path: dl + "/redeliver-failed", body: optionalBody, idempotent: true, fn: h.redeliverFailed},
		{method: http.MethodGet, path: dl + "/{delivery_id}", fn: h.getDelivery},
		{method: http.MethodPost, path: dl + "/{delivery_id}/redeliver", idempotent: true, fn: h.redeliver},
	}
}

// buildMux registers each path once, with a dispatcher on the method, so
// that a known path asked with another method is a JSON 405.
func (h *handler) buildMux() *http.ServeMux {
	byPath := map[string]map[string]route{}
	var paths []string
	for _, rt := range h.routes {
		if byPath[rt.path] == nil {
			byPath[rt.path] = map[string]route{}
			paths = append(paths, rt.path)
		}
		byPath[rt.path][rt.method] = rt
	}
	m := http.NewServeMux()
	for _, p := range paths {
		methods := byPath[p]
		allow := make([]string, 0, len(methods))
		for meth := range methods {
			allow = append(allow, meth)
		}
		slices.Sort(allow)
		m.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			rt, ok := methods[r.Method]
			if !ok {
				rp := errorReply(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
					fmt.Sprintf("%s is not allowed on this path: use %s", r.Method, strings.Join(allow, ", ")),
					map[string]any{"allow": allow})
				rp.allow = strings.Join(allow, ", ")
				writeReply(w, rp)
				return
			}
			writeReply(w, h.serve(r, rt))
		})
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeReply(w, errorReply(http.StatusNotFound, CodeNotFound,
			"there is no API route at this path: see /openapi.json for the routes", nil))
	})
	return m
}

// serve runs the checks of a route, then the route.
func (h *handler) serve(r *http.Request, rt route) reply {
	c := &call{}
	if !rt.public {
		p, err := h.auth.Authorize(r)
		if err != nil {
			return h.authFailure(r, err)
		}
		if err := checkPrincipal(p, rt); err != nil {
			return h.fail(r, err)
		}
		c.principal = p
	}
	if strings.HasPrefix(rt.path, scopePath) {
		s := webhook.Scope{Type: r.PathValue("scope_type"), Code: r.PathValue("scope_code")}
		if !c.principal.mayUse(s) {
			return errorReply(http.StatusForbidden, CodeForbiddenScope,
				fmt.Sprintf("this caller may use scope %s only: ask for a link to the scope you need", c.principal.Scope), nil)
		}
		if err := checkScope(s); err != nil {
			return h.fail(r, err)
		}
		c.scope = s
	}
	if rt.method != http.MethodGet && rt.method != http.MethodDelete {
		body, err := h.readBody(r, rt)
		if err != nil {
			return h.fail(r, err)
		}
		c.body = body
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || rt.method != http.MethodPost {
		return h.run(r, rt, c)
	}
	if !rt.idempotent {
		return h.fail(r, badArg("Idempotency-Key", "this route does not take an Idempotency-Key: its response holds a secret, which is never kept; send If-Match with the webhook's ETag so that a retry cannot rotate twice"))
	}
	if err := checkIdempotencyKey(key); err != nil {
		return h.fail(r, err)
	}
	kept, finish, err := h.idem.begin(r.Context(), storeKey(c.principal, key), h.idem.fingerprint(r, c.body))
	if err != nil {
		return h.fail(r, err)
	}
	if kept != nil {
		return *kept
	}
	finished := false
	defer func() {
		if !finished { // a panic: forget the key, and let the waiters run
			finish(reply{status: http.StatusInternalServerError})
		}
	}()
	rp := h.run(r, rt, c)
	finished = true
	finish(rp)
	return rp
}

// run calls the route's function and turns its error into a reply.
func (h *handler) run(r *http.Request, rt route, c *call) reply {
	rp, err := rt.fn(r, c)
	if err != nil {
		return h.fail(r, err)
	}
	return rp
}

// checkPrincipal refuses a principal the route is not for.
func checkPrincipal(p Principal, rt route) error {
	if !p.Operator && (p.Scope.Type == "" || p.Scope.Code == "") {
		return newError(http.StatusForbidden, CodeForbiddenScope, "this caller is bound to no scope and is no operator: it may use no route but /openapi.json")
	}
	if rt.operator && !p.Operator {
		return newError(http.StatusForbidden, CodeForbiddenScope,
			fmt.Sprintf("%s %s spans every scope and is for operators: use the routes under /scopes/%s/%s", rt.method, rt.path, p.Scope.Type, p.Scope.Code))
	}
	return nil
}

// authFailure answers a request the Authorizer refused.
func (h *handler) authFailure(r *http.Request, err error) reply {
	if !errors.Is(err, ErrUnauthorized) && !errors.Is(err, webhook.ErrInvalidToken) {
		return h.fail(r, fmt.Errorf("api: the Authorizer failed: %w", err))
	}
	rp := errorReply(http.StatusUnauthorized, CodeUnauthorized, err.Error(), nil)
	if _, ok := h.auth.(portalTokens); ok {
		rp.challenge = bearerChallenge
	}
	return rp
}

// checkScope validates the scope of a path as the library does.
func checkScope(s webhook.Scope) error {
	for _, f := range []struct{ name, v string }{{"scope_type", s.Type}, {"scope_code", s.Code}} {
		if strings.TrimSpace(f.v) == "" || utf8.RuneCountInString(f.v) > 64 || !utf8.ValidString(f.v) {
			return badArg(f.name, fmt.Sprintf("%s must be 1 to 64 characters of UTF-8, not only spaces", f.name))
		}
	}
	return nil
}

// readBody reads the body of a route that takes one: at most MaxBodyBytes,
// JSON only.
func (h *handler) readBody(r *http.Request, rt route) ([]byte, error) {
	tooLarge := newError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
		fmt.Sprintf("the request body is over %d bytes: send a smaller one", h.maxBody))
	if r.ContentLength > h.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, badArg("", "the request body could not be read: send it again")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if rt.body == requiredBody {
			return nil, badArg("", "this route needs a JSON object as its body")
		}
		return nil, nil
	}
	if err := checkContentType(r.Header.Get("Content-Type"), rt.mergePatch); err != nil {
		return nil, err
	}
	if rt.body == noBody {
		var empty struct{}
		if err := decodeJSON(body, &empty); err != nil {
			return nil, badArg("", "this route takes no body (an empty JSON object at most): "+err.Error())
		}
		return nil, nil
	}
	return body, nil
}

// checkContentType accepts application/json (and, for PATCH,
// application/merge-patch+json), in UTF-8.
func checkContentType(ct string, mergePatch bool) error {
	want := "application/json"
	if mergePatch {
		want = "application/json or application/merge-patch+json"
	}
	refuse := newError(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
		fmt.Sprintf("the request body must be JSON: send it with Content-Type: %s", want))
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return refuse
	}
	if mt != "application/json" && !(mergePatch && mt == "application/merge-patch+json") {
		return refuse
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return refuse
	}
	return nil
}

// decodeJSON decodes one JSON object into v, refusing unknown fields and
// trailing data, with messages that name the field but never repeat a
// value (a body may hold credentials).
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badArg("", "the body holds more than one JSON value: send one object")
	}
	return nil
}

// jsonError describes a decoding error without the values of the body.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badArg("", fmt.Sprintf("the body is not valid JSON (at byte %d)", syn.Offset))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badArg("", fmt.Sprintf("the body is a JSON %s: send an object", typ.Value))
		}
		return badArg(field, fmt.Sprintf("%s is a JSON %s: want %s", field, typ.Value, jsonKind(typ.Type.Kind().String())))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badArg("", "the body is not valid JSON (it ends too early)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return unknownField(name)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return badArg("", "the body is not a valid request: see the request's schema in /openapi.json")
}

// unknownField is the error of a field a body may not have. The field is
// named only when it looks like a field name (lower-case letters and
// underscores): a key of a body may be a credential put in the wrong place.
func unknownField(name string) error {
	if !fieldLike(name) {
		return badArg("", "the body has a field this request does not take: see its schema in /openapi.json")
	}
	return badArg(name, fmt.Sprintf("unknown field %q: see the request's schema in /openapi.json", name))
}

func fieldLike(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}

// jsonKind names a Go kind as a JSON type.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "ptr", "interface":
		return "another type"
	}
	return "a number"
}

// ifMatch reads the If-Match header for the library's ChangeOptions.IfMatch.
// Only strong ETags match (RFC 9110); with several, the one that is current
// is used, and none current is 412.
func (h *handler) ifMatch(r *http.Request, c *call, code string) (string, error) {
	raw := strings.TrimSpace(strings.Join(r.Header.Values("If-Match"), ","))
	if raw == "" {
		return "", nil
	}
	if raw == "*" {
		return "*", nil
	}
	var tags []string
	for _, t := range strings.Split(raw, ",") {
		t = strings.TrimSpace(t)
		if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
			if strings.HasPrefix(t, "W/") {
				continue // a weak tag never matches for a change
			}
			return "", badArg("If-Match", `If-Match must be the ETag GET returned, quotes included ("…"), or *`)
		}
		tags = append(tags, t)
	}
	switch len(tags) {
	case 0:
		return "", newError(http.StatusPreconditionFailed, CodePreconditionFailed, "If-Match holds weak ETags only, which never match a change: send the ETag GET returned")
	case 1:
		return tags[0], nil
	}
	info, err := h.client.Webhook(r.Context(), c.scope, code)
	if err != nil {
		return "", err
	}
	if slices.Contains(tags, info.ETag) {
		return info.ETag, nil
	}
	return "", newError(http.StatusPreconditionFailed, CodePreconditionFailed,
		"the webhook changed since it was read: none of the ETags of If-Match is current; read it again and reapply the change")
}

// changeOptions are the library's options of a change: who and, with
// If-Match, on which version.
func (h *handler) changeOptions(r *http.Request, c *call, code string) (webhook.ChangeOptions, error) {
	tag, err := h.ifMatch(r, c, code)
	if err != nil {
		return webhook.ChangeOptions{}, err
	}
	return webhook.ChangeOptions{Actor: c.principal.actor(), IfMatch: tag}, nil
}
