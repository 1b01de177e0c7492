package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scopehook/webhook"
)

// maxEndpointWidth is how many characters of an endpoint the table shows.
const maxEndpointWidth = 60

// webhookJSON is a webhook as webhooks --json prints it: the library's
// description (credentials only as set or not set) and its recent history.
type webhookJSON struct {
	webhook.WebhookInfo
	// Scope and Timeout replace the library's fields, which encode as
	// {"Type", "Code"} and nanoseconds.
	Scope   scopeJSON        `json:"scope"`
	Timeout string           `json:"timeout"`
	Stats   webhookStatsJSON `json:"stats"`
}

type scopeJSON struct {
	Type string `json:"type"`
	Code string `json:"code"`
}

type webhookStatsJSON struct {
	Since          time.Time  `json:"since"`
	Attempts       int        `json:"attempts"`
	Failures       int        `json:"failures"`
	FailureRate    float64    `json:"failure_rate"`
	LastAt         *time.Time `json:"last_at,omitempty"`
	LastSuccess    *bool      `json:"last_success,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
}

func webhooksCommand() *command {
	return &command{
		name:     "webhooks",
		synopsis: "[--scope TYPE:CODE] [--since 24h] [--json]",
		summary:  "list webhooks, whether their credentials are set, and their recent deliveries",
		help: `Lists the webhooks, ordered by scope and code, with their endpoint, method,
whether they are enabled, their credentials only as set or not set (the
auth type, whether its token or password is set, the names of the custom
headers, the number of signing secrets) and a summary of their history
since --since (24 hours by default): attempts, failure rate, and the status
and time of the last attempt. Nothing is decrypted: a webhook whose
credentials no secret decrypts is listed too.

The CIRCUIT column is the state of the webhook's circuit breaker: closed
(deliveries are sent), open (the endpoint kept failing or asked for a pause:
deliveries wait, without spending attempts, until the next probe) or
half-open (a probe is due or in flight); 'close-circuit' closes one.
The NOTE column (and disabled_reason, config_error in JSON) says why the
library disabled a webhook, that its stored configuration is unreadable, or
why its circuit is open and when it is probed next.
With --json, prints a JSON array: the library's WebhookInfo (its "circuit"
object has state, failures, since, next_probe, probes and reason; ordered,
rate_limit and max_in_flight appear when set), with the scope as
{"type", "code"} and the timeout as a duration ("5s", or "default" for the
service's), and a "stats" object.`,
		example: progName + " --db /srv/app/webhook.db webhooks\n" +
			progName + " --db /srv/app/webhook.db webhooks --scope biz:biz1 --since 7d --json",
		setup: setupOf[webhooksCmd],
	}
}

// webhooksCmd is the webhooks command.
type webhooksCmd struct {
	scope, since string
	json         bool
}

func (c *webhooksCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.scope, "scope", "", "only the webhooks of scope `TYPE:CODE`")
	fs.StringVar(&c.since, "since", "24h", "summarise the history since `WHEN`: 24h, 7d or an RFC 3339 time (default 24h)")
	fs.BoolVar(&c.json, "json", false, "print a JSON array instead of a table")
}

func (c *webhooksCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("webhooks", args, "use --scope to filter"); err != nil {
		return err
	}
	var q webhook.WebhookQuery
	if c.scope != "" {
		s, err := parseScope("scope", c.scope)
		if err != nil {
			return err
		}
		q.ScopeType, q.ScopeCode = s.Type, s.Code
	}
	from, err := parseSince(c.since, time.Now())
	if err != nil {
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	hooks, err := client.Webhooks(ctx, q)
	if err != nil {
		return err
	}
	stats, err := client.WebhookStats(ctx, from)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		timeout := "default"
		if h.Timeout > 0 {
			timeout = h.Timeout.String()
		}
		out[i] = webhookJSON{WebhookInfo: h, Scope: scopeJSON{h.Scope.Type, h.Scope.Code}, Timeout: timeout,
			Stats: webhookStatsJSON{Since: from.UTC()}}
	}
	byKey := map[string]int{}
	for i, h := range hooks {
		byKey[h.Scope.String()+"\x00"+h.Code] = i
	}
	for _, s := range stats {
		i, ok := byKey[s.Scope.String()+"\x00"+s.WebhookCode]
		if !ok {
			continue // history of a deleted webhook
		}
		st := &out[i].Stats
		st.Attempts, st.Failures, st.FailureRate = s.Attempts, s.Failures, s.FailureRate()
		if !s.LastAt.IsZero() {
			at, ok := s.LastAt.UTC(), s.LastSuccess
			st.LastAt, st.LastSuccess, st.LastStatusCode = &at, &ok, s.LastStatusCode
		}
	}
	if c.json {
		return writeJSON(a.stdout, out)
	}
	return writeWebhooksTable(a.stdout, out)
}

