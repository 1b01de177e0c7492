package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/scopehook/webhook"
)

// progressEvery is how often a long operation says it is still running.
const progressEvery = 5 * time.Second

// workersNote reminds that webhookctl schedules deliveries but does not
// send them.
const workersNote = "note: the workers of the service (Client.Start) send them, not " + progName +
	"; follow them with '" + progName + " deliveries --status pending'\n"

// redeliverCmd is the redeliver command.
type redeliverCmd struct {
	failed                bool
	webhook, scope, event string
	since                 string
}

func redeliverCommand() *command {
	return &command{
		name:         "redeliver",
		synopsis:     "ID [ID ...] | --failed [--webhook CODE] [--scope TYPE:CODE] [--event CODE] [--since WHEN]",
		summary:      "send deliveries again, by id or every failed one",
		interspersed: true,
		help: `Schedules deliveries to be sent again with their original delivery ids (so
that receivers can deduplicate), under the webhook's current configuration:

  redeliver ID [ID ...]   each delivery named; a delivery of the outbox is
                          made due now whatever its status, one known only
                          from history (sent by broadcast, or pruned) is
                          rebuilt from the event recorded there
  redeliver --failed      every failed delivery of the outbox that matches
                          the filters, which combine with AND

webhookctl does not send them: the workers of the service (Client.Start)
do, at their next poll. Prints a line per ID, or the number rescheduled.

Exit status: 0 when every delivery was scheduled, 3 when an ID is unknown
(the others are still scheduled), 1 on another failure.`,
		example: progName + " --db /srv/app/webhook.db redeliver 3f2a9c0e5b7d4e18a6c1f0b2d3e4a5b6\n" +
			progName + " --db /srv/app/webhook.db redeliver --failed --webhook erp --since 24h\n" +
			progName + " --db /srv/app/webhook.db redeliver --failed --scope shop:s1 --event order_paid --since 2024-05-01T00:00:00Z",
		setup: setupOf[redeliverCmd],
	}
}

func (c *redeliverCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.failed, "failed", false, "redeliver every failed delivery of the outbox that matches the filters, instead of IDs")
	fs.StringVar(&c.webhook, "webhook", "", "with --failed, only the deliveries to webhook `CODE`")
	fs.StringVar(&c.scope, "scope", "", "with --failed, only the deliveries in scope `TYPE:CODE`")
	fs.StringVar(&c.event, "event", "", "with --failed, only the deliveries of event `CODE`")
	fs.StringVar(&c.since, "since", "", "with --failed, only the deliveries created since `WHEN`: 24h, 7d or an RFC 3339 time")
}

func (c *redeliverCmd) run(ctx context.Context, a *app, args []string) error {
	if c.failed {
		return redeliverFailed(ctx, a, args, c)
	}
	if c.webhook != "" || c.scope != "" || c.event != "" || c.since != "" {
		return usageErrorf("--webhook, --scope, --event and --since filter --failed: add --failed, or give delivery IDs alone")
	}
	return redeliverIDs(ctx, a, args)
}

func redeliverIDs(ctx context.Context, a *app, ids []string) error {
	if len(ids) == 0 {
		return usageErrorf("redeliver takes delivery IDs, or --failed: give at least one ID ('%s history' and '%s deliveries' show them)", progName, progName)
	}
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	var notFound, failed int
	for i, id := range ids {
		err := c.Redeliver(ctx, id)
		prefix := ""
		if len(ids) > 1 {
			prefix = fmt.Sprintf("[%d/%d] ", i+1, len(ids))
		}
		switch {
		case err == nil:
			fmt.Fprintf(a.stdout, "%sscheduled %s\n", prefix, printable(id))
		case errors.Is(err, webhook.ErrDeliveryNotFound):
			notFound++
			fmt.Fprintf(a.stderr, "%s: redeliver: %s%s\n", progName, prefix, printable(err.Error()))
		default:
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted after %d of %d: %w", i, len(ids), err)
			}
			failed++
			fmt.Fprintf(a.stderr, "%s: redeliver: %s%s: %s\n", progName, prefix, printable(id), printable(err.Error()))
		}
	}
	scheduled := len(ids) - notFound - failed
	if scheduled > 0 {
		fmt.Fprint(a.stderr, workersNote)
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d not scheduled (see above)", failed+notFound, len(ids))
	case notFound > 0:
		return withHint(fmt.Errorf("%w: %d of %d unknown (see above)", webhook.ErrDeliveryNotFound, notFound, len(ids)),
			fmt.Sprintf("check the ids with '%s deliveries' or '%s history --delivery ID'; history pruned away cannot be redelivered", progName, progName))
	}
	return nil
}

func redeliverFailed(ctx context.Context, a *app, args []string, f *redeliverCmd) error {
	if len(args) > 0 {
		return usageErrorf("--failed takes no IDs, got %q: give IDs without --failed, or filters with it", args)
	}
	filter := webhook.RedeliverFilter{WebhookCode: f.webhook, EventCode: f.event}
	var desc []string
	if f.webhook != "" {
		desc = append(desc, "webhook "+f.webhook)
	}
	if f.scope != "" {
		s, err := parseScope("scope", f.scope)
		if err != nil {
			return err
		}
		filter.ScopeType, filter.ScopeCode = s.Type, s.Code
		desc = append(desc, "scope "+f.scope)
	}
	if f.event != "" {
		desc = append(desc, "event "+f.event)
	}
	if f.since != "" {
		since, err := parseSince(f.since, time.Now())
		if err != nil {
			return err
		}
		filter.Since = since
		desc = append(desc, "created since "+formatTime(since))
	}
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	what := "every failed delivery"
	if len(desc) > 0 {
		what = "the failed deliveries of " + strings.Join(desc, ", ")
	}
	var n int64
	err = a.progress(fmt.Sprintf("rescheduling %s", printable(what)), func() error {
		var err error
		n, err = c.RedeliverFailed(ctx, filter)
		return err
	})
	if err != nil {
		if n > 0 {
			return fmt.Errorf("%d rescheduled before: %w", n, err)
		}
		return err
	}
	fmt.Fprintf(a.stdout, "rescheduled %s\n", plural(n, "failed delivery", "failed deliveries"))
	if n > 0 {
		fmt.Fprint(a.stderr, workersNote)
	}
	return nil
}

// progress runs fn after saying on stderr what it does, and says every
// progressEvery that it is still running: the library reports no progress
// of its own for bulk operations.
func (a *app) progress(what string, fn func() error) error {
	fmt.Fprintf(a.stderr, "%s...\n", what)
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(a.stderr, "  still running (%s)\n", time.Since(start).Round(time.Second))
			}
		}
	}()
	err := fn()
	close(done)
	wg.Wait()
	return err
}
