// Command webhookctl administers the webhooks of a service that embeds
// github.com/scopehook/webhook: it creates or upgrades the tables, syncs
// event definitions and applies webhooks and subscriptions from YAML files,
// lists webhooks (and closes their circuit breakers), the outbox and the
// worker instances, broadcasts events, tests endpoints, redelivers failed
// deliveries, shows and prunes the delivery history, checks that the
// private secret decrypts the stored credentials and re-encrypts them after
// a change of private secret.
//
// Usage:
//
//	webhookctl [--db DSN] COMMAND [flags] [arguments]
//
// The database is a SQLite file path or a PostgreSQL DSN (a postgres:// or
// postgresql:// URL, or libpq key=value pairs with host= or dbname=), given
// by --db or the WEBHOOK_DB environment variable; other URL schemes are
// refused. The private secret that encrypts
// webhook credentials is read from WEBHOOK_PRIVATE_SECRET only, so that it
// never shows in the process list; only the commands that decrypt or
// encrypt credentials need it (apply, broadcast without --enqueue,
// reencrypt, check-secret and serve-admin --workers).
//
// Exit status: 0 on success, 1 on a runtime failure (database, file system,
// delivery), 2 on a usage error (unknown command or flag, bad argument,
// WEBHOOK_PRIVATE_SECRET unset or too short for a command that needs it)
// and 3 on invalid input data (such as an events or webhooks file that
// fails validation, an unknown event, delivery id or webhook). Run
// "webhookctl help" for details; "webhookctl version" (or --version) prints
// the library's version and the Go version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/suggest"
)

const progName = "webhookctl"

// Exit statuses that scripts can rely on.
const (
	exitOK           = 0
	exitFailure      = 1
	exitUsage        = 2
	exitInvalidInput = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status. It reads
// the environment through env and writes only to stdout and stderr, so that
// tests can call it like the real process.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: env, commands: commands()}
	defer a.close()
	return a.run(ctx, args)
}

// command is one entry of the command table: its documentation and how
// to run it. Adding a command means writing, in a file of its own, a type
// that holds its flags and has the runner methods, a constructor returning
// its entry with setup: setupOf[thatType], and listing it in commands.
type command struct {
	name     string
	synopsis string // what follows the name on the usage line
	summary  string // one line for the command list
	help     string // the description printed by "help COMMAND"
	example  string // one or more example invocations, one a line
	// setup registers the command's flags on fs and returns the function
	// that runs the command with the arguments left after the flags.
	setup func(fs *flag.FlagSet) action
	// interspersed lets flags follow the arguments (broadcast EVENT
	// --scope biz:biz1); otherwise the first argument ends the flags.
	interspersed bool
}

// action runs a command with its positional arguments.
type action func(ctx context.Context, a *app, args []string) error

// runner is a command: a struct holding its flags, registered by flags,
// and its body, run.
type runner interface {
	flags(fs *flag.FlagSet)
	run(ctx context.Context, a *app, args []string) error
}

// setupOf is the setup of the command whose flags and body are those of a
// new T: each invocation parses into a value of its own.
func setupOf[T any, P interface {
	*T
	runner
}](fs *flag.FlagSet) action {
	r := P(new(T))
	r.flags(fs)
	return r.run
}

// noFlags is embedded by the commands that take no flags of their own.
type noFlags struct{}

func (noFlags) flags(*flag.FlagSet) {}

// commands returns the command table, in the order the help lists it.
func commands() []*command {
	return []*command{
		migrateCommand(),
		syncEventsCommand(),
		applyCommand(),
		webhooksCommand(),
		closeCircuitCommand(),
		broadcastCommand(),
		verifyCommand(),
		deliveriesCommand(),
		instancesCommand(),
		statusCommand(),
		changesCommand(),
		redeliverCommand(),
		historyCommand(),
		pruneCommand(),
		reencryptCommand(),
		checkSecretCommand(),
		serveAdminCommand(),
		versionCommand(),
		helpCommand(),
	}
}

// app holds what one invocation needs: its outputs, its environment, the
// global flags and the database once a command opens it.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	commands       []*command

	dbFlag string // the value of --db; empty when not given
	db     *dbHandle
}

