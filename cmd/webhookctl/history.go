package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scopehook/webhook"
)

// maxErrorWidth is how many characters of an error the table shows.
const maxErrorWidth = 60

// historyFlags holds the flags of the history command as given.
type historyFlags struct {
	delivery, webhook, event, scope, since string
	success                                optionalBool
	status, limit                          int
	json                                   bool
}

func historyCommand() *command {
	return &command{
		name:     "history",
		synopsis: "[flags]",
		summary:  "show recorded delivery attempts, newest first",
		help: `Lists the delivery attempts recorded in webhook_history, newest first, as
a table (times in UTC) or, with --json, as a JSON array of the full rows
(request and response included). Credentials are redacted in both: the
library never records them. Filters combine with AND.`,
		example: progName + " --db /srv/app/webhook.db history --webhook wh_ci --success false --since 24h\n" +
			progName + " --db /srv/app/webhook.db history --scope biz:biz1 --since 2024-05-01T00:00:00Z --json\n" +
			progName + " --db /srv/app/webhook.db history --delivery 3f2a9c0e5b7d4e18a6c1f0b2d3e4a5b6",
		setup: func(fs *flag.FlagSet) action {
			var f historyFlags
			fs.StringVar(&f.delivery, "delivery", "", "only the attempts of delivery `ID`")
			fs.StringVar(&f.webhook, "webhook", "", "only the attempts of webhook `CODE`")
			fs.StringVar(&f.event, "event", "", "only the attempts of event `CODE`")
			fs.StringVar(&f.scope, "scope", "", "only the attempts in scope `TYPE:CODE`, such as biz:biz1")
			fs.Var(&f.success, "success", "with `true|false`, only the successful or only the failed attempts")
			fs.IntVar(&f.status, "status", 0, "only the attempts answered with HTTP status `N`")
			fs.StringVar(&f.since, "since", "", "only the attempts since `WHEN`: a duration back from now (24h, 90m, 7d) or an RFC 3339 time")
			fs.IntVar(&f.limit, "limit", webhook.DefaultHistoryLimit, fmt.Sprintf("show at most `N` rows, 1 to %d (default %d)", webhook.MaxHistoryLimit, webhook.DefaultHistoryLimit))
			fs.BoolVar(&f.json, "json", false, "print a JSON array of the rows instead of a table")
			return func(ctx context.Context, a *app, args []string) error {
				return history(ctx, a, args, &f)
			}
		},
	}
}

func history(ctx context.Context, a *app, args []string, f *historyFlags) error {
	if len(args) > 0 {
		return usageErrorf("history takes no arguments, got %q (use the flags to filter)", args)
	}
	q, err := f.query(time.Now())
	if err != nil {
		return err
	}
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	rows, err := c.History(ctx, q)
	if err != nil {
		return err
	}
	if f.json {
		return writeHistoryJSON(a.stdout, rows)
	}
	return writeHistoryTable(a.stdout, rows)
}

// query validates the flags and turns them into a HistoryQuery.
func (f *historyFlags) query(now time.Time) (webhook.HistoryQuery, error) {
	q := webhook.HistoryQuery{
		DeliveryID: f.delivery, WebhookCode: f.webhook, EventCode: f.event,
		StatusCode: f.status, Limit: f.limit,
	}
	if f.scope != "" {
		scope, err := parseScope("scope", f.scope)
		if err != nil {
			return q, err
		}
		q.ScopeType, q.ScopeCode = scope.Type, scope.Code
	}
	if f.success.set {
		v := f.success.value
		q.Success = &v
	}
	if f.status != 0 && (f.status < 100 || f.status > 599) {
		return q, usageErrorf("--status %d: want an HTTP status from 100 to 599", f.status)
	}
	if f.limit < 1 || f.limit > webhook.MaxHistoryLimit {
		return q, usageErrorf("--limit %d: want 1 to %d", f.limit, webhook.MaxHistoryLimit)
	}
	if f.since != "" {
		since, err := parseSince(f.since, now)
		if err != nil {
			return q, err
		}
		q.Since = since
	}
	return q, nil
}

// parseSince reads --since: a positive duration back from now ("24h",
// "90m"), a number of days ("7d") or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return time.Time{}, usageErrorf("--since %q: want a whole number of days from 1 to 36500, such as 7d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return time.Time{}, usageErrorf("--since %q: want a duration back from now (24h, 90m, 7d) or an RFC 3339 time (2024-05-01T00:00:00Z)", s)
		}
		if d <= 0 {
			return time.Time{}, usageErrorf("--since %q: the duration must be positive; it counts back from now", s)
		}
	}
	return now.Add(-d), nil
}

// optionalBool is a boolean flag that must be given a value and whose
// absence is distinguishable from false.
type optionalBool struct{ set, value bool }

func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(s string) error {
	switch strings.ToLower(s) {
	case "true":
		b.set, b.value = true, true
	case "false":
		b.set, b.value = true, false
	default:
		return fmt.Errorf("want true or false")
	}
	return nil
}

func writeHistoryTable(w io.Writer, rows []webhook.History) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tDELIVERY\tSCOPE\tWEBHOOK\tEVENT\tATTEMPT\tSTATUS\tOK\tDURATION\tERROR")
	for _, h := range rows {
		status, ok, dur := "-", "no", "-"
		if h.StatusCode != 0 {
			status = strconv.Itoa(h.StatusCode)
		}
		if h.Success {
			ok = "yes"
		}
		if h.Duration > 0 {
			dur = roundDuration(h.Duration).String()
		}
		errText := "-"
		if h.Error != "" {
			errText = truncate(printable(h.Error), maxErrorWidth)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			h.ID, h.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), printable(h.DeliveryID),
			printable(h.ScopeType+":"+h.ScopeCode), printable(h.WebhookCode), printable(h.EventCode),
			h.Attempt, status, ok, dur, errText)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// roundDuration keeps three significant places or so: 1.234s, 12.3ms, 456µs.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func writeHistoryJSON(w io.Writer, rows []webhook.History) error {
	if rows == nil {
		rows = []webhook.History{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
