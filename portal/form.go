package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The endpoint form, to add an endpoint (GET /endpoints/new, POST
// /endpoints) or change one (GET and POST /endpoints/{code}/edit): name,
// URL (checked by the SSRF guard, and optionally by a test request before
// saving), method and body type, the events from the catalog, custom
// headers and auth with write-only values, and, for a new endpoint, a
// signing secret shown once. Edits carry the ETag they were read at.

// Form limits.
const (
	// newHeaderRows is the number of empty header rows the form offers.
	newHeaderRows = 2
	// maxHeaders bounds the headers a form may carry.
	maxHeaders = 32
	// checkTimeout bounds the SSRF check's name resolution.
	checkTimeout = 5 * time.Second
)

// validCode reports whether s may be a new endpoint's code: 1 to 64
// letters, digits, '-', '_' or '.', starting with a letter or a digit.
func validCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if !alnum && (i == 0 || b != '-' && b != '_' && b != '.') {
			return false
		}
	}
	return true
}

// contentTypes are the body types the form offers.
func contentTypes() []string {
	return []string{"application/json", "application/x-www-form-urlencoded"}
}

type eventChoice struct {
	Code, Name, Description string
	Checked                 bool
}

// headerField is one row of the headers: a stored header (Stored: its
// value is kept when the field is left empty) or a new one. Its value is
// unexported: a template cannot render it.
type headerField struct {
	Index  int
	Key    string
	Stored bool
	Remove bool
	value  string
}

// endpointForm is the form as shown, and as read back. Secret values are
// unexported fields, which templates cannot reach: a page never carries
// them back to the browser.
type endpointForm struct {
	New                     bool
	Action, Cancel          string
	Code, Name, Endpoint    string
	Method, ContentType     string
	ContentTypes            []string
	Enabled                 bool
	Events                  []eventChoice
	AllEvents               bool
	NoCatalog               bool
	Headers, NewHeaders     []headerField
	AuthType, Username      string
	HasToken, HasPassword   bool
	Sign                    bool
	Test                    bool
	ETag                    string
	Errors                  []string
	Retype                  bool
	TestResult              *testView
	Secrets                 int
	SecretLink, DeleteLink  string
	TestLink, DeliveriesURL string

	events          []string
	token, password string
	// storedType is the stored body type, offered even when it is none of
	// contentTypes (a service may set another).
	storedType string
}

// newCode is a fresh endpoint code, proposed by the form.
func newCode() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "ep-" + hex.EncodeToString(b)
}

// catalogChoices are the catalog's events as checkboxes, checked as
// events says.
func (h *handler) catalogChoices(ctx context.Context, events []string) ([]eventChoice, error) {
	all, err := h.client.Events(ctx)
	if err != nil {
		return nil, htmlview.Failed("load the events", err)
	}
	out := make([]eventChoice, 0, len(all))
	for _, e := range all {
		out = append(out, eventChoice{Code: e.Code, Name: e.Name, Description: e.Description, Checked: contains(events, e.Code)})
	}
	return out, nil
}

func (h *handler) newEndpoint(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	f := &endpointForm{New: true, Code: newCode(), Method: "POST", ContentType: contentTypes()[0], Enabled: true, Sign: true}
	if err := h.fillForm(r.Context(), f); err != nil {
		return err
	}
	return h.renderForm(w, r, http.StatusOK, f, st.lang.T("form.new.title"))
}

func (h *handler) editEndpoint(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	wh, err := h.loadEndpoint(r)
	if err != nil {
		return err
	}
	f := h.formOf(r.Context(), st, wh)
	if err := h.fillForm(r.Context(), f); err != nil {
		return err
	}
	return h.renderForm(w, r, http.StatusOK, f, st.lang.T("form.edit.title", wh.Name))
}

