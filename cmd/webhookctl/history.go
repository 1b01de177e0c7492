package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
)

// historyCmd is the history command: its flags as given.
type historyCmd struct {
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
a table or, with --json, as a JSON array of the full rows (request and
response included). Credentials are redacted in both: the library never
records them. Filters combine with AND.

The table fits in 120 columns: one row per attempt (times in UTC, TRY the
attempt's number, HTTP the status answered, "-" for none) and, under each
attempt that failed, its error in full on lines of its own ("error: ...").
Scope, webhook and event codes too long to fit are shortened with "…";
--json shows them whole.`,
		example: progName + " --db /srv/app/webhook.db history --webhook wh_ci --success false --since 24h\n" +
			progName + " --db /srv/app/webhook.db history --scope biz:biz1 --since 2024-05-01T00:00:00Z --json\n" +
			progName + " --db /srv/app/webhook.db history --delivery 3f2a9c0e5b7d4e18a6c1f0b2d3e4a5b6",
		setup: setupOf[historyCmd],
	}
}

func (c *historyCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.delivery, "delivery", "", "only the attempts of delivery `ID`")
	fs.StringVar(&c.webhook, "webhook", "", "only the attempts of webhook `CODE`")
	fs.StringVar(&c.event, "event", "", "only the attempts of event `CODE`")
	fs.StringVar(&c.scope, "scope", "", "only the attempts in scope `TYPE:CODE`, such as biz:biz1")
	fs.Var(&c.success, "success", "with `true|false`, only the successful or only the failed attempts")
	fs.IntVar(&c.status, "status", 0, "only the attempts answered with HTTP status `N`")
	fs.StringVar(&c.since, "since", "", "only the attempts since `WHEN`: a duration back from now (24h, 90m, 7d) or an RFC 3339 time")
	fs.IntVar(&c.limit, "limit", webhook.DefaultHistoryLimit, fmt.Sprintf("show at most `N` rows, 1 to %d (default %d)", webhook.MaxHistoryLimit, webhook.DefaultHistoryLimit))
	fs.BoolVar(&c.json, "json", false, "print a JSON array of the rows instead of a table")
}

func (c *historyCmd) run(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 {
		return usageErrorf("history takes no arguments, got %q (use the flags to filter)", args)
	}
	q, err := c.query(time.Now())
	if err != nil {
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	rows, err := client.History(ctx, q)
	if err != nil {
		return err
	}
	if c.json {
		return writeHistoryJSON(a.stdout, rows)
	}
	return writeHistoryTable(a.stdout, rows)
}

// query validates the flags and turns them into a HistoryQuery.
func (c *historyCmd) query(now time.Time) (webhook.HistoryQuery, error) {
	q := webhook.HistoryQuery{
		DeliveryID: c.delivery, WebhookCode: c.webhook, EventCode: c.event,
		StatusCode: c.status, Limit: c.limit,
	}
	if c.scope != "" {
		scope, err := parseScope("scope", c.scope)
		if err != nil {
			return q, err
		}
		q.ScopeType, q.ScopeCode = scope.Type, scope.Code
	}
	if c.success.set {
		v := c.success.value
		q.Success = &v
	}
	if c.status != 0 && (c.status < 100 || c.status > 599) {
		return q, usageErrorf("--status %d: want an HTTP status from 100 to 599", c.status)
	}
	if c.limit < 1 || c.limit > webhook.MaxHistoryLimit {
		return q, usageErrorf("--limit %d: want 1 to %d", c.limit, webhook.MaxHistoryLimit)
	}
	if c.since != "" {
		since, err := parseSince(c.since, now)
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

// historyWidth is the width, in characters, that the history table keeps
// to: the error of an attempt goes, whole, on lines of its own under its
// row, and the code columns are shortened only when long codes would make
// a row wider.
const historyWidth = 120

// minCodeWidth is the width under which the history table does not shorten
// a code column: with it, rows fit in historyWidth whatever the codes, as
// long as delivery ids have at most 32 characters (the library's) and row
// ids at most 10 digits.
const minCodeWidth = 8

// historyErrorIndent starts the error line under a row of the history
// table.
const historyErrorIndent = "    error: "

// writeHistoryTable prints one row per attempt, and under each attempt
// that failed, its error in full (wrapped to historyWidth).
func writeHistoryTable(w io.Writer, rows []webhook.History) error {
	header := []string{"ID", "CREATED", "DELIVERY", "SCOPE", "WEBHOOK", "EVENT", "TRY", "HTTP", "DURATION"}
	codeColumns := []int{3, 4, 5} // SCOPE, WEBHOOK, EVENT
	cells := make([][]string, len(rows))
	for i, h := range rows {
		status, dur := "-", "-"
		if h.StatusCode != 0 {
			status = strconv.Itoa(h.StatusCode)
		}
		if h.Duration > 0 {
			dur = roundDuration(h.Duration).String()
		}
		cells[i] = []string{
			strconv.FormatInt(h.ID, 10), formatTime(h.CreatedAt), printable(h.DeliveryID),
			printable(h.ScopeType + ":" + h.ScopeCode), printable(h.WebhookCode), printable(h.EventCode),
			strconv.Itoa(h.Attempt), status, dur,
		}
	}
	widths := columnWidths(header, cells)
	fitColumns(widths, codeColumns, historyWidth, minCodeWidth)
	var b strings.Builder
	writeColumns(&b, header, widths)
	for i, h := range rows {
		writeColumns(&b, cells[i], widths)
		switch {
		case h.Error != "":
			writeWrapped(&b, historyErrorIndent, printable(h.Error), historyWidth)
		case !h.Success:
			b.WriteString(historyErrorIndent + "none recorded, but the attempt failed\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// columnWidths returns the width of each column: its widest cell.
func columnWidths(header []string, rows [][]string) []int {
	widths := make([]int, len(header))
	for _, row := range append([][]string{header}, rows...) {
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	return widths
}

// fitColumns narrows the widest of the shrinkable columns, one character
// at a time and none below minWidth, until the row (columns two spaces
// apart) fits in width.
func fitColumns(widths, shrinkable []int, width, minWidth int) {
	total := 2 * (len(widths) - 1)
	for _, w := range widths {
		total += w
	}
	for total > width {
		widest := -1
		for _, c := range shrinkable {
			if widths[c] > minWidth && (widest < 0 || widths[c] > widths[widest]) {
				widest = c
			}
		}
		if widest < 0 {
			return
		}
		widths[widest]--
		total--
	}
}

// writeColumns writes one row, each cell cut to its column's width and
// padded to it, two spaces apart, without trailing spaces.
func writeColumns(b *strings.Builder, cells []string, widths []int) {
	line := make([]string, len(cells))
	for i, cell := range cells {
		cell = truncate(cell, widths[i])
		if i < len(cells)-1 {
			cell += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
		}
		line[i] = cell
	}
	b.WriteString(strings.TrimRight(strings.Join(line, "  "), " ") + "\n")
}

// writeWrapped writes text after prefix, wrapped at spaces (or inside a
// word longer than a line) so that no line is wider than width; the lines
// after the first are indented as far as the prefix.
func writeWrapped(b *strings.Builder, prefix, text string, width int) {
	indent := strings.Repeat(" ", utf8.RuneCountInString(prefix))
	room := max(width-len(indent), 20)
	rest := []rune(text)
	for first := true; first || len(rest) > 0; first = false {
		cut := len(rest)
		if cut > room {
			cut = room
			for i := room; i > 0; i-- {
				if rest[i] == ' ' {
					cut = i
					break
				}
			}
		}
		start := indent
		if first {
			start = prefix
		}
		b.WriteString(start + string(rest[:cut]) + "\n")
		rest = rest[cut:]
		if len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:] // the space the line was cut at
		}
	}
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
