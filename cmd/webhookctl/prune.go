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
		synopsis: "--older-than AGE",
		summary:  "delete history and finished deliveries older than an age",
		help: `Deletes the history rows recorded more than AGE ago and the deliveries of
the outbox that finished (succeeded, failed or cancelled) more than AGE ago,
1,000 rows per statement, as the service's PruneHistory does. Pending
deliveries are never deleted. AGE is a number of days (30d) or a duration
(720h). Interrupting it (Ctrl-C) keeps what was deleted; run it again to
go on.

A delivery whose history is pruned can no longer be redelivered by id
unless it is still in the outbox. Prints the counts deleted; with
--dry-run, counts what would be deleted and deletes nothing.`,
		example: progName + " --db /srv/app/webhook.db prune --older-than 30d --dry-run\n" +
			progName + " --db /srv/app/webhook.db prune --older-than 30d\n" +
			progName + " --db /srv/app/webhook.db prune --older-than 720h",
		setup: func(fs *flag.FlagSet) action {
			olderThan := fs.String("older-than", "", "delete what is older than `AGE`: days (30d) or a duration (720h); required")
			dryRun := fs.Bool("dry-run", false, "count what would be deleted, but delete nothing")
			return func(ctx context.Context, a *app, args []string) error {
				if err := noArgs("prune", args, "give the age with --older-than"); err != nil {
					return err
				}
				if *olderThan == "" {
					return usageErrorf("--older-than is required: say how old the rows to delete must be, such as --older-than 30d")
				}
				age, err := parseAge("older-than", *olderThan)
				if err != nil {
					return err
				}
				c, err := a.clientWithoutSecret(false)
				if err != nil {
					return err
				}
				cutoff := time.Now().Add(-age)
				if *dryRun {
					n, err := c.CountPrunable(ctx, age)
					if err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "dry run: would prune %s and %s older than %s (before %s); nothing deleted\n",
						plural(n.History, "history row", "history rows"),
						plural(n.Deliveries, "finished delivery", "finished deliveries"), formatAge(age), formatTime(cutoff))
					return nil
				}
				var deleted struct{ history, deliveries int64 }
				err = a.progress(fmt.Sprintf("pruning history and finished deliveries older than %s (before %s)", formatAge(age), formatTime(cutoff)), func() error {
					res, err := c.PruneHistory(ctx, age)
					deleted.history, deleted.deliveries = res.History, res.Deliveries
					return err
				})
				if err != nil {
					return fmt.Errorf("%s and %s deleted before: %w",
						plural(deleted.history, "history row", "history rows"), plural(deleted.deliveries, "delivery", "deliveries"), err)
				}
				fmt.Fprintf(a.stdout, "pruned %s and %s older than %s\n",
					plural(deleted.history, "history row", "history rows"),
					plural(deleted.deliveries, "finished delivery", "finished deliveries"), formatAge(age))
				return nil
			}
		},
	}
}
