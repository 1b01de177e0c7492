package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/scopehook/webhook"
)

func instancesCommand() *command {
	return &command{
		name:     "instances",
		synopsis: "[--json]",
		summary:  "list the processes running delivery workers, alive or dead",
		help: `Lists the processes whose delivery workers (Client.Start) ran in the last
hour, newest first: their id, host, pid, library version, number of
workers, when they started, their last heartbeat, whether they are alive
(a heartbeat within the lease duration, so their leases hold; webhookctl
judges it with the library's default, 20s) or dead, and how many pending
deliveries they hold leased. The deliveries of a
dead instance are claimed by the others once its lease expires. No instance
means no process sends the outbox: broadcast --enqueue and redeliver then
stay pending.

With --json, prints a JSON array of the library's Instance.`,
		example: progName + " --db /srv/app/webhook.db instances\n" +
			progName + " --db /srv/app/webhook.db instances --json",
		setup: setupOf[instancesCmd],
	}
}

// instancesCmd is the instances command.
type instancesCmd struct{ json bool }

func (c *instancesCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print a JSON array instead of a table")
}

func (c *instancesCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("instances", args, ""); err != nil {
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	list, err := client.Instances(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if list == nil {
			list = []webhook.Instance{}
		}
		return writeJSON(a.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(a.stderr, "note: no worker instance ran in the last hour: nothing sends the outbox until the service calls Client.Start\n")
	}
	return writeInstancesTable(a.stdout, list)
}

func writeInstancesTable(w io.Writer, list []webhook.Instance) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tPID\tVERSION\tWORKERS\tSTARTED\tLAST_SEEN\tSTATE\tLEASED")
	for _, in := range list {
		state := "alive"
		if !in.Alive {
			state = "dead"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%d\n",
			printable(orDash(in.ID)), truncate(printable(orDash(in.Host)), maxEndpointWidth), in.PID, printable(orDash(in.Version)),
			in.Workers, formatTime(in.StartedAt), formatTime(in.LastSeen), state, in.Leased)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}
