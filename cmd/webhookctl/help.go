package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func helpCommand() *command {
	return &command{
		name:     "help",
		synopsis: "[COMMAND]",
		summary:  "show the help of webhookctl or of one command",
		help:     "Prints the general help, or the flags and an example of COMMAND.",
		example:  progName + " help sync-events",
		setup:    setupOf[helpCmd],
	}
}

// helpCmd is the help command.
type helpCmd struct{ noFlags }

func (*helpCmd) run(_ context.Context, a *app, args []string) error {
	switch len(args) {
	case 0:
		a.printUsage(a.stdout)
		return nil
	case 1:
		cmd := a.lookup(args[0])
		if cmd == nil {
			return a.unknownCommand(args[0])
		}
		a.printCommandUsage(a.stdout, cmd)
		return nil
	default:
		return usageErrorf("help takes at most one command name, got %d", len(args))
	}
}

// printUsage prints the general help.
func (a *app) printUsage(w io.Writer) {
	fmt.Fprintf(w, `%[1]s administers the webhooks of a service that embeds
github.com/scopehook/webhook: it creates the tables, syncs event
definitions and applies webhooks from YAML, sends and redelivers events,
tests endpoints, and shows and prunes what was delivered.

Usage:
  %[1]s [global flags] COMMAND [flags] [arguments]

Commands:
`, progName)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range a.commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, `
Global flags, accepted before or after COMMAND (but before its arguments):
`)
	printFlags(w, a.newFlagSet(progName), func(string) bool { return true },
		[2]string{"-h, --help", "show help; also after any command"},
		[2]string{"--version", "print the version of " + progName + " and of Go, as the version command does (before COMMAND only)"})
	fmt.Fprintf(w, `
Database:
  A --db value starting with postgres:// or postgresql://, or made of
  libpq key=value pairs with host= or dbname= among them (such as
  'host=db.internal dbname=app user=app sslmode=require'), is a PostgreSQL
  DSN. Other URL schemes (mysql://, sqlserver://, ...) are refused (exit
  status 2). Anything else is a SQLite file path (or file: URI), opened
  with the parameters ?%[3]s
  unless it has a ?query of its own. Passwords in a DSN are shown as xxxxx
  in messages.

Environment:
  %[1]s                    default for --db
  %[2]s        the service's private secret, which encrypts
                                webhook credentials (at least 16 bytes; make
                                one with 'openssl rand -base64 32'). Required
                                only by the commands that decrypt or encrypt
                                credentials: apply, broadcast (not with
                                --enqueue), reencrypt, check-secret and
                                serve-admin --workers; the others never read
                                it. It is never taken from a flag, so that it
                                does not show in ps.
  %[5]s   previous private secrets, separated by spaces,
                                tried after %[2]s to decrypt
                                (the service's OldPrivateSecrets); see
                                '%[4]s help reencrypt'
  %[6]s
                                1 to accept secrets shorter than 16 bytes
                                that existing credentials depend on, such as
                                a Python service's PRIVATE_SECRET, until they
                                are rotated (Config.AllowShortPrivateSecret)

Exit status:
  0  success
  1  runtime failure: database unreachable or not migrated, file unreadable,
     a delivery or test request failed, credentials left undecryptable
     (reencrypt) or found undecryptable (check-secret)
  2  usage error: unknown command or flag, bad argument, %[2]s
     unset or too short for a command that needs it (or a variable a file
     or flag names unset)
  3  invalid input data: an events or webhooks file (or other input) failed
     validation, nothing was written; an unknown event, delivery id or
     webhook

Example:
  export %[2]s=...   # the same value as the service
  %[4]s --db /srv/app/webhook.db migrate
  %[4]s --db /srv/app/webhook.db sync-events ./config events.yaml
  %[4]s --db /srv/app/webhook.db apply webhooks.yaml
  %[4]s --db /srv/app/webhook.db check-secret
  %[4]s --db /srv/app/webhook.db broadcast template_update --scope biz:biz1

Run '%[4]s help COMMAND' for the flags and an example of a command.
`, envDB, envSecret, sqliteParams, progName, envOldSecrets, envAllowShort)
}

// printCommandUsage prints the help of one command.
func (a *app) printCommandUsage(w io.Writer, cmd *command) {
	fs := a.newFlagSet(cmd.name)
	cmd.setup(fs)
	synopsis := cmd.name
	if cmd.synopsis != "" {
		synopsis += " " + cmd.synopsis
	}
	fmt.Fprintf(w, "Usage: %s [global flags] %s\n\n%s\n", progName, synopsis, strings.TrimSpace(cmd.help))
	hasOwn := false
	fs.VisitAll(func(f *flag.Flag) { hasOwn = hasOwn || !isGlobalFlag(f.Name) })
	if hasOwn {
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, fs, func(name string) bool { return !isGlobalFlag(name) })
	}
	fmt.Fprintf(w, "\nGlobal flags:\n")
	printFlags(w, fs, isGlobalFlag)
	fmt.Fprintf(w, "\nExample:\n")
	for _, line := range strings.Split(strings.TrimSpace(cmd.example), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, "\nRun '%s help' for the environment variables and exit statuses.\n", progName)
}

func isGlobalFlag(name string) bool { return name == "db" }

// printFlags lists the flags of fs that keep selects, in the --name form,
// followed by the extra rows (name and description).
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(name string) bool, extra ...[2]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	defer tw.Flush()
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	for _, row := range extra {
		fmt.Fprintf(tw, "  %s\t%s\n", row[0], row[1])
	}
}
