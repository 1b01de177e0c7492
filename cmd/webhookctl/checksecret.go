package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/scopehook/webhook"
)

func checkSecretCommand() *command {
	return &command{
		name:    "check-secret",
		summary: "check that the private secret decrypts every stored credential",
		help: `Decrypts every stored credential (auth tokens and passwords, header values,
signing secrets) with ` + envSecret + ` and the old secrets listed,
separated by spaces, in ` + envOldSecrets + `, and prints how many decrypt
with the current secret, how many only with an old one, how many are stored
in plain text, and each credential that no secret decrypts: its scope,
webhook and field, never its value. Nothing is written and nothing is sent.

Run it when the service's secret is set or changed, before deliveries start
failing with "cannot decrypt credential"; and before dropping an old secret,
check that no credential needs it any more (run reencrypt first).

Exit status: 0 when every credential decrypts, 1 when some do not (or a
webhook's extra_info does not parse).`,
		example: progName + " --db /srv/app/webhook.db check-secret   # with " + envSecret + " (and " + envOldSecrets + ") exported",
		setup:   setupOf[checkSecretCmd],
	}
}

// checkSecretCmd is the check-secret command.
type checkSecretCmd struct{ noFlags }

func (*checkSecretCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("check-secret", args, "the secrets come from "+envSecret+" and "+envOldSecrets); err != nil {
		return err
	}
	c, err := a.client(false)
	if err != nil {
		return err
	}
	res, err := c.CheckSecret(ctx)
	if err != nil && !errors.Is(err, webhook.ErrDecrypt) && !errors.Is(err, webhook.ErrInvalidWebhook) {
		return err // the database
	}
	printSecretCheck(a, res)
	if !res.OK() {
		return withHint(fmt.Errorf("%s of %s cannot be read with the configured secrets",
			plural(int64(len(res.Failures)), "credential", "credentials"), plural(int64(failedWebhooks(res)), "webhook", "webhooks")),
			"check that "+envSecret+" is the service's secret; add the secret those were written with to "+envOldSecrets+
				" (separated by spaces), or apply those webhooks again with their credentials")
	}
	return nil
}

// printSecretCheck prints the counts of a CheckSecret result, each failure
// on a line of its own, and notes on what to do next.
func printSecretCheck(a *app, res webhook.CheckSecretResult) {
	decryptFailures := 0
	for _, f := range res.Failures {
		if errors.Is(f.Err, webhook.ErrDecrypt) {
			decryptFailures++
		}
	}
	fmt.Fprintf(a.stdout, "examined %s, %s: %s with the current secret, %d with an old secret, %d stored in plain text, %s\n",
		plural(int64(res.Webhooks), "webhook", "webhooks"), plural(int64(res.Credentials), "credential", "credentials"),
		plural(int64(res.Current), "decrypts", "decrypt"), res.Old, res.Plain, plural(int64(decryptFailures), "fails", "fail"))
	for _, f := range res.Failures {
		// The error names the cause (an unknown key id, a failed
		// authentication, a malformed column), never a value.
		fmt.Fprintf(a.stdout, "failed: %s/%s %s: %s\n", printable(f.Scope.String()), printable(f.WebhookCode), printable(f.Field), printable(f.Err.Error()))
	}
	if res.Old > 0 {
		fmt.Fprintf(a.stderr, "note: %s an old secret from %s: run '%s reencrypt' before dropping it\n",
			plural(int64(res.Old), "credential still needs", "credentials still need"), envOldSecrets, progName)
	}
	if res.Plain > 0 {
		fmt.Fprintf(a.stderr, "note: %s stored in plain text; '%s reencrypt' encrypts them\n",
			plural(int64(res.Plain), "credential is", "credentials are"), progName)
	}
}

// failedWebhooks counts the distinct webhooks among the failures.
func failedWebhooks(res webhook.CheckSecretResult) int {
	seen := map[[3]string]bool{}
	for _, f := range res.Failures {
		seen[[3]string{f.Scope.Type, f.Scope.Code, f.WebhookCode}] = true
	}
	return len(seen)
}
