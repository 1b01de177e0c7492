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
		synopsis: "[--prune] [--dry-run] BASE_PATH FILENAME",
		summary:  "create or update the events defined in a YAML file",
		help: `Reads the events file BASE_PATH/FILENAME and upserts its events by code,
like the Python package's sync_webhook_events management command (which takes
the same two arguments). FILENAME must be a relative path inside BASE_PATH.
The file looks like:

  version: 1
  events:
    - code: template_update
      name: Template updated
      description: optional prose
      info: {optional: static info sent with every broadcast}

A renamed event or a changed description is updated. Events that the file no
longer lists are kept unless --prune is given. An invalid file is reported
with its line number, exits with status 3 and writes nothing.

Prints how many events were created, updated, left unchanged and removed,
followed by their codes. With --dry-run, prints the same for what a sync
would do (with --prune, the events it would delete) and writes nothing.`,
		example: progName + " --db /srv/app/webhook.db sync-events ./config events.yaml\n" +
			progName + " --db /srv/app/webhook.db sync-events --prune --dry-run ./config events.yaml\n" +
			progName + " --db /srv/app/webhook.db sync-events --prune ./config events.yaml",
		setup: func(flags *flag.FlagSet) action {
			prune := flags.Bool("prune", false, "also delete the events the file no longer lists (their subscriptions are kept, and match again if the event comes back)")
			dryRun := flags.Bool("dry-run", false, "check the file and print what the sync would change (with --prune, what it would delete), but write nothing")
			return func(ctx context.Context, a *app, args []string) error {
				return syncEvents(ctx, a, args, *prune, *dryRun)
			}
		},
	}
}

func syncEvents(ctx context.Context, a *app, args []string, prune, dryRun bool) error {
	if len(args) != 2 {
		return usageErrorf("sync-events takes 2 arguments, BASE_PATH and FILENAME, got %d (flags such as --prune go before them)", len(args))
	}
	base, name := args[0], args[1]
	if base == "" {
		return usageErrorf("BASE_PATH is empty: use . for the current directory")
	}
	// SyncEvents opens FILENAME inside BASE_PATH with os.DirFS, which takes
	// only local paths; --prune checks the same so both modes agree.
	if !filepath.IsLocal(name) {
		return usageErrorf("FILENAME %q must be a relative path inside BASE_PATH, without ..: pass the file's directory as BASE_PATH", name)
	}
	path := filepath.Join(base, name)
	c, err := a.clientWithoutSecret(false)
	if err != nil {
		return err
	}
	var res *webhook.SyncResult
	if dryRun || prune {
		var data []byte
		data, err = readEventsFile(path)
		if err == nil {
			res, err = c.SyncEventsYAML(ctx, path, data, webhook.SyncOptions{Prune: prune, DryRun: dryRun})
		}
	} else {
		res, err = c.SyncEvents(ctx, base, name)
	}
	switch {
	case errors.Is(err, webhook.ErrInvalidEvents):
		return withHint(err, "nothing was written: fix the file and run sync-events again")
	case errors.Is(err, fs.ErrNotExist):
		return withHint(err, "check BASE_PATH and FILENAME: the file read is "+path)
	case err != nil:
		return err
	}
	if dryRun {
		fmt.Fprintf(a.stdout, "dry run: would sync events from %s: %d created, %d updated, %d unchanged, %d removed; nothing written\n",
			printable(path), len(res.Created), len(res.Updated), len(res.Unchanged), len(res.Removed))
		printSyncCodes(a.stdout, res)
		return nil
	}
	printSyncResult(a.stdout, path, res)
	return nil
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