func (a *app) lookup(name string) *command {
	for _, c := range a.commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// unknownCommand is the usage error for a command name that is not in the
// table, suggesting the commands within maxSuggestDistance edits of it.
func (a *app) unknownCommand(name string) error {
	if s := a.suggestCommands(name); len(s) > 0 {
		quoted := make([]string, len(s))
		for i, c := range s {
			quoted[i] = strconv.Quote(c)
		}
		return usageErrorf("unknown command %q: did you mean %s?", printable(name), strings.Join(quoted, " or "))
	}
	return usageErrorf("unknown command %q", printable(name))
}

// maxSuggestDistance is how many edits away from a command name a
// misspelled one may be to be suggested.
const maxSuggestDistance = 2

// suggestCommands returns the command names nearest to name, in table
// order, when they are at most maxSuggestDistance edits away.
func (a *app) suggestCommands(name string) []string {
	best, bestDist := []string(nil), maxSuggestDistance+1
	lower := strings.ToLower(name)
	for _, c := range a.commands {
		switch d := suggest.Distance(lower, c.name); {
		case d > maxSuggestDistance:
		case d < bestDist:
			best, bestDist = []string{c.name}, d
		case d == bestDist:
			best = append(best, c.name)
		}
	}
	return best
}

// newFlagSet returns a flag set that reports errors to the caller instead of
// printing them, with the global flags registered. Global flags are thus
// accepted both before and after the command name.
func (a *app) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.dbFlag, "db", a.dbFlag, "the database: a SQLite file path or a PostgreSQL `DSN` (default $"+envDB+", else "+defaultDB+")")
	return fs
}

func (a *app) run(ctx context.Context, args []string) int {
	top := a.newFlagSet(progName)
	showVersion := top.Bool("version", false, "print the version and exit")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.printUsage(a.stdout)
			return exitOK
		}
		return a.fail(nil, usageErrorf("%w", err))
	}
	rest := top.Args()
	if *showVersion {
		if len(rest) > 0 {
			return a.fail(nil, usageErrorf("--version takes no command, got %q: run '%s --version' alone", rest, progName))
		}
		a.printVersion(a.stdout)
		return exitOK
	}
	if len(rest) == 0 {
		return a.fail(nil, usageErrorf("no command given"))
	}
	cmd := a.lookup(rest[0])
	if cmd == nil {
		return a.fail(nil, a.unknownCommand(rest[0]))
	}
	fs := a.newFlagSet(cmd.name)
	act := cmd.setup(fs)
	cmdArgs, err := parseFlags(fs, rest[1:], cmd.interspersed)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.printCommandUsage(a.stdout, cmd)
			return exitOK
		}
		return a.fail(cmd, usageErrorf("%w", err))
	}
	if err := act(ctx, a, cmdArgs); err != nil {
		return a.fail(cmd, err)
	}
	return exitOK
}

// parseFlags parses args with fs and returns the arguments that are not
// flags. With interspersed, flags may also follow arguments; "--" ends the
// flags either way.
func parseFlags(fs *flag.FlagSet, args []string, interspersed bool) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if !interspersed || len(rest) == 0 {
			return append(positional, rest...), nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// fail prints err, and what to do about it, to stderr and returns the exit
// status it calls for.
func (a *app) fail(cmd *command, err error) int {
	code := exitCode(err)
	prefix := progName + ": "
	if cmd != nil && cmd.name != "help" {
		prefix += cmd.name + ": "
	}
	fmt.Fprintf(a.stderr, "%s%s\n", prefix, err)
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(a.stderr, "%s%s\n", progName+": ", hint)
	}
	if code == exitUsage {
		if cmd != nil {
			fmt.Fprintf(a.stderr, "Run '%s help %s' for usage.\n", progName, cmd.name)
		} else {
			fmt.Fprintf(a.stderr, "Run '%s help' for usage.\n", progName)
		}
	}
	return code
}

// exitCode maps an error to the documented exit status.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, webhook.ErrInvalidArgument):
		return exitUsage
	case errors.Is(err, webhook.ErrInvalidEvents), errors.Is(err, webhook.ErrInvalidWebhook),
		errors.Is(err, webhook.ErrInvalidSubscription), errors.Is(err, errInvalidFile),
		errors.Is(err, webhook.ErrEventNotFound), errors.Is(err, webhook.ErrDeliveryNotFound),
		errors.Is(err, webhook.ErrWebhookNotFound), errors.Is(err, errInvalidJSON):
		return exitInvalidInput
	default:
		return exitFailure
	}
}

// usageError is a mistake in the command line or the environment; it exits
// with status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// hintedError carries advice on what to do, printed on its own line after
// the error.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() }
func (e *hintedError) Unwrap() error { return e.err }

// withHint attaches advice to err; it returns nil when err is nil.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintedError{err: err, hint: hint}
}

// hintFor returns the advice attached to err, or advice for a few errors
// whose cause is commonly known.
func hintFor(err error) string {
	var he *hintedError
	if errors.As(err, &he) {
		return he.hint
	}
	msg := err.Error()
	if strings.Contains(msg, "no such table") || strings.Contains(msg, "SQLSTATE 42P01") {
		return "the webhook tables are missing: run '" + progName + " migrate' first, or check --db"
	}
	return ""
}
