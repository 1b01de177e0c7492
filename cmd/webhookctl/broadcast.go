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
	"strings"
	"text/tabwriter"

	"github.com/scopehook/webhook"
)

// errInvalidJSON marks a malformed --info; it exits with status 3.
var errInvalidJSON = errors.New("invalid JSON")

// broadcastCmd is the broadcast command.
type broadcastCmd struct {
	scopes  scopeList
	info    string
	enqueue bool
	json    bool
	net     networkFlags
}

// broadcastJSON is what broadcast --json prints.
type broadcastJSON struct {
	Event   string      `json:"event"`
	Scopes  []scopeJSON `json:"scopes"`
	Enqueue bool        `json:"enqueue"`
	// DeliveryIDs are the ids of the deliveries sent, or enqueued.
	DeliveryIDs []string `json:"delivery_ids"`
	// Deliveries are the results of the deliveries sent; empty with
	// --enqueue.
	Deliveries []deliveryResultJSON `json:"deliveries"`
	Failed     int                  `json:"failed"`
}

// deliveryResultJSON is one delivery of broadcastJSON.
type deliveryResultJSON struct {
	DeliveryID string    `json:"delivery_id"`
	Webhook    string    `json:"webhook"`
	Scope      scopeJSON `json:"scope"`
	Success    bool      `json:"success"`
	StatusCode int       `json:"status_code"`
	Attempts   int       `json:"attempts"`
	DurationUS int64     `json:"duration_us"`
	Error      string    `json:"error,omitempty"`
}