// formOf is the form of a stored webhook.
func (h *handler) formOf(ctx context.Context, st *reqState, wh webhook.WebhookInfo) *endpointForm {
	f := &endpointForm{
		Code: wh.Code, Name: wh.Name, Endpoint: wh.Endpoint, Method: wh.Method, ContentType: wh.ContentType,
		Enabled: wh.Enabled, AuthType: wh.AuthType, HasToken: wh.HasToken, HasPassword: wh.HasPassword,
		ETag: wh.ETag, Secrets: wh.SigningSecrets, events: wh.Events,
	}
	if f.ContentType == "" {
		f.ContentType = contentTypes()[0]
	}
	f.storedType = f.ContentType
	f.AllEvents = contains(wh.Events, webhook.AllEvents)
	for i, k := range wh.HeaderKeys {
		f.Headers = append(f.Headers, headerField{Index: i, Key: k, Stored: true})
	}
	if wh.AuthType == "basic" {
		// WebhookInfo has no user name: read it from the stored
		// configuration (only it is used; nothing secret leaves here).
		if stored, err := h.storedConfig(ctx, st.scope, wh.Code); err == nil && stored.Auth != nil {
			f.Username = stored.Auth.Username
		}
	}
	return f
}

// storedConfig is the webhook's configuration with its credentials, for
// the test request of an edit and the basic-auth user name; it never
// reaches a page.
func (h *handler) storedConfig(ctx context.Context, scope webhook.Scope, code string) (webhook.WebhookConfig, error) {
	all, err := h.client.ScopeWebhooks(ctx, scope.Type, scope.Code)
	if err != nil {
		return webhook.WebhookConfig{}, err
	}
	for _, wh := range all {
		if wh.Code == code {
			return wh, nil
		}
	}
	return webhook.WebhookConfig{}, webhook.ErrWebhookNotFound
}

// fillForm sets what the form shows besides its values: the catalog, the
// empty header rows, the links.
func (h *handler) fillForm(ctx context.Context, f *endpointForm) error {
	var err error
	if f.Events, err = h.catalogChoices(ctx, f.events); err != nil {
		return err
	}
	f.NoCatalog = len(f.Events) == 0
	f.ContentTypes = contentTypes()
	if f.storedType != "" && !contains(f.ContentTypes, f.storedType) {
		f.ContentTypes = append(f.ContentTypes, f.storedType)
	}
	for len(f.NewHeaders) < newHeaderRows {
		f.NewHeaders = append(f.NewHeaders, headerField{})
	}
	for i := range f.NewHeaders {
		f.NewHeaders[i].Index = i
	}
	if f.New {
		f.Action, f.Cancel = h.u("/endpoints"), h.u("/")
	} else {
		f.Action, f.Cancel = h.endpointLink(f.Code, "edit"), h.u("/")
		f.SecretLink, f.DeleteLink, f.TestLink = h.endpointLink(f.Code, "secret"), h.endpointLink(f.Code, "delete"), h.endpointLink(f.Code, "test")
		f.DeliveriesURL = h.link("/deliveries", values("endpoint", f.Code))
	}
	return nil
}

func (h *handler) renderForm(w http.ResponseWriter, r *http.Request, status int, f *endpointForm, title string) error {
	return h.renderStatus(w, r, status, "form", title, "endpoints", f)
}

