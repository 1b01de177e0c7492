package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/scopehook/webhook"
)

func syncEventsCommand() *command {
	return &command{
		name:     "sync-events",
		synopsis: "[--prune] [--dry-run] [--json] FILE | BASE_PATH FILENAME",
		summary:  "create or update the events defined in a YAML file",
		help: `Reads an events file and upserts its events by code. The file is FILE (a
path, relative or absolute), or BASE_PATH/FILENAME as the Python package's
sync_webhook_events management command takes it: FILENAME is then a
relative path inside BASE_PATH, or an absolute path (BASE_PATH is ignored,
as Python's os.path.join does). The file looks like:

  version: 1
  events:
    - code: template_update
      name: Template updated
      description: optional prose
      info: {optional: static info sent with every broadcast}

A renamed event or a changed description is updated. Events that the file no
longer lists are kept unless --prune is given. An invalid file is reported
as FILE:LINE: problem, exits with status 3 and writes nothing.

Prints how many events were created, updated, left unchanged and removed,
followed by their codes. With --dry-run, prints the same for what a sync
would do (with --prune, the events it would delete) and writes nothing.
With --json, prints one JSON object instead: {"file", "dry_run", "prune",
"created", "updated", "unchanged", "removed"}, the last four lists of event
codes. Flags go before the arguments.`,
		example: progName + " --db /srv/app/webhook.db sync-events config/events.yaml\n" +
			progName + " --db /srv/app/webhook.db sync-events ./config events.yaml\n" +
			progName + " --db /srv/app/webhook.db sync-events --prune --dry-run ./config events.yaml\n" +
			progName + " --db /srv/app/webhook.db sync-events --prune --json config/events.yaml",
		setup: setupOf[syncEventsCmd],
	}
}

// syncEventsCmd is the sync-events command.
type syncEventsCmd struct {
	prune, dryRun, json bool
}

// syncJSON is what sync-events --json prints.
type syncJSON struct {
	File      string   `json:"file"`
	DryRun    bool     `json:"dry_run"`
	Prune     bool     `json:"prune"`
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Unchanged []string `json:"unchanged"`
	Removed   []string `json:"removed"`
}

func (c *syncEventsCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.prune, "prune", false, "also delete the events the file no longer lists (their subscriptions are kept, and match again if the event comes back)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "check the file and print what the sync would change (with --prune, what it would delete), but write nothing")
	fs.BoolVar(&c.json, "json", false, "print the result as a JSON object instead of text")
}

func (c *syncEventsCmd) run(ctx context.Context, a *app, args []string) error {
	path, hint, err := eventsFilePath(args)
	if err != nil {
		return err
	}
	data, err := readEventsFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return withHint(err, hint)
		}
		return err
	}
	client, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	res, err := client.SyncEventsYAML(ctx, path, data, webhook.SyncOptions{Prune: c.prune, DryRun: c.dryRun})
	switch {
	case errors.Is(err, webhook.ErrInvalidEvents):
		return withHint(err, "nothing was written: fix the file and run sync-events again")
	case err != nil:
		return err
	}
	if c.json {
		list := func(codes []string) []string {
			if codes == nil {
				return []string{}
			}
			return codes
		}
		return writeJSON(a.stdout, syncJSON{File: path, DryRun: c.dryRun, Prune: c.prune,
			Created: list(res.Created), Updated: list(res.Updated), Unchanged: list(res.Unchanged), Removed: list(res.Removed)})
	}
	if c.dryRun {
		fmt.Fprintf(a.stdout, "dry run: would sync events from %s: %d created, %d updated, %d unchanged, %d removed; nothing written\n",
			printable(path), len(res.Created), len(res.Updated), len(res.Unchanged), len(res.Removed))
		printSyncCodes(a.stdout, res)
		return nil
	}
	printSyncResult(a.stdout, path, res)
	return nil
}

// eventsFilePath returns the events file that the arguments of sync-events
// name (FILE, or BASE_PATH FILENAME), and what to check should it not
// exist.
func eventsFilePath(args []string) (path, hint string, err error) {
	switch len(args) {
	case 1:
		path = args[0]
		if path == "" {
			return "", "", usageErrorf("FILE is empty: give the path of the events file, such as config/events.yaml")
		}
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return "", "", usageErrorf("%s is a directory: give the events file in it, such as %s, or BASE_PATH FILENAME",
				printable(path), printable(filepath.Join(path, "events.yaml")))
		}
		return path, "check the path of the events file", nil
	case 2:
		base, name := args[0], args[1]
		if base == "" {
			return "", "", usageErrorf("BASE_PATH is empty: use . for the current directory")
		}
		if filepath.IsAbs(name) {
			// As os.path.join does: an absolute FILENAME stands alone.
			return name, "check FILENAME: the file read is " + name, nil
		}
		if !filepath.IsLocal(name) {
			return "", "", usageErrorf("FILENAME %q must be a relative path inside BASE_PATH, without .., or an absolute path: "+
				"pass the file's directory as BASE_PATH, or give the file's path alone (sync-events %s)", name, printable(filepath.Join(base, name)))
		}
		path = filepath.Join(base, name)
		return path, "check BASE_PATH and FILENAME: the file read is " + path, nil
	default:
		return "", "", usageErrorf("sync-events takes 1 or 2 arguments, FILE or BASE_PATH and FILENAME, got %d (flags such as --prune go before them)", len(args))
	}
}

// readEventsFile reads an events file, refusing to read more than the
// library accepts.
func readEventsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening events file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, webhook.MaxEventsFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading events file %s: %w", path, err)
	}
	return data, nil // SyncEventsYAML rejects a file over the limit
}

func printSyncResult(w io.Writer, path string, res *webhook.SyncResult) {
	fmt.Fprintf(w, "synced events from %s: %d created, %d updated, %d unchanged, %d removed\n",
		printable(path), len(res.Created), len(res.Updated), len(res.Unchanged), len(res.Removed))
	printSyncCodes(w, res)
}

// printSyncCodes prints the codes of each list of a sync result.
func printSyncCodes(w io.Writer, res *webhook.SyncResult) {
	for _, l := range []struct {
		label string
		codes []string
	}{
		{"created", res.Created}, {"updated", res.Updated}, {"unchanged", res.Unchanged}, {"removed", res.Removed},
	} {
		if len(l.codes) == 0 {
			continue
		}
		shown := make([]string, len(l.codes))
		for i, code := range l.codes {
			shown[i] = printable(code)
		}
		fmt.Fprintf(w, "%s: %s\n", l.label, strings.Join(shown, ", "))
	}
}
