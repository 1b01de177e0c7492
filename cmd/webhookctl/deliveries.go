package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/scopehook/webhook"
)

type deliveriesFlags struct {
	status, webhook, scope, delivery string
	limit                            int
	json                             bool
}

func deliveriesCommand() *command {
	return &command{
		name:     "deliveries",
		synopsis: "[--status pending|failed|succeeded|cancelled] [--webhook CODE] [--scope TYPE:CODE] [--delivery ID] [--json]",
		summary:  "list the deliveries of the outbox (the durable path), newest first",
		help: `Lists the deliveries that Enqueue (or broadcast --enqueue, or redeliver)
wrote to the outbox, newest first: their status, attempts, next attempt and
last error. "pending/leased" means a worker is sending it right now.
Deliveries sent by a plain broadcast are not in the outbox: see history.
Filters combine with AND. With --json, prints a JSON array of the rows.`,
		example: progName + " --db /srv/app/webhook.db deliveries --status failed --webhook erp\n" +
			progName + " --db /srv/app/webhook.db deliveries --scope shop:s1 --status pending --json",
		setup: func(fs *flag.FlagSet) action {
			var f deliveriesFlags
			fs.StringVar(&f.status, "status", "", "only the deliveries in `STATUS`: pending, failed, succeeded or cancelled")
			fs.StringVar(&f.webhook, "webhook", "", "only the deliveries to webhook `CODE`")
			fs.StringVar(&f.scope, "scope", "", "only the deliveries in scope `TYPE:CODE`")
			fs.StringVar(&f.delivery, "delivery", "", "only the deliveries with delivery id `ID`")
			fs.IntVar(&f.limit, "limit", webhook.DefaultHistoryLimit, fmt.Sprintf("show at most `N` rows, 1 to %d (default %d)", webhook.MaxHistoryLimit, webhook.DefaultHistoryLimit))
			fs.BoolVar(&f.json, "json", false, "print a JSON array of the rows instead of a table")
			return func(ctx context.Context, a *app, args []string) error {
				return deliveries(ctx, a, args, &f)
			}
		},
	}
}

func deliveries(ctx context.Context, a *app, args []string, f *deliveriesFlags) error {
	if err := noArgs("deliveries", args, "use the flags to filter"); err != nil {
		return err
	}
	q := webhook.DeliveryQuery{WebhookCode: f.webhook, DeliveryID: f.delivery, Limit: f.limit}
	switch f.status {
	case "", webhook.StatusPending, webhook.StatusFailed, webhook.StatusSucceeded, webhook.StatusCancelled:
		q.Status = f.status
	default:
		return usageErrorf("--status %q: want pending, failed, succeeded or cancelled", f.status)
	}
	if f.scope != "" {
		s, err := parseScope("scope", f.scope)
		if err != nil {
			return err
		}
		q.ScopeType, q.ScopeCode = s.Type, s.Code
	}
	if f.limit < 1 || f.limit > webhook.MaxHistoryLimit {
		return usageErrorf("--limit %d: want 1 to %d", f.limit, webhook.MaxHistoryLimit)
	}
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	rows, err := c.Deliveries(ctx, q)
	if err != nil {
		return err
	}
	if f.json {
		if rows == nil {
			rows = []webhook.Delivery{}
		}
		return writeJSON(a.stdout, rows)
	}
	return writeDeliveriesTable(a.stdout, rows)
}

func writeDeliveriesTable(w io.Writer, rows []webhook.Delivery) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tDELIVERY\tSCOPE\tWEBHOOK\tEVENT\tSTATUS\tATTEMPTS\tNEXT_ATTEMPT\tLAST_STATUS\tERROR")
	for _, d := range rows {
		status := printable(d.Status)
		if d.Leased {
			status += "/leased"
		}
		next := "-"
		if d.Status == webhook.StatusPending {
			next = formatTime(d.NextAttemptAt)
		}
		lastStatus := "-"
		if d.LastStatusCode != 0 {
			lastStatus = strconv.Itoa(d.LastStatusCode)
		}
		errText := "-"
		if d.LastError != "" {
			errText = truncate(printable(d.LastError), maxErrorWidth)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			d.ID, formatTime(d.CreatedAt), printable(d.DeliveryID), printable(d.ScopeType+":"+d.ScopeCode),
			printable(d.WebhookCode), printable(d.EventCode), status, d.Attempts, next, lastStatus, errText)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}
