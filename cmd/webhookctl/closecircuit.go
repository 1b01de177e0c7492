package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/scopehook/webhook"
)

func closeCircuitCommand() *command {
	return &command{
		name:     "close-circuit",
		synopsis: "SCOPE_TYPE:SCOPE_CODE WEBHOOK_CODE",
		summary:  "close a webhook's circuit breaker, so that its waiting deliveries are sent",
		help: `Closes the circuit breaker of one webhook at once, as a successful probe
would: its consecutive failure count is reset and the deliveries that
waited while it was open are sent at the workers' next claim. Use it when
the endpoint is known to be back, instead of waiting for the next probe.
'webhooks' shows which circuits are open (the CIRCUIT column).

webhookctl does not send the deliveries: the workers of the service
(Client.Start) do. Closing a circuit that is already closed only resets its
failure count.

Exit status: 0 when the circuit is closed, 3 when no webhook of that scope
has that code, 2 on a usage error, 1 on another failure.`,
		example: progName + " --db /srv/app/webhook.db close-circuit biz:biz1 erp",
		setup:   setupOf[closeCircuitCmd],
	}
}

// closeCircuitCmd is the close-circuit command.
type closeCircuitCmd struct{ noFlags }

func (*closeCircuitCmd) run(ctx context.Context, a *app, args []string) error {
	if len(args) != 2 {
		return usageErrorf("close-circuit takes 2 arguments, SCOPE_TYPE:SCOPE_CODE and WEBHOOK_CODE, got %d", len(args))
	}
	scope, err := parseScopeText(args[0], "SCOPE_TYPE:SCOPE_CODE")
	if err != nil {
		return usageErrorf("scope %q: %w", printable(args[0]), err)
	}
	if args[1] == "" {
		return usageErrorf("WEBHOOK_CODE is empty")
	}
	hook := args[1]
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	// What it was, to say what closing it changed.
	hooks, err := c.Webhooks(ctx, webhook.WebhookQuery{ScopeType: scope.Type, ScopeCode: scope.Code})
	if err != nil {
		return err
	}
	var before *webhook.Circuit
	for i := range hooks {
		if hooks[i].Code == hook {
			before = &hooks[i].Circuit
		}
	}
	if err := c.CloseCircuit(ctx, scope.Type, scope.Code, hook); err != nil {
		if errors.Is(err, webhook.ErrWebhookNotFound) {
			return withHint(err, fmt.Sprintf("check the scope and code with '%s webhooks --scope %s'", progName, printable(scopeText(scope))))
		}
		return err
	}
	what := printable(hook) + " in scope " + printable(scopeText(scope))
	switch {
	case before == nil || before.State == webhook.CircuitClosed:
		fmt.Fprintf(a.stdout, "the circuit of %s was already closed; its failure count is reset\n", what)
	default:
		was := string(before.State)
		if !before.Since.IsZero() {
			was += " since " + formatTime(before.Since)
		}
		if before.Failures > 0 {
			was += ", " + plural(int64(before.Failures), "consecutive failure", "consecutive failures")
		}
		fmt.Fprintf(a.stdout, "closed the circuit of %s (it was %s)\n", what, was)
		fmt.Fprintf(a.stderr, "note: the workers of the service (Client.Start) send its waiting deliveries at their next claim; follow them with '%s deliveries --webhook %s --status pending'\n",
			progName, printable(hook))
	}
	return nil
}
