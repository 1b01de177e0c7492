package main

import (
	"context"
	"fmt"
)

func migrateCommand() *command {
	return &command{
		name:    "migrate",
		summary: "create the webhook tables, or bring existing ones up to date",
		help: `Creates the webhook tables (webhook_event, webhook_webhook,
webhook_subscription, webhook_scope, webhook_history), or adds the columns
and indexes that tables created by the Python package or an older version
lack. It never drops or retypes a column and is safe to run again. A SQLite
file that does not exist is created.`,
		example: progName + " --db /srv/app/webhook.db migrate\n" +
			progName + " --db 'postgres://app@db.internal/app?sslmode=require' migrate",
		setup: setupOf[migrateCmd],
	}
}

// migrateCmd is the migrate command.
type migrateCmd struct{ noFlags }

func (*migrateCmd) run(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 {
		return usageErrorf("migrate takes no arguments, got %q", args)
	}
	c, err := a.clientWithoutSecret(true)
	if err != nil {
		return err
	}
	if err := c.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating %s: %w", redactDSN(a.dsn()), err)
	}
	fmt.Fprintf(a.stdout, "migrated %s\n", redactDSN(a.dsn()))
	return nil
}
