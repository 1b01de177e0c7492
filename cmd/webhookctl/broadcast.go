package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/scopehook/webhook"
)

// errInvalidJSON marks a malformed --info; it exits with status 3.
var errInvalidJSON = errors.New("invalid JSON")

type broadcastFlags struct {
	scopes  scopeList
	info    string
	enqueue bool
}

func broadcastCommand() *command {
	return &command{
		name:         "broadcast",
		synopsis:     "EVENT --scope TYPE:CODE [--scope TYPE:CODE ...] [--info JSON] [--enqueue]",
		summary:      "send an event to the webhooks of scopes that subscribe to it",
		interspersed: true,
		help: `Sends EVENT to every enabled webhook of the given scopes that subscribes to
it (or to all events), as the service's Broadcast does: concurrently, each
retried as its configuration says, every attempt recorded in history. It
waits for every delivery and prints one line per webhook: its scope, the
delivery id, the last HTTP status, the number of attempts, the time taken
and ok or the error. Interrupting it (Ctrl-C) stops the retries.

--info is a JSON object overlaid on the event's stored info in the body; a
"delivery_id" key in it becomes the delivery id of every webhook.

With --enqueue the deliveries are written to the outbox instead (Enqueue)
and their ids printed, one a line: the workers of the service (Client.Start)
send them, retrying over hours; webhookctl does not. Follow them with
'` + progName + ` deliveries --status pending'.

Sending needs the service's private secret in ` + envSecret + ` to decrypt
the webhooks' credentials; --enqueue decrypts nothing and runs without it.

Exit status: 0 when every delivery succeeded (or no webhook subscribes),
1 when any failed, 3 for an event that is not synced or an --info that is
not a JSON object.`,
		example: progName + ` --db /srv/app/webhook.db broadcast template_update --scope biz:biz1 --info '{"template_id": "t1"}'` + "\n" +
			progName + ` --db /srv/app/webhook.db broadcast order_paid --scope shop:s1 --scope shop:s2 --enqueue`,
		setup: func(fs *flag.FlagSet) action {
			var f broadcastFlags
			fs.Var(&f.scopes, "scope", "a scope `TYPE:CODE` whose webhooks receive the event, such as biz:biz1; repeat for several (at least one)")
			fs.StringVar(&f.info, "info", "", "extra info of the event: a JSON `object` overlaid on the event's stored info")
			fs.BoolVar(&f.enqueue, "enqueue", false, "write the deliveries to the outbox for the service's workers instead of sending them now")
			return func(ctx context.Context, a *app, args []string) error {
				return broadcast(ctx, a, args, &f)
			}
		},
	}
}

func broadcast(ctx context.Context, a *app, args []string, f *broadcastFlags) error {
	if len(args) != 1 {
		return usageErrorf("broadcast takes 1 argument, EVENT, got %d", len(args))
	}
	event := args[0]
	if len(f.scopes) == 0 {
		return usageErrorf("no --scope given: name at least one scope TYPE:CODE whose webhooks receive %q", event)
	}
	info, err := parseInfo(f.info)
	if err != nil {
		return err
	}
	open := a.client
	if f.enqueue {
		// Enqueue decrypts nothing: the service's workers do, with its secret.
		open = a.clientWithoutSecret
	}
	c, err := open(false)
	if err != nil {
		return err
	}
	if f.enqueue {
		return enqueue(ctx, a, c, event, f.scopes, info)
	}
	res, err := c.Broadcast(ctx, event, f.scopes, info)
	if err != nil {
		return eventError(err, event)
	}
	if len(res.Deliveries) == 0 {
		fmt.Fprintf(a.stdout, "no enabled webhook of %s subscribes to %s: nothing was sent\n", scopesText(f.scopes), printable(event))
		return nil
	}
	if err := writeDeliveryResults(a.stdout, res.Deliveries); err != nil {
		return err
	}
	failed := res.Failed()
	if res.HistoryErr != nil {
		return withHint(fmt.Errorf("the deliveries were sent as shown, but some attempts were not recorded in history: %w", res.HistoryErr),
			"check the database")
	}
	if len(failed) > 0 {
		return withHint(fmt.Errorf("%d of %s failed", len(failed), plural(int64(len(res.Deliveries)), "delivery", "deliveries")),
			fmt.Sprintf("'%s history --delivery ID' shows each attempt; '%s redeliver ID' sends a delivery again through the service's workers", progName, progName))
	}
	return nil
}

func enqueue(ctx context.Context, a *app, c *webhook.Client, event string, scopes []webhook.Scope, info map[string]any) error {
	ids, err := c.Enqueue(ctx, event, scopes, info)
	if err != nil {
		return eventError(err, event)
	}
	if len(ids) == 0 {
		fmt.Fprintf(a.stderr, "note: no enabled webhook of %s subscribes to %s: nothing was enqueued\n", scopesText(scopes), printable(event))
		return nil
	}
	for _, id := range ids {
		fmt.Fprintln(a.stdout, printable(id))
	}
	fmt.Fprintf(a.stderr, "note: enqueued %s of %s. The workers of the service (Client.Start) send them, not %s: "+
		"follow them with '%s deliveries --status pending'\n", plural(int64(len(ids)), "delivery", "deliveries"), printable(event), progName, progName)
	return nil
}

// eventError adds advice to the error of a broadcast that did not start.
func eventError(err error, event string) error {
	if errors.Is(err, webhook.ErrEventNotFound) {
		return withHint(err, fmt.Sprintf("sync an events file that defines %q with '%s sync-events', or check the spelling", printable(event), progName))
	}
	return err
}

// parseInfo reads --info: empty, or a JSON object.
func parseInfo(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var info map[string]any
	err := dec.Decode(&info)
	if err == nil && info == nil {
		err = errors.New("it is null")
	}
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("text follows the object")
		}
	}
	if err != nil {
		return nil, withHint(fmt.Errorf("%w: --info is not a JSON object: %v", errInvalidJSON, err),
			`quote the object for the shell, as in --info '{"template_id": "t1"}'`)
	}
	return info, nil
}

func scopesText(scopes []webhook.Scope) string {
	l := scopeList(scopes)
	return printable(l.String())
}

// writeDeliveryResults prints one line per delivery of a broadcast.
func writeDeliveryResults(w io.Writer, ds []webhook.DeliveryResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WEBHOOK\tSCOPE\tDELIVERY\tSTATUS\tATTEMPTS\tDURATION\tRESULT")
	for _, d := range ds {
		status := "-"
		if d.StatusCode != 0 {
			status = strconv.Itoa(d.StatusCode)
		}
		result := "ok"
		if !d.Success {
			result = "error"
			if d.Err != nil {
				result += ": " + printable(d.Err.Error())
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", printable(d.WebhookCode), printable(d.ScopeType+":"+d.ScopeCode),
			printable(d.DeliveryID), status, d.Attempts, roundDuration(d.Duration), result)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}