func broadcastCommand() *command {
	return &command{
		name:         "broadcast",
		synopsis:     "EVENT --scope TYPE:CODE [--scope TYPE:CODE ...] [--info JSON] [--enqueue] [--json] [--deny-private] [--allow-network CIDR ...] [--egress-proxy URL]",
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

The SSRF guard applies as in the service: link-local and cloud metadata
addresses are always refused. Give webhookctl the service's settings:
--deny-private (DenyPrivateNetworks) also refuses loopback and private
addresses, --allow-network CIDR (AllowNetworks) lets some through, and
--egress-proxy URL (EgressProxy; --egress-proxy-env VAR for a URL with a
password) sends every request through an egress proxy. With --enqueue the
service's workers send, under the service's settings: these flags are
refused.

With --json, prints one JSON object instead of the table: {"event",
"scopes", "enqueue", "delivery_ids", "deliveries": [{"delivery_id",
"webhook", "scope", "success", "status_code", "attempts", "duration_us",
"error"}], "failed"}; with --enqueue, "deliveries" is empty and
"delivery_ids" lists the deliveries enqueued.

Exit status: 0 when every delivery succeeded (or no webhook subscribes),
1 when any failed, 3 for an event that is not synced or an --info that is
not a JSON object.`,
		example: progName + ` --db /srv/app/webhook.db broadcast template_update --scope biz:biz1 --info '{"template_id": "t1"}'` + "\n" +
			progName + ` --db /srv/app/webhook.db broadcast order_paid --scope shop:s1 --scope shop:s2 --enqueue` + "\n" +
			progName + ` --db /srv/app/webhook.db broadcast template_update --scope biz:biz1 --json --deny-private --allow-network 127.0.0.1/32`,
		setup: setupOf[broadcastCmd],
	}
}

func (c *broadcastCmd) flags(fs *flag.FlagSet) {
	fs.Var(&c.scopes, "scope", "a scope `TYPE:CODE` whose webhooks receive the event, such as biz:biz1; repeat for several (at least one)")
	fs.StringVar(&c.info, "info", "", "extra info of the event: a JSON `object` overlaid on the event's stored info")
	fs.BoolVar(&c.enqueue, "enqueue", false, "write the deliveries to the outbox for the service's workers instead of sending them now")
	fs.BoolVar(&c.json, "json", false, "print the deliveries as a JSON object instead of a table")
	c.net.register(fs)
}

func (c *broadcastCmd) run(ctx context.Context, a *app, args []string) error {
	if len(args) != 1 {
		return usageErrorf("broadcast takes 1 argument, EVENT, got %d", len(args))
	}
	event := args[0]
	if len(c.scopes) == 0 {
		return usageErrorf("no --scope given: name at least one scope TYPE:CODE whose webhooks receive %q", event)
	}
	info, err := parseInfo(c.info)
	if err != nil {
		return err
	}
	if c.enqueue {
		if given := c.net.given(); len(given) > 0 {
			return usageErrorf("%s set how %s sends, but with --enqueue the workers of the service send, with its configuration: drop %s or --enqueue",
				strings.Join(given, ", "), progName, strings.Join(given, ", "))
		}
		// Enqueue decrypts nothing: the service's workers do, with its secret.
		client, err := a.clientWithoutSecret(false)
		if err != nil {
			return err
		}
		return c.enqueueEvent(ctx, a, client, event, info)
	}
	eg, err := c.net.resolve(a.getenv)
	if err != nil {
		return err
	}
	cfg, err := a.clientConfig()
	if err != nil {
		return err
	}
	eg.applyTo(&cfg)
	client, err := a.openClient(false, cfg, true)
	if err != nil {
		return err
	}
	res, err := client.Broadcast(ctx, event, c.scopes, info)
	if err != nil {
		return eventError(err, event)
	}
	failed := res.Failed()
	switch {
	case c.json:
		if err := writeJSON(a.stdout, c.resultJSON(event, res.Deliveries, len(failed))); err != nil {
			return err
		}
	case len(res.Deliveries) == 0:
		fmt.Fprintf(a.stdout, "no enabled webhook of %s subscribes to %s: nothing was sent\n", scopesText(c.scopes), printable(event))
		return nil
	default:
		if err := writeDeliveryResults(a.stdout, res.Deliveries); err != nil {
			return err
		}
	}
	if res.HistoryErr != nil {
		return withHint(fmt.Errorf("the deliveries were sent as shown, but some attempts were not recorded in history: %w", res.HistoryErr),
			"check the database")
	}
	if len(failed) > 0 {
		hint := fmt.Sprintf("'%s history --delivery ID' shows each attempt; '%s redeliver ID' sends a delivery again through the service's workers", progName, progName)
		for _, d := range failed {
			if errors.Is(d.Err, webhook.ErrForbiddenAddress) {
				hint += "; the SSRF guard refused an address, which --allow-network CIDR lets through (as the service's AllowNetworks does)"
				break
			}
		}
		return withHint(fmt.Errorf("%d of %s failed", len(failed), plural(int64(len(res.Deliveries)), "delivery", "deliveries")), hint)
	}
	return nil
}

// resultJSON is the --json document of a broadcast that sent deliveries.
func (c *broadcastCmd) resultJSON(event string, ds []webhook.DeliveryResult, failed int) broadcastJSON {
	out := c.emptyJSON(event)
	out.Failed = failed
	for _, d := range ds {
		r := deliveryResultJSON{
			DeliveryID: d.DeliveryID, Webhook: d.WebhookCode, Scope: scopeJSON{d.ScopeType, d.ScopeCode},
			Success: d.Success, StatusCode: d.StatusCode, Attempts: d.Attempts, DurationUS: d.Duration.Microseconds(),
		}
		if !d.Success && d.Err != nil {
			r.Error = d.Err.Error()
		}
		out.DeliveryIDs = append(out.DeliveryIDs, d.DeliveryID)
		out.Deliveries = append(out.Deliveries, r)
	}
	return out
}

// emptyJSON is the --json document of a broadcast, before its deliveries.
func (c *broadcastCmd) emptyJSON(event string) broadcastJSON {
	out := broadcastJSON{Event: event, Enqueue: c.enqueue, Scopes: make([]scopeJSON, len(c.scopes)),
		DeliveryIDs: []string{}, Deliveries: []deliveryResultJSON{}}
	for i, s := range c.scopes {
		out.Scopes[i] = scopeJSON{s.Type, s.Code}
	}
	return out
}

func (c *broadcastCmd) enqueueEvent(ctx context.Context, a *app, client *webhook.Client, event string, info map[string]any) error {
	ids, err := client.Enqueue(ctx, event, c.scopes, info)
	if err != nil {
		return eventError(err, event)
	}
	if c.json {
		out := c.emptyJSON(event)
		out.DeliveryIDs = append(out.DeliveryIDs, ids...)
		if err := writeJSON(a.stdout, out); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		fmt.Fprintf(a.stderr, "note: no enabled webhook of %s subscribes to %s: nothing was enqueued\n", scopesText(c.scopes), printable(event))
		return nil
	}
	if !c.json {
		for _, id := range ids {
			fmt.Fprintln(a.stdout, printable(id))
		}
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
