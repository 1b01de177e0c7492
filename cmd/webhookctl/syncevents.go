package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
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
	if dryRun {
		var data []byte
		data, err = readEventsFile(path)
		if err == nil {
			res, err = syncDryRun(ctx, c, path, data, prune)
		}
	} else if prune {
		var data []byte
		data, err = readEventsFile(path)
		if err == nil {
			res, err = c.SyncEventsYAML(ctx, path, data, webhook.SyncOptions{Prune: true})
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

// syncDryRun says what SyncEventsYAML would do with data, without writing:
// it parses the file as the library does (ParseEvents) and compares it with
// the stored events, read with a read-only query, as the library's sync
// compares them (name, description, info as JSON values). The library has
// no dry run of its own.
func syncDryRun(ctx context.Context, c *webhook.Client, path string, data []byte, prune bool) (*webhook.SyncResult, error) {
	if len(data) > webhook.MaxEventsFileBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", webhook.ErrInvalidEvents, path, len(data), webhook.MaxEventsFileBytes)
	}
	events, err := webhook.ParseEvents(path, data)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Code, Name  string
		Description *string
		Info        *string
	}
	if err := c.DB().WithContext(ctx).Table("webhook_event").Select("code, name, description, info").Order("code").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("loading events: %w", err)
	}
	type stored struct {
		name, description string
		info              any
		infoOK            bool
	}
	byCode := make(map[string]stored, len(rows))
	for _, r := range rows {
		st := stored{name: r.Name, infoOK: true}
		if r.Description != nil {
			st.description = *r.Description
		}
		if r.Info != nil && *r.Info != "" {
			st.infoOK = json.Unmarshal([]byte(*r.Info), &st.info) == nil
		}
		byCode[r.Code] = st
	}
	res := &webhook.SyncResult{}
	listed := make(map[string]bool, len(events))
	for _, ev := range events {
		listed[ev.Code] = true
		old, ok := byCode[ev.Code]
		if !ok {
			res.Created = append(res.Created, ev.Code)
			continue
		}
		var info any
		if ev.Info != nil {
			b, err := json.Marshal(ev.Info)
			if err != nil {
				return nil, fmt.Errorf("%w: event %q: info cannot be encoded as JSON: %v", webhook.ErrInvalidEvents, ev.Code, err)
			}
			_ = json.Unmarshal(b, &info)
		}
		if old.infoOK && old.name == ev.Name && old.description == ev.Description && reflect.DeepEqual(old.info, info) {
			res.Unchanged = append(res.Unchanged, ev.Code)
		} else {
			res.Updated = append(res.Updated, ev.Code)
		}
	}
	if prune {
		for _, r := range rows { // by code, as the library sorts them
			if !listed[r.Code] {
				res.Removed = append(res.Removed, r.Code)
			}
		}
		if len(res.Removed) > 0 && len(events) == 0 {
			return nil, fmt.Errorf("%w: refusing to prune: the file lists no event, which would delete all %d (a truncated file?)", webhook.ErrInvalidEvents, len(res.Removed))
		}
	}
	return res, nil
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