// readForm reads the posted form into f (whose stored fields, for an
// edit, are those of the webhook) and returns what is wrong with it.
func readForm(l *lang, form url.Values, f *endpointForm, catalog map[string]string) []string {
	var errs []string
	get := func(name string) string { return strings.TrimSpace(form.Get(name)) }
	if f.New {
		f.Code = get("code")
		if !validCode(f.Code) {
			errs = append(errs, l.T("form.err.code"))
		}
	}
	f.Name, f.Endpoint = get("name"), get("endpoint")
	switch {
	case f.Name == "":
		errs = append(errs, l.T("form.err.name"))
	case utf8.RuneCountInString(f.Name) > 255 || !utf8.ValidString(f.Name):
		errs = append(errs, l.T("form.err.name.long"))
	}
	if f.Endpoint == "" {
		errs = append(errs, l.T("form.err.url.empty"))
	}
	f.Method = strings.ToUpper(get("method"))
	if f.Method != "POST" && f.Method != "GET" {
		errs = append(errs, l.T("form.err.method"))
	}
	f.ContentType = get("content_type")
	if !contains(contentTypes(), f.ContentType) && (f.storedType == "" || f.ContentType != f.storedType) {
		errs = append(errs, l.T("form.err.contenttype"))
	}
	f.Enabled = form.Get("enabled") == "on"
	f.events = nil
	f.AllEvents = false
	for _, e := range form["events"] {
		switch _, known := catalog[e]; {
		case e == webhook.AllEvents:
			f.AllEvents = true
		case known:
			if !contains(f.events, e) {
				f.events = append(f.events, e)
			}
		default:
			errs = append(errs, l.T("form.err.event", htmlview.Clip(e, 60)))
		}
	}
	if f.AllEvents {
		f.events = append([]string{webhook.AllEvents}, f.events...)
	}
	// Stored headers: their keys as the webhook has them, each with a new
	// value (empty keeps the stored one) or marked for removal.
	stored := map[string]bool{}
	for _, hf := range f.Headers {
		stored[http.CanonicalHeaderKey(hf.Key)] = true
	}
	f.Headers = f.Headers[:0]
	seen := map[string]bool{}
	for i := 0; i < maxHeaders; i++ {
		idx := strconv.Itoa(i)
		key := get("hk" + idx)
		if key == "" {
			break
		}
		if !stored[http.CanonicalHeaderKey(key)] {
			errs = append(errs, l.T("form.err.header.unknown", htmlview.Clip(key, 60)))
			continue
		}
		seen[http.CanonicalHeaderKey(key)] = true
		f.Headers = append(f.Headers, headerField{Index: len(f.Headers), Key: key, Stored: true, Remove: form.Get("hr"+idx) == "on", value: form.Get("hv" + idx)})
	}
	f.NewHeaders = f.NewHeaders[:0]
	for i := 0; i < newHeaderRows; i++ {
		idx := strconv.Itoa(i)
		key, value := get("nk"+idx), form.Get("nv"+idx)
		if key == "" && value == "" {
			continue
		}
		switch {
		case key == "":
			errs = append(errs, l.T("form.err.header.key"))
		case value == "":
			errs = append(errs, l.T("form.err.header.value", htmlview.Clip(key, 60)))
		case seen[http.CanonicalHeaderKey(key)]:
			errs = append(errs, l.T("form.err.header.twice", htmlview.Clip(key, 60)))
		}
		seen[http.CanonicalHeaderKey(key)] = true
		f.NewHeaders = append(f.NewHeaders, headerField{Key: key, value: value})
	}
	storedType, storedToken := f.AuthType, f.HasToken
	f.AuthType, f.Username = get("auth_type"), get("auth_username")
	f.token, f.password = form.Get("auth_token"), form.Get("auth_password")
	switch f.AuthType {
	case "":
	case "bearer":
		if f.token == "" && !(storedType == "bearer" && storedToken) {
			errs = append(errs, l.T("form.err.token"))
		}
	case "basic":
		if f.Username == "" {
			errs = append(errs, l.T("form.err.username"))
		}
	default:
		errs = append(errs, l.T("form.err.authtype"))
	}
	f.Sign = f.New && form.Get("sign") == "on"
	f.Test = form.Get("test") == "on"
	f.ETag = form.Get("etag")
	return errs
}

// typedSecrets reports whether the form carried a secret value, which a
// form shown again does not keep.
func (f *endpointForm) typedSecrets() bool {
	if f.token != "" || f.password != "" {
		return true
	}
	for _, hf := range append(append([]headerField{}, f.Headers...), f.NewHeaders...) {
		if hf.value != "" {
			return true
		}
	}
	return false
}

// headersChanged reports whether the form changes the headers: one
// removed, added, or given a new value.
func (f *endpointForm) headersChanged() bool {
	return len(f.NewHeaders) > 0 || slices.ContainsFunc(f.Headers, func(hf headerField) bool { return hf.Remove || hf.value != "" })
}

// headerList is the headers the form keeps, stored ones with "" for a
// value that is kept.
func (f *endpointForm) headerList() []webhook.Header {
	var hs []webhook.Header
	for _, hf := range f.Headers {
		if !hf.Remove {
			hs = append(hs, webhook.Header{Key: hf.Key, Value: hf.value})
		}
	}
	for _, hf := range f.NewHeaders {
		hs = append(hs, webhook.Header{Key: hf.Key, Value: hf.value})
	}
	return hs
}

// auth is the form's authentication; secrets left empty are "" (kept by
// UpdateWebhook when the type is unchanged).
func (f *endpointForm) auth() *webhook.Auth {
	switch f.AuthType {
	case "bearer":
		return &webhook.Auth{Type: "bearer", Token: f.token}
	case "basic":
		return &webhook.Auth{Type: "basic", Username: f.Username, Password: f.password}
	}
	return nil
}

