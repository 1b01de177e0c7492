package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/scopehook/webhook"
)

func changesCommand() *command {
	return &command{
		name:     "changes",
		synopsis: "[--scope TYPE:CODE] [--webhook CODE] [--limit N] [--json]",
		summary:  "show who changed which webhook, when, and what (the change log)",
		help: `Lists the change log of webhooks made one at a time (the api and portal
packages, Client.CreateWebhook, UpdateWebhook, DeleteWebhook,
RotateWebhookSecret, SendTestEvent), newest first: when, who (the actor the
caller named), the action, the webhook and the fields changed. Secret
values never appear: a changed credential shows as "changed".

With --json, prints a JSON array of the library's WebhookChange.`,
		example: progName + " --db /srv/app/webhook.db changes --scope shop:s1 --webhook erp\n" +
			progName + " --db /srv/app/webhook.db changes --json --limit 10",
		setup: setupOf[changesCmd],
	}
}

// changesCmd is the changes command.
type changesCmd struct {
	scope, webhook string
	limit          int
	json           bool
}

func (c *changesCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.scope, "scope", "", "only the changes in scope `TYPE:CODE`")
	fs.StringVar(&c.webhook, "webhook", "", "only the changes of webhook `CODE`")
	fs.IntVar(&c.limit, "limit", webhook.DefaultHistoryLimit, fmt.Sprintf("show at most `N` changes, 1 to %d (default %d)", webhook.MaxHistoryLimit, webhook.DefaultHistoryLimit))
	fs.BoolVar(&c.json, "json", false, "print a JSON array instead of a table")
}

func (c *changesCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("changes", args, "use the flags to filter"); err != nil {
		return err
	}
	q := webhook.WebhookChangeQuery{WebhookCode: c.webhook, Limit: c.limit}
	if c.scope != "" {
		s, err := parseScope("scope", c.scope)
		if err != nil {
			return err
		}
		q.Scope = s
	}
	if c.limit < 1 || c.limit > webhook.MaxHistoryLimit {
		return usageErrorf("--limit %d: want 1 to %d", c.limit, webhook.MaxHistoryLimit)
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	list, err := client.WebhookChanges(ctx, q)
	if err != nil {
		return err
	}
	if c.json {
		if list == nil {
			list = []webhook.WebhookChange{}
		}
		return writeJSON(a.stdout, list)
	}
	return writeChanges(a.stdout, list)
}

// writeChanges prints one line per change and its fields, indented, under it.
func writeChanges(w io.Writer, list []webhook.WebhookChange) error {
	var b strings.Builder
	for _, ch := range list {
		fmt.Fprintf(&b, "%s  %-13s %s %s  by %s\n", formatTime(ch.At), ch.Action, printable(ch.Scope.String()), printable(ch.WebhookCode), printable(ch.Actor))
		if len(ch.Changes) > 2 {
			fmt.Fprintf(&b, "    %s\n", printable(string(ch.Changes)))
		}
	}
	if len(list) == 0 {
		b.WriteString("no change recorded\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
