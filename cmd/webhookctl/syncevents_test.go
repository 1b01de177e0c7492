package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const twoEvents = `version: 1
events:
  - code: template_update
    name: Template updated
    description: a template changed
  - code: template_create
    name: Template created
`

// openTestDB opens the fixture's SQLite file in-process, as the service
// embedding the library would.
func openTestDB(t *testing.T, path string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(sqliteDSN(path)), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlDB.Close() })
	return db
}

// eventCodes returns the codes of the events in the fixture's database.
func eventCodes(t *testing.T, f *fixture) []string {
	t.Helper()
	c, err := webhook.New(openTestDB(t, f.db), webhook.Config{PrivateSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{}
	for _, ev := range events {
		codes = append(codes, ev.Code+"="+ev.Name)
	}
	return codes
}

func wantStdout(t *testing.T, res result, want string) {
	t.Helper()
	if res.stdout != want || res.stderr != "" {
		t.Fatalf("want stdout\n%s\nand no stderr, got %s", want, res)
	}
}

func TestSyncEventsLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	path := "config/events.yaml" // as filepath.Join prints it on Unix
	header := "synced events from " + f.dir + "/" + path + ": "

	res := f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	wantStdout(t, res, header+"2 created, 0 updated, 0 unchanged, 0 removed\ncreated: template_update, template_create\n")

	res = f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	wantStdout(t, res, header+"0 created, 0 updated, 2 unchanged, 0 removed\nunchanged: template_update, template_create\n")

	// A renamed event is updated; the base path may also hold the
	// directory part of the file name.
	f.writeFile("config/events.yaml", strings.Replace(twoEvents, "Template created", "Template added", 1))
	res = f.mustRun("sync-events", f.dir, path)
	wantStdout(t, res, header+"0 created, 1 updated, 1 unchanged, 0 removed\nupdated: template_create\nunchanged: template_update\n")

	// Without --prune an event the file no longer lists is kept.
	f.writeFile("config/events.yaml", "version: 1\nevents:\n  - code: template_update\n    name: Template updated\n    description: a template changed\n  - code: task_done\n    name: Task done\n")
	res = f.mustRun("sync-events", f.dir, path)
	wantStdout(t, res, header+"1 created, 0 updated, 1 unchanged, 0 removed\ncreated: task_done\nunchanged: template_update\n")
	if got, want := eventCodes(t, f), []string{"task_done=Task done", "template_create=Template added", "template_update=Template updated"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events after sync without --prune = %v, want %v", got, want)
	}

	res = f.mustRun("sync-events", "--prune", f.dir, path)
	wantStdout(t, res, header+"0 created, 0 updated, 2 unchanged, 1 removed\nunchanged: template_update, task_done\nremoved: template_create\n")
	if got, want := eventCodes(t, f), []string{"task_done=Task done", "template_update=Template updated"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("events after --prune = %v, want %v", got, want)
	}

	res = f.mustRun("sync-events", "--prune", f.dir, path)
	wantStdout(t, res, header+"0 created, 0 updated, 2 unchanged, 0 removed\nunchanged: template_update, task_done\n")
}

func TestSyncEventsInvalidFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	f.writeFile("events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir, "events.yaml")
	before := eventCodes(t, f)

	cases := []struct {
		name, content, want string
	}{
		{"duplicate code", twoEvents + "  - code: template_update\n    name: Again\n", `events.yaml:8: duplicate event code "template_update" (first defined on line 3)`},
		{"unknown key", strings.Replace(twoEvents, "    description:", "    descripton:", 1), `events.yaml:5: unknown key "descripton"`},
		{"missing name", "version: 1\nevents:\n  - code: a\n    name: A\n  - code: b\n", `events.yaml:5: event "b" has no name`},
		{"empty file", "", "events.yaml:1: the file is empty"},
	}
	for _, tc := range cases {
		f.writeFile("bad.yaml", tc.content)
		for _, args := range [][]string{{"sync-events", f.dir, "bad.yaml"}, {"sync-events", "--prune", f.dir, "bad.yaml"}} {
			res := f.run(args...)
			wantFailure(t, res, exitInvalidInput, "invalid events file", strings.Replace(tc.want, "events.yaml", "bad.yaml", 1), "nothing was written")
		}
	}
	if after := eventCodes(t, f); !reflect.DeepEqual(after, before) {
		t.Fatalf("an invalid file changed the events: %v, want %v", after, before)
	}
}

func TestSyncEventsMissingFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	for _, args := range [][]string{{"sync-events", f.dir, "missing.yaml"}, {"sync-events", "--prune", f.dir, "missing.yaml"}} {
		res := f.run(args...)
		wantFailure(t, res, exitFailure, "missing.yaml", "check BASE_PATH and FILENAME")
	}
	// A base path that does not exist fails the same way.
	wantFailure(t, f.run("sync-events", f.dir+"/nowhere", "events.yaml"), exitFailure, "events.yaml", "check BASE_PATH and FILENAME")
}