// contentType is the form's body type as WebhookConfig stores it.
func (f *endpointForm) contentType() string {
	if f.ContentType == contentTypes()[0] {
		return ""
	}
	return f.ContentType
}

// config is the form as a new webhook.
func (f *endpointForm) config() webhook.WebhookConfig {
	return webhook.WebhookConfig{Code: f.Code, Name: f.Name, Endpoint: f.Endpoint, Method: f.Method,
		ContentType: f.contentType(), Disabled: !f.Enabled, Headers: f.headerList(), Auth: f.auth()}
}

// merged is the stored configuration with the form applied, secrets left
// empty kept: what a test request of an edit sends.
func (f *endpointForm) merged(stored webhook.WebhookConfig) webhook.WebhookConfig {
	wh := f.config()
	wh.Code, wh.SigningSecrets, wh.Params, wh.Data = stored.Code, stored.SigningSecrets, stored.Params, stored.Data
	wh.Timeout, wh.RetryTimes, wh.RetryInterval, wh.InsecureSkipVerify = stored.Timeout, stored.RetryTimes, stored.RetryInterval, stored.InsecureSkipVerify
	old := map[string]string{}
	for _, hd := range stored.Headers {
		old[http.CanonicalHeaderKey(hd.Key)] = hd.Value
	}
	for i, hd := range wh.Headers {
		if hd.Value == "" {
			wh.Headers[i].Value = old[http.CanonicalHeaderKey(hd.Key)]
		}
	}
	if wh.Auth != nil && stored.Auth != nil && strings.EqualFold(wh.Auth.Type, stored.Auth.Type) {
		if wh.Auth.Token == "" {
			wh.Auth.Token = stored.Auth.Token
		}
		if wh.Auth.Password == "" {
			wh.Auth.Password = stored.Auth.Password
		}
	}
	return wh
}

// checkURL runs the SSRF guard on the form's URL and says what is wrong,
// or "".
func (h *handler) checkURL(ctx context.Context, l *lang, endpoint string) string {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := h.client.CheckEndpoint(ctx, endpoint)
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, webhook.ErrForbiddenAddress):
		return l.T("form.err.url.forbidden")
	case errors.Is(err, webhook.ErrInvalidWebhook):
		return l.T("form.err.url.invalid", libMessage(err))
	case errors.As(err, &dnsErr):
		return l.T("form.err.url.resolve", dnsErr.Name)
	}
	return l.T("form.err.url.check", libMessage(err))
}

