package api

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook"
)

// The JSON of the API: snake_case keys, times in RFC 3339 (UTC), durations
// as strings in Go's syntax ("10s", "1m30s", "24h"; answered in seconds,
// "86400s"), credentials write-only.

// duration is a time.Duration in JSON as a string.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(formatDuration(time.Duration(d)))
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return badArg("", `a duration must be a string ≥ 0 such as "10s", "1m30s" or "24h"`)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

// formatDuration gives a duration in seconds, "1.5s".
func formatDuration(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// parseDuration reads a non-negative duration in Go's syntax.
func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 || strings.HasPrefix(s, "-") {
		return 0, badArg("", `a duration must be a string ≥ 0 such as "10s", "1m30s" or "24h"`)
	}
	return v, nil
}

// stamp is a time in RFC 3339, UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func stampPtr(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := stamp(*t)
	return &s
}

func stampOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := stamp(t)
	return &s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xc0 != 0x80 }

// scopeJSON is a scope.
type scopeJSON struct {
	Type string `json:"type"`
	Code string `json:"code"`
}

// webhookJSON is a webhook as the API answers it: credentials never, only
// whether each is set.
type webhookJSON struct {
	Scope       scopeJSON `json:"scope"`
	Code        string    `json:"code"`
	Name        string    `json:"name"`
	Endpoint    string    `json:"endpoint"`
	Method      string    `json:"method"`
	ContentType string    `json:"content_type"`
	Enabled     bool      `json:"enabled"`
	Auth        *authJSON `json:"auth"`
	HeaderKeys  []string  `json:"header_keys"`
	// SigningSecrets is how many signing secrets sign its requests.
	SigningSecrets     int        `json:"signing_secrets"`
	Events             []string   `json:"events,omitzero"`
	Timeout            *string    `json:"timeout"`
	RetryTimes         int        `json:"retry_times"`
	InsecureSkipVerify bool       `json:"insecure_skip_verify"`
	Ordered            bool       `json:"ordered"`
	RateLimit          float64    `json:"rate_limit"`
	MaxInFlight        int        `json:"max_in_flight"`
	Health             healthJSON `json:"health"`
	ETag               string     `json:"etag,omitempty"`
	ConfigError        string     `json:"config_error,omitempty"`
}

type authJSON struct {
	Type        string `json:"type"`
	HasToken    bool   `json:"has_token"`
	HasPassword bool   `json:"has_password"`
}

type healthJSON struct {
	ConsecutiveFailures int         `json:"consecutive_failures"`
	FailingSince        *string     `json:"failing_since"`
	DisabledReason      string      `json:"disabled_reason,omitempty"`
	Circuit             circuitJSON `json:"circuit"`
}

type circuitJSON struct {
	State     string  `json:"state"`
	Failures  int     `json:"failures"`
	Since     *string `json:"since"`
	NextProbe *string `json:"next_probe"`
	Probes    int     `json:"probes"`
	Reason    string  `json:"reason,omitempty"`
}

func webhookOf(info webhook.WebhookInfo) webhookJSON {
	out := webhookJSON{
		Scope: scopeJSON{info.Scope.Type, info.Scope.Code}, Code: info.Code, Name: info.Name,
		Endpoint: info.Endpoint, Method: info.Method, ContentType: info.ContentType, Enabled: info.Enabled,
		HeaderKeys: info.HeaderKeys, SigningSecrets: info.SigningSecrets, Events: info.Events,
		RetryTimes: info.RetryTimes, InsecureSkipVerify: info.InsecureSkipVerify,
		Ordered: info.Ordered, RateLimit: info.RateLimit, MaxInFlight: info.MaxInFlight,
		ETag: info.ETag, ConfigError: info.ConfigError,
		Health: healthJSON{
			ConsecutiveFailures: info.ConsecutiveFailures, FailingSince: stampPtr(info.FailingSince), DisabledReason: info.DisabledReason,
			Circuit: circuitJSON{
				State: string(info.Circuit.State), Failures: info.Circuit.Failures, Since: stampOrNil(info.Circuit.Since),
				NextProbe: stampOrNil(info.Circuit.NextProbe), Probes: info.Circuit.Probes, Reason: info.Circuit.Reason,
			},
		},
	}
	if out.ContentType == "" {
		out.ContentType = "application/json"
	}
	if out.HeaderKeys == nil {
		out.HeaderKeys = []string{}
	}
	if out.Health.Circuit.State == "" {
		out.Health.Circuit.State = string(webhook.CircuitClosed)
	}
	if info.AuthType != "" {
		out.Auth = &authJSON{Type: strings.ToLower(info.AuthType), HasToken: info.HasToken, HasPassword: info.HasPassword}
	}
	if info.Timeout > 0 {
		s := formatDuration(info.Timeout)
		out.Timeout = &s
	}
	if math.IsNaN(out.RateLimit) || math.IsInf(out.RateLimit, 0) {
		out.RateLimit = 0
	}
	return out
}

