package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scopehook/webhook"
)

func statusCommand() *command {
	return &command{
		name:     "status",
		synopsis: "[--json]",
		summary:  "show the delivery engine's health: workers, outbox, circuits, warnings",
		help: `Shows, from the database, what an operator checks first: the worker
instances alive (by their heartbeats), the outbox (pending, failed, due
now and how long the oldest due delivery has waited), the webhooks whose
circuit breaker is open, those the library disabled in the last day, and
the history rows the live instances failed to write. Warnings say what
needs doing: deliveries due with no worker alive, workers falling behind,
history writes failing.

Exits 1 when there is a warning, so that a health check or a cron job can
use it. With --json, prints the library's Health.`,
		example: progName + " --db /srv/app/webhook.db status\n" +
			progName + " --db /srv/app/webhook.db status --json",
		setup: setupOf[statusCmd],
	}
}

// statusCmd is the status command.
type statusCmd struct{ json bool }

func (c *statusCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print the health report as JSON instead of text")
}

func (c *statusCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("status", args, ""); err != nil {
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	h, err := client.Health(ctx)
	if err != nil {
		return err
	}
	if c.json {
		err = writeJSON(a.stdout, h)
	} else {
		err = writeStatus(a.stdout, h)
	}
	if err != nil {
		return err
	}
	if len(h.Warnings) > 0 {
		return fmt.Errorf("%s: see above", plural(int64(len(h.Warnings)), "warning", "warnings"))
	}
	return nil
}

// writeStatus prints the health report as a few labelled lines.
func writeStatus(w io.Writer, h webhook.Health) error {
	var b strings.Builder
	workers := fmt.Sprintf("%d alive", h.LiveInstances)
	if dead := len(h.Instances) - h.LiveInstances; dead > 0 {
		workers += fmt.Sprintf(", %d dead in the last hour", dead)
	}
	if !h.LastHeartbeat.IsZero() {
		workers += fmt.Sprintf(" (last heartbeat %s ago)", h.CheckedAt.Sub(h.LastHeartbeat).Round(time.Second))
	}
	fmt.Fprintf(&b, "workers:       %s\n", workers)
	fmt.Fprintf(&b, "outbox:        %d pending (%d due now), %d failed\n", h.Pending, h.Due, h.Failed)
	oldest := "none due"
	if h.Due > 0 {
		oldest = roundDuration(h.OldestDue).String()
	}
	fmt.Fprintf(&b, "oldest due:    %s\n", oldest)
	fmt.Fprintf(&b, "history:       %d rows written, %d failed (live instances, since they started)\n", h.HistoryRows, h.HistoryFailures)
	fmt.Fprintf(&b, "open circuits: %d\n", len(h.OpenCircuits))
	for _, oc := range h.OpenCircuits {
		fmt.Fprintf(&b, "  %s %s since %s, next probe %s: %s\n", printable(oc.Scope.String()), printable(oc.WebhookCode),
			formatTime(oc.Circuit.Since), formatTime(oc.Circuit.NextProbe), printable(oc.Circuit.Reason))
	}
	fmt.Fprintf(&b, "auto-disabled: %d in the last day\n", len(h.RecentlyDisabled))
	for _, d := range h.RecentlyDisabled {
		fmt.Fprintf(&b, "  %s %s at %s: %s\n", printable(d.Scope.String()), printable(d.WebhookCode), formatTime(d.DisabledAt), printable(d.Reason))
	}
	if len(h.Warnings) == 0 {
		b.WriteString("status:        ok\n")
	}
	for _, warn := range h.Warnings {
		fmt.Fprintf(&b, "warning:       %s\n", printable(warn))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