// TestSyncEventsSyntaxErrorLines checks that an events file that is not
// valid YAML is reported at the line an editor shows the mistake on, in
// the file:line: form.
func TestSyncEventsSyntaxErrorLines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unclosed quote", strings.Replace(twoEvents, "name: Template updated", `name: "Template updated`, 1),
			"events.yaml:4: not valid YAML: found unexpected end of stream"},
		{"key indented less than its siblings", strings.Replace(twoEvents, "    description:", "   description:", 1),
			"events.yaml:5: not valid YAML: did not find expected '-' indicator"},
		{"tab", strings.Replace(twoEvents, "  - code: template_create", "\t- code: template_create", 1),
			"events.yaml:6: not valid YAML: found a tab character that violates indentation"},
		{"unclosed flow mapping", "version: 1\nevents: [\n  {code: a, name: A\n", "events.yaml:3: not valid YAML: did not find expected ',' or '}'"},
	} {
		f.writeFile("events.yaml", tc.file)
		for _, args := range [][]string{{"sync-events", f.dir, "events.yaml"}, {"sync-events", "--dry-run", f.dir, "events.yaml"}} {
			wantFailure(t, f.run(args...), exitInvalidInput, "invalid events file: "+f.dir+"/"+tc.want, "nothing was written")
		}
	}
}

// TestSyncEventsFileForms checks the forms of the arguments: a single
// path, relative or absolute, and BASE_PATH with an absolute FILENAME, as
// well as BASE_PATH FILENAME.
func TestSyncEventsFileForms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	abs := f.dir + "/config/events.yaml"

	res := f.mustRun("sync-events", "config/events.yaml") // relative to the working directory
	wantStdout(t, res, "synced events from config/events.yaml: 2 created, 0 updated, 0 unchanged, 0 removed\ncreated: template_update, template_create\n")
	res = f.mustRun("sync-events", abs)
	wantStdout(t, res, "synced events from "+abs+": 0 created, 0 updated, 2 unchanged, 0 removed\nunchanged: template_update, template_create\n")
	res = f.mustRun("sync-events", "./config/../config/events.yaml")
	wantStdout(t, res, "synced events from ./config/../config/events.yaml: 0 created, 0 updated, 2 unchanged, 0 removed\nunchanged: template_update, template_create\n")

	// An absolute FILENAME stands alone, as in Python's os.path.join.
	f.writeFile("config/events.yaml", strings.Replace(twoEvents, "Template created", "Template added", 1))
	res = f.mustRun("sync-events", "--dry-run", "/nowhere", abs)
	wantStdout(t, res, "dry run: would sync events from "+abs+": 0 created, 1 updated, 1 unchanged, 0 removed; nothing written\nupdated: template_create\nunchanged: template_update\n")
	res = f.mustRun("sync-events", "--prune", "/nowhere", abs)
	wantStdout(t, res, "synced events from "+abs+": 0 created, 1 updated, 1 unchanged, 0 removed\nupdated: template_create\nunchanged: template_update\n")

	wantFailure(t, f.run("sync-events", "config/missing.yaml"), exitFailure, "config/missing.yaml", "check the path of the events file")
	wantFailure(t, f.run("sync-events", f.dir+"/missing.yaml"), exitFailure, f.dir+"/missing.yaml", "check the path of the events file")
	wantFailure(t, f.run("sync-events", ".", f.dir+"/missing.yaml"), exitFailure, "check FILENAME: the file read is "+f.dir+"/missing.yaml")
	wantFailure(t, f.run("sync-events", "config"), exitUsage, "config is a directory: give the events file in it, such as config/events.yaml")
	wantFailure(t, f.run("sync-events", "config", "../events.yaml"), exitUsage, "or give the file's path alone (sync-events events.yaml)")
	wantFailure(t, f.run("sync-events", ""), exitUsage, "FILE is empty")
}

func TestSyncEventsJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	decode := func(res result) syncJSON {
		t.Helper()
		if res.code != exitOK || res.stderr != "" {
			t.Fatalf("want exit 0 and no stderr, got %s", res)
		}
		var out syncJSON
		dec := json.NewDecoder(strings.NewReader(res.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil || dec.More() {
			t.Fatalf("stdout is not one JSON object of the documented fields (%v):\n%s", err, res.stdout)
		}
		return out
	}
	got := decode(f.run("sync-events", "--json", "config/events.yaml"))
	want := syncJSON{File: "config/events.yaml", Created: []string{"template_update", "template_create"},
		Updated: []string{}, Unchanged: []string{}, Removed: []string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sync-events --json = %+v, want %+v", got, want)
	}
	if res := f.run("sync-events", "--json", "config/events.yaml"); !strings.Contains(res.stdout, `"removed": []`) {
		t.Errorf("empty lists are not []:\n%s", res.stdout)
	}

	f.writeFile("config/events.yaml", "version: 1\nevents:\n  - code: task_done\n    name: Task done\n")
	got = decode(f.run("sync-events", "--json", "--prune", "--dry-run", f.dir+"/config", "events.yaml"))
	want = syncJSON{File: f.dir + "/config/events.yaml", DryRun: true, Prune: true, Created: []string{"task_done"},
		Updated: []string{}, Unchanged: []string{}, Removed: []string{"template_create", "template_update"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sync-events --json --prune --dry-run = %+v, want %+v", got, want)
	}
	if codes := eventCodes(t, f); len(codes) != 2 {
		t.Errorf("--dry-run --json wrote: %v", codes)
	}

	// Errors still go to stderr, with the same exit status, and stdout stays empty.
	f.writeFile("config/bad.yaml", "version: 1\nevents:\n  - code: x\n")
	wantFailure(t, f.run("sync-events", "--json", "config/bad.yaml"), exitInvalidInput, "config/bad.yaml:3: event \"x\" has no name")
}