// libMessage is a library error without its "webhook: …:" prefixes.
func libMessage(err error) string {
	s := err.Error()
	for _, p := range []string{"webhook: invalid webhook: ", "webhook: invalid subscription: ", "webhook: invalid argument: ", "webhook: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// formError shows the form again with its problems; the secret values
// typed are not put back.
func (h *handler) formError(w http.ResponseWriter, r *http.Request, f *endpointForm, title string, errs []string) error {
	f.Errors, f.Retype = errs, f.typedSecrets()
	if err := h.fillForm(r.Context(), f); err != nil {
		return err
	}
	return h.renderForm(w, r, http.StatusUnprocessableEntity, f, title)
}

func (h *handler) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	ctx := r.Context()
	l := st.lang
	catalog, err := h.eventNames(ctx)
	if err != nil {
		return err
	}
	title := l.T("form.new.title")
	f := &endpointForm{New: true}
	if errs := readForm(l, r.PostForm, f, catalog); len(errs) > 0 {
		return h.formError(w, r, f, title, errs)
	}
	if msg := h.checkURL(ctx, l, f.Endpoint); msg != "" {
		return h.formError(w, r, f, title, []string{msg})
	}
	wh := f.config()
	var secret string
	if f.Sign {
		if secret, err = webhook.NewSigningSecret(); err != nil {
			return htmlview.Failed("make a signing secret", err)
		}
		wh.SigningSecrets = []string{secret}
	}
	if f.Test {
		res, err := h.client.VerifyEndpoint(ctx, wh)
		if err != nil || res == nil || !res.Success {
			f.TestResult = testViewOf(res, err)
			return h.formError(w, r, f, title, []string{l.T("form.err.test")})
		}
	}
	info, err := h.client.CreateWebhook(ctx, st.scope, wh, f.events, webhook.ChangeOptions{Actor: actor(st)})
	switch {
	case errors.Is(err, webhook.ErrWebhookExists):
		return h.formError(w, r, f, title, []string{l.T("form.err.exists", f.Code)})
	case errors.Is(err, webhook.ErrInvalidWebhook), errors.Is(err, webhook.ErrInvalidSubscription):
		return h.formError(w, r, f, title, []string{l.T("form.err.invalid", libMessage(err))})
	case err != nil:
		return htmlview.Failed("save the endpoint", err)
	}
	h.log.Info("portal: endpoint created", "scope", st.scope.String(), "code", info.Code)
	if secret == "" {
		h.redirect(w, r, "/", values("msg", "created"))
		return nil
	}
	return h.renderStatus(w, r, http.StatusCreated, "secret", l.T("secret.created.heading"), "endpoints", secretData{
		Heading: l.T("secret.created.heading"), Intro: l.T("secret.created.intro"), Code: info.Code, Name: info.Name, Secret: secret, Back: h.u("/"),
	})
}

func (h *handler) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	ctx := r.Context()
	l := st.lang
	wh, err := h.loadEndpoint(r)
	if err != nil {
		return err
	}
	catalog, err := h.eventNames(ctx)
	if err != nil {
		return err
	}
	title := l.T("form.edit.title", wh.Name)
	f := h.formOf(ctx, st, wh)
	if errs := readForm(l, r.PostForm, f, catalog); len(errs) > 0 {
		return h.formError(w, r, f, title, errs)
	}
	if f.ETag != wh.ETag {
		return h.conflict(l, wh.Code)
	}
	if f.Endpoint != wh.Endpoint {
		if msg := h.checkURL(ctx, l, f.Endpoint); msg != "" {
			return h.formError(w, r, f, title, []string{msg})
		}
	}
	if f.Test {
		stored, err := h.storedConfig(ctx, st.scope, wh.Code)
		if err != nil {
			f.TestResult = &testView{Error: l.T("form.err.test.stored")}
			return h.formError(w, r, f, title, []string{l.T("form.err.test")})
		}
		res, err := h.client.VerifyEndpoint(ctx, f.merged(stored))
		if err != nil || res == nil || !res.Success {
			f.TestResult = testViewOf(res, err)
			return h.formError(w, r, f, title, []string{l.T("form.err.test")})
		}
	}
	patch := webhook.WebhookPatch{Name: &f.Name, Endpoint: &f.Endpoint, Method: &f.Method, Enabled: &f.Enabled, Events: &f.events}
	ct := f.contentType()
	patch.ContentType = &ct
	if f.headersChanged() {
		hs := f.headerList()
		if hs == nil {
			hs = []webhook.Header{}
		}
		// The operators' notes on the headers (Header.Doc) are kept.
		if stored, err := h.storedConfig(ctx, st.scope, wh.Code); err == nil {
			for i := range hs {
				for _, old := range stored.Headers {
					if http.CanonicalHeaderKey(old.Key) == http.CanonicalHeaderKey(hs[i].Key) {
						hs[i].Doc = old.Doc
					}
				}
			}
		}
		patch.Headers = &hs
	}
	if a := f.auth(); a != nil {
		patch.Auth = a
	} else if wh.AuthType != "" {
		patch.ClearAuth = true
	}
	if f.events == nil {
		patch.Events = &[]string{}
	}
	_, err = h.client.UpdateWebhook(ctx, st.scope, wh.Code, patch, webhook.ChangeOptions{Actor: actor(st), IfMatch: f.ETag})
	switch {
	case errors.Is(err, webhook.ErrPreconditionFailed):
		return h.conflict(l, wh.Code)
	case errors.Is(err, webhook.ErrWebhookNotFound):
		return err
	case errors.Is(err, webhook.ErrInvalidWebhook), errors.Is(err, webhook.ErrInvalidSubscription):
		return h.formError(w, r, f, title, []string{l.T("form.err.invalid", libMessage(err))})
	case err != nil:
		return htmlview.Failed("save the endpoint", err)
	}
	h.log.Info("portal: endpoint changed", "scope", st.scope.String(), "code", wh.Code)
	msg := "saved"
	if f.Test {
		msg = "saved-tested"
	}
	h.redirect(w, r, "/", values("msg", msg))
	return nil
}
