package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook"
)

// deliveriesCmd is the deliveries command: its flags as given.
type deliveriesCmd struct {
	status, webhook, event, scope, delivery, since, cursor string
	limit                                                  int
	queued, json                                           bool
}

func deliveriesCommand() *command {
	return &command{
		name:     "deliveries",
		synopsis: "[flags]",
		summary:  "list deliveries (one event to one webhook), queued or broadcast, newest first",
		help: `Lists deliveries, newest first: each is one event sent to one webhook,
under a delivery id that stays the same across its attempts. Deliveries
that Enqueue (or broadcast --enqueue, or redeliver) queued in the outbox
show their status, attempts, next attempt and last error ("pending/leased":
a worker is sending it right now); those a plain broadcast sent show
QUEUED "no" and the outcome of their last attempt. The attempts
themselves are in history (history --delivery ID). Filters combine with
AND.

A full page ends with a line "next page: --cursor C"; pass it to see the
next one. With --json, prints a JSON array of the deliveries; each has a
"cursor" field, the last one's being the next page's.`,
		example: progName + " --db /srv/app/webhook.db deliveries --status failed --webhook erp --since 24h\n" +
			progName + " --db /srv/app/webhook.db deliveries --scope shop:s1 --status pending --queued --json",
		setup: setupOf[deliveriesCmd],
	}
}

func (c *deliveriesCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.status, "status", "", "only the deliveries in `STATUS`: pending, failed, succeeded or cancelled")
	fs.StringVar(&c.webhook, "webhook", "", "only the deliveries to webhook `CODE`")
	fs.StringVar(&c.event, "event", "", "only the deliveries of event `CODE`")
	fs.StringVar(&c.scope, "scope", "", "only the deliveries in scope `TYPE:CODE`")
	fs.StringVar(&c.delivery, "delivery", "", "only the deliveries with delivery id `ID`")
	fs.StringVar(&c.since, "since", "", "only the deliveries created since `WHEN`: a duration back from now (24h, 90m, 7d) or an RFC 3339 time")
	fs.BoolVar(&c.queued, "queued", false, "only the deliveries queued in the outbox (Enqueue), not those a broadcast sent")
	fs.StringVar(&c.cursor, "cursor", "", "start after the delivery of cursor `C`, as printed at the end of the previous page")
	fs.IntVar(&c.limit, "limit", webhook.DefaultHistoryLimit, fmt.Sprintf("show at most `N` rows, 1 to %d (default %d)", webhook.MaxHistoryLimit, webhook.DefaultHistoryLimit))
	fs.BoolVar(&c.json, "json", false, "print a JSON array of the deliveries instead of a table")
}

func (c *deliveriesCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("deliveries", args, "use the flags to filter"); err != nil {
		return err
	}
	q, err := c.query(time.Now())
	if err != nil {
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	rows, err := client.Deliveries(ctx, q)
	if err != nil {
		return err
	}
	if c.json {
		if rows == nil {
			rows = []webhook.Delivery{}
		}
		return writeJSON(a.stdout, rows)
	}
	if err := writeDeliveriesTable(a.stdout, rows); err != nil {
		return err
	}
	if len(rows) == q.Limit {
		fmt.Fprintf(a.stdout, "next page: --cursor %s\n", rows[len(rows)-1].Cursor)
	}
	return nil
}

// query validates the flags and turns them into a DeliveryQuery.
func (c *deliveriesCmd) query(now time.Time) (webhook.DeliveryQuery, error) {
	q := webhook.DeliveryQuery{WebhookCode: c.webhook, EventCode: c.event, DeliveryID: c.delivery, QueuedOnly: c.queued, Cursor: c.cursor, Limit: c.limit}
	switch c.status {
	case "", webhook.StatusPending, webhook.StatusFailed, webhook.StatusSucceeded, webhook.StatusCancelled:
		q.Status = c.status
	default:
		return q, usageErrorf("--status %q: want pending, failed, succeeded or cancelled", c.status)
	}
	if c.scope != "" {
		s, err := parseScope("scope", c.scope)
		if err != nil {
			return q, err
		}
		q.ScopeType, q.ScopeCode = s.Type, s.Code
	}
	if c.since != "" {
		since, err := parseSince(c.since, now)
		if err != nil {
			return q, err
		}
		q.Since = since
	}
	if c.limit < 1 || c.limit > webhook.MaxHistoryLimit {
		return q, usageErrorf("--limit %d: want 1 to %d", c.limit, webhook.MaxHistoryLimit)
	}
	return q, nil
}

// writeDeliveriesTable prints deliveries as the history table does: one
// row each within historyWidth columns and, under it, a pending delivery's
// next attempt and the last error, whole, on lines of their own.
func writeDeliveriesTable(w io.Writer, rows []webhook.Delivery) error {
	header := []string{"CREATED", "DELIVERY", "SCOPE", "WEBHOOK", "EVENT", "QUEUED", "STATUS", "TRY", "HTTP"}
	codeColumns := []int{2, 3, 4} // SCOPE, WEBHOOK, EVENT
	cells := make([][]string, len(rows))
	for i, d := range rows {
		status := printable(d.Status)
		if d.Leased {
			status += "/leased"
		}
		lastStatus, queued := "-", "no"
		if d.LastStatusCode != 0 {
			lastStatus = strconv.Itoa(d.LastStatusCode)
		}
		if d.Queued {
			queued = "yes"
		}
		cells[i] = []string{
			formatTime(d.CreatedAt), printable(d.DeliveryID), printable(d.ScopeType + ":" + d.ScopeCode),
			printable(d.WebhookCode), printable(d.EventCode), queued, status, strconv.Itoa(d.Attempts), lastStatus,
		}
	}
	widths := columnWidths(header, cells)
	fitColumns(widths, codeColumns, historyWidth, minCodeWidth)
	var b strings.Builder
	writeColumns(&b, header, widths)
	for i, d := range rows {
		writeColumns(&b, cells[i], widths)
		if d.Status == webhook.StatusPending {
			b.WriteString("    next attempt: " + formatTime(d.NextAttemptAt) + "\n")
		}
		if d.LastError != "" {
			writeWrapped(&b, historyErrorIndent, printable(d.LastError), historyWidth)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}
