package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

func pruneCommand() *command {
	return &command{
		name:     "prune",
		synopsis: "--older-than AGE [--dry-run] [--json]",
		summary:  "delete history and finished deliveries older than an age",
		help: `Deletes the history rows recorded more than AGE ago and the deliveries of
the outbox that finished (succeeded, failed or cancelled) more than AGE ago,
1,000 rows per statement, as the service's PruneHistory does. Pending
deliveries are never deleted. AGE is a number of days (30d) or a duration
(720h). Interrupting it (Ctrl-C) keeps what was deleted; run it again to
go on.

A delivery whose history is pruned can no longer be redelivered by id
unless it is still in the outbox. Prints the counts deleted; with
--dry-run, counts what would be deleted and deletes nothing. With --json,
prints one JSON object instead: {"dry_run", "older_than", "before" (the
cutoff, RFC 3339), "history_rows", "deliveries"}.`,
		example: progName + " --db /srv/app/webhook.db prune --older-than 30d --dry-run\n" +
			progName + " --db /srv/app/webhook.db prune --older-than 30d\n" +
			progName + " --db /srv/app/webhook.db prune --older-than 720h --json",
		setup: setupOf[pruneCmd],
	}
}

// pruneCmd is the prune command.
type pruneCmd struct {
	olderThan    string
	dryRun, json bool
}

// pruneJSON is what prune --json prints.
type pruneJSON struct {
	DryRun    bool   `json:"dry_run"`
	OlderThan string `json:"older_than"`
	// Before is the cutoff: rows older than it are (or would be) deleted.
	Before      time.Time `json:"before"`
	HistoryRows int64     `json:"history_rows"`
	Deliveries  int64     `json:"deliveries"`
}

func (c *pruneCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.olderThan, "older-than", "", "delete what is older than `AGE`: days (30d) or a duration (720h); required")
	fs.BoolVar(&c.dryRun, "dry-run", false, "count what would be deleted, but delete nothing")
	fs.BoolVar(&c.json, "json", false, "print the counts as a JSON object instead of a sentence")
}

func (c *pruneCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("prune", args, "give the age with --older-than"); err != nil {
		return err
	}
	if c.olderThan == "" {
		return usageErrorf("--older-than is required: say how old the rows to delete must be, such as --older-than 30d")
	}
	age, err := parseAge("older-than", c.olderThan)
	if err != nil {
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-age).UTC().Truncate(time.Second)
	out := pruneJSON{DryRun: c.dryRun, OlderThan: formatAge(age), Before: cutoff}
	if c.dryRun {
		n, err := client.CountPrunable(ctx, age)
		if err != nil {
			return err
		}
		out.HistoryRows, out.Deliveries = n.History, n.Deliveries
		if c.json {
			return writeJSON(a.stdout, out)
		}
		fmt.Fprintf(a.stdout, "dry run: would prune %s and %s older than %s (before %s); nothing deleted\n",
			plural(n.History, "history row", "history rows"),
			plural(n.Deliveries, "finished delivery", "finished deliveries"), formatAge(age), formatTime(cutoff))
		return nil
	}
	err = a.progress(fmt.Sprintf("pruning history and finished deliveries older than %s (before %s)", formatAge(age), formatTime(cutoff)), func() error {
		res, err := client.PruneHistory(ctx, age)
		out.HistoryRows, out.Deliveries = res.History, res.Deliveries
		return err
	})
	if err != nil {
		return fmt.Errorf("%s and %s deleted before: %w",
			plural(out.HistoryRows, "history row", "history rows"), plural(out.Deliveries, "delivery", "deliveries"), err)
	}
	if c.json {
		return writeJSON(a.stdout, out)
	}
	fmt.Fprintf(a.stdout, "pruned %s and %s older than %s\n",
		plural(out.HistoryRows, "history row", "history rows"),
		plural(out.Deliveries, "finished delivery", "finished deliveries"), formatAge(age))
	return nil
}