func writeWebhooksTable(w io.Writer, hooks []webhookJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCOPE\tWEBHOOK\tENABLED\tCIRCUIT\tMETHOD\tENDPOINT\tAUTH\tHEADERS\tSIGNING\tATTEMPTS\tFAIL_RATE\tLAST_STATUS\tLAST_AT\tNOTE")
	for _, h := range hooks {
		enabled := "yes"
		if !h.Enabled {
			enabled = "no"
		}
		auth := "-"
		switch h.AuthType {
		case "bearer":
			auth = "bearer:" + setText(h.HasToken)
		case "basic":
			auth = "basic:" + setText(h.HasPassword)
		case "":
		default:
			auth = printable(h.AuthType)
		}
		headers := "-"
		if len(h.HeaderKeys) > 0 {
			keys := make([]string, len(h.HeaderKeys))
			for i, k := range h.HeaderKeys {
				keys[i] = printable(k)
			}
			headers = strings.Join(keys, ",")
		}
		failed, lastStatus, lastAt := "-", "-", "-"
		if h.Stats.Attempts > 0 {
			failed = strconv.FormatFloat(100*h.Stats.FailureRate, 'f', 1, 64) + "%"
		}
		if h.Stats.LastAt != nil {
			lastAt = formatTime(*h.Stats.LastAt)
			switch {
			case h.Stats.LastStatusCode != 0:
				lastStatus = strconv.Itoa(h.Stats.LastStatusCode)
			case *h.Stats.LastSuccess:
				lastStatus = "ok"
			default:
				lastStatus = "error"
			}
		}
		note, width := "-", maxErrorWidth
		switch {
		case h.ConfigError != "":
			note = "unreadable configuration: " + h.ConfigError
		case h.DisabledReason != "":
			note = "disabled: " + h.DisabledReason
		case h.Circuit.State == webhook.CircuitOpen || h.Circuit.State == webhook.CircuitHalfOpen:
			note, width = circuitNote(h.Circuit), 2*maxErrorWidth // the time takes half
		case h.ConsecutiveFailures > 0:
			note = plural(int64(h.ConsecutiveFailures), "consecutive failure", "consecutive failures")
		}
		if note != "-" {
			note = truncate(printable(note), width)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n",
			printable(h.Scope.Type+":"+h.Scope.Code), printable(h.Code), enabled, circuitState(h.Circuit), printable(orDash(h.Method)),
			truncate(printable(orDash(h.Endpoint)), maxEndpointWidth), auth, headers, h.SigningSecrets,
			h.Stats.Attempts, failed, lastStatus, lastAt, note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// circuitState is the CIRCUIT column: closed, open or half-open.
func circuitState(c webhook.Circuit) string {
	switch c.State {
	case webhook.CircuitOpen, webhook.CircuitHalfOpen:
		return string(c.State)
	default:
		return string(webhook.CircuitClosed)
	}
}

// circuitNote says why a circuit is open and when it is probed next.
func circuitNote(c webhook.Circuit) string {
	note := "circuit open, next probe " + formatTime(c.NextProbe)
	if c.State == webhook.CircuitHalfOpen {
		note = "circuit half-open, probe due since " + formatTime(c.NextProbe)
	}
	if c.Reason != "" {
		note += ": " + c.Reason
	}
	return note
}

func setText(set bool) string {
	if set {
		return "set"
	}
	return "not-set"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
