package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

func reencryptCommand() *command {
	return &command{
		name:    "reencrypt",
		summary: "rewrite stored credentials under the current private secret",
		help: `Rewrites every stored credential (auth tokens and passwords, header values,
signing secrets) that is not encrypted under ` + envSecret + ` (the new
secret): values written under one of the old secrets listed, separated by
spaces, in ` + envOldSecrets + `, by the Python package, or in plain
text. It works in batches, only touches a webhook whose configuration did
not change meanwhile, and can be run again: it resumes, and changes nothing
once done.

To change the private secret: give the service the new secret as its
PrivateSecret and the old one in OldPrivateSecrets, run reencrypt with the
same two, then drop the old secret from the service. Credentials are
rewritten in the library's own format, which the Python package cannot
read: do not run reencrypt while a Python service shares the database.
'` + progName + ` check-secret' shows, before and after, how many credentials
need an old secret. To rotate away from a secret shorter than 16 bytes, set
` + envAllowShort + `=1 for that run.

Prints how many webhooks were examined and rewritten, and the webhooks
whose credentials no configured secret decrypts: those are left as they
are, and the command exits with status 1.`,
		example: progName + " --db /srv/app/webhook.db reencrypt   # with " + envSecret + "=NEW and " + envOldSecrets + "='OLD OLDER' exported",
		setup:   setupOf[reencryptCmd],
	}
}

// reencryptCmd is the reencrypt command.
type reencryptCmd struct{ noFlags }

func (*reencryptCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("reencrypt", args, "the secrets come from "+envSecret+" and "+envOldSecrets); err != nil {
		return err
	}
	c, err := a.client(false)
	if err != nil {
		return err
	}
	if strings.TrimSpace(a.getenv(envOldSecrets)) == "" {
		fmt.Fprintf(a.stderr, "note: %s is empty: only credentials stored in plain text can be rewritten; "+
			"list the previous secrets there to re-encrypt what they encrypted\n", envOldSecrets)
	}
	var res reencryptCounts
	err = a.progress("re-encrypting the credentials of every webhook", func() error {
		r, err := c.ReencryptCredentials(ctx)
		if r != nil {
			res = reencryptCounts{r.Webhooks, r.Rewritten, r.Failed}
		}
		return err
	})
	if err != nil && len(res.failed) == 0 && res.webhooks == 0 {
		return err
	}
	fmt.Fprintf(a.stdout, "examined %s: %d rewritten under the current secret, %d failed\n",
		plural(int64(res.webhooks), "webhook", "webhooks"), res.rewritten, len(res.failed))
	for _, name := range res.failed {
		fmt.Fprintf(a.stdout, "failed: %s\n", printable(name))
	}
	switch {
	case len(res.failed) > 0:
		return withHint(errors.New(plural(int64(len(res.failed)), "webhook keeps", "webhooks keep")+" credentials that no configured secret decrypts"),
			"add the secret they were written with to "+envOldSecrets+" (separated by spaces) and run reencrypt again, or apply those webhooks again with their credentials")
	case err != nil:
		return err
	}
	return nil
}

type reencryptCounts struct {
	webhooks, rewritten int
	failed              []string
}