// headerInput is a custom header of a request body; its value is
// write-only.
type headerInput struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// authInput is the authentication of a request body; token and password
// are write-only.
type authInput struct {
	Type     string `json:"type"`
	Username string `json:"username"`
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (a *authInput) auth() *webhook.Auth {
	if a == nil {
		return nil
	}
	return &webhook.Auth{Type: a.Type, Username: a.Username, Token: a.Token, Password: a.Password}
}

func headersOf(in []headerInput) []webhook.Header {
	if in == nil {
		return nil
	}
	out := make([]webhook.Header, len(in))
	for i, h := range in {
		out[i] = webhook.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// createInput is the body of POST …/webhooks.
type createInput struct {
	Code               string        `json:"code"`
	Name               string        `json:"name"`
	Endpoint           string        `json:"endpoint"`
	Method             string        `json:"method"`
	ContentType        string        `json:"content_type"`
	Enabled            *bool         `json:"enabled"`
	Auth               *authInput    `json:"auth"`
	Headers            []headerInput `json:"headers"`
	Events             []string      `json:"events"`
	Timeout            *duration     `json:"timeout"`
	RetryTimes         int           `json:"retry_times"`
	InsecureSkipVerify bool          `json:"insecure_skip_verify"`
	Ordered            bool          `json:"ordered"`
	RateLimit          float64       `json:"rate_limit"`
	MaxInFlight        int           `json:"max_in_flight"`
}

func (in *createInput) config() webhook.WebhookConfig {
	wh := webhook.WebhookConfig{
		Code: in.Code, Name: in.Name, Endpoint: in.Endpoint, Method: strings.ToUpper(in.Method), ContentType: in.ContentType,
		Disabled: in.Enabled != nil && !*in.Enabled, Auth: in.Auth.auth(), Headers: headersOf(in.Headers),
		RetryTimes: in.RetryTimes, InsecureSkipVerify: in.InsecureSkipVerify, Ordered: in.Ordered,
		RateLimit: in.RateLimit, MaxInFlight: in.MaxInFlight,
	}
	if in.Timeout != nil {
		wh.Timeout = time.Duration(*in.Timeout)
	}
	return wh
}

// deliveryJSON is one delivery: one event sent to one webhook.
type deliveryJSON struct {
	DeliveryID     string    `json:"delivery_id"`
	Scope          scopeJSON `json:"scope"`
	Webhook        string    `json:"webhook"`
	Event          string    `json:"event"`
	Queued         bool      `json:"queued"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	NextAttemptAt  *string   `json:"next_attempt_at"`
	Leased         bool      `json:"leased"`
	LastStatusCode int       `json:"last_status_code"`
	LastError      string    `json:"last_error,omitempty"`
	CreatedAt      string    `json:"created_at"`
	FinishedAt     *string   `json:"finished_at"`
}

func deliveryOf(d webhook.Delivery) deliveryJSON {
	return deliveryJSON{
		DeliveryID: d.DeliveryID, Scope: scopeJSON{d.ScopeType, d.ScopeCode}, Webhook: d.WebhookCode, Event: d.EventCode,
		Queued: d.Queued, Status: d.Status, Attempts: d.Attempts, NextAttemptAt: stampOrNil(d.NextAttemptAt),
		Leased: d.Leased, LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		CreatedAt: stamp(d.CreatedAt), FinishedAt: stampPtr(d.FinishedAt),
	}
}

// attemptJSON is one request of a delivery, credentials redacted by the
// library.
type attemptJSON struct {
	ID         int64           `json:"id"`
	Attempt    int             `json:"attempt"`
	Webhook    string          `json:"webhook"`
	Event      string          `json:"event"`
	CreatedAt  string          `json:"created_at"`
	Success    bool            `json:"success"`
	StatusCode int             `json:"status_code"`
	Duration   string          `json:"duration"`
	Error      string          `json:"error,omitempty"`
	Request    attemptRequest  `json:"request"`
	Response   attemptResponse `json:"response"`
}

type attemptRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Params  map[string]any    `json:"params"`
	Headers map[string]string `json:"headers"`
	// Body is the body sent: JSON text, or the form.
	Body string `json:"body"`
}

type attemptResponse struct {
	StatusCode       int               `json:"status_code"`
	Headers          map[string]string `json:"headers"`
	HeadersTruncated bool              `json:"headers_truncated"`
	Body             string            `json:"body"`
	BodyTruncated    bool              `json:"body_truncated"`
}

func attemptOf(h webhook.History) attemptJSON {
	body := string(h.Request.JSON)
	if body == "" {
		body = h.Request.Form
	}
	out := attemptJSON{
		ID: h.ID, Attempt: h.Attempt, Webhook: h.WebhookCode, Event: h.EventCode, CreatedAt: stamp(h.CreatedAt),
		Success: h.Success, StatusCode: h.StatusCode, Duration: formatDuration(h.Duration), Error: h.Error,
		Request: attemptRequest{URL: h.Request.URL, Method: h.Request.Method, Params: h.Request.Params, Headers: h.Request.Header, Body: body},
		Response: attemptResponse{StatusCode: h.Response.StatusCode, Headers: h.Response.Header, HeadersTruncated: h.Response.HeaderTruncated,
			Body: h.Response.Body, BodyTruncated: h.Response.BodyTruncated},
	}
	if out.Request.Params == nil {
		out.Request.Params = map[string]any{}
	}
	if out.Request.Headers == nil {
		out.Request.Headers = map[string]string{}
	}
	if out.Response.Headers == nil {
		out.Response.Headers = map[string]string{}
	}
	return out
}

// pageJSON is a page of a list; NextCursor, when set, asks for the next.
type pageJSON[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// listJSON is a list that is not paged.
type listJSON[T any] struct {
	Data []T `json:"data"`
}
