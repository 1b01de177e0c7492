package webhook

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// sampleInfo is the info of template_update in testdata/events/events.yaml,
// as it comes back from the database.
var sampleInfo = map[string]any{
	"source":  "bkflow",
	"retries": float64(3),
	"tags":    []any{"flow", "template"},
	"owner":   map[string]any{"team": "payments", "oncall": true},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustEvents(t testing.TB, c *Client) []Event {
	t.Helper()
	evs, err := c.Events(testCtx(t))
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return evs
}

func eventCodes(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Code)
	}
	return out
}

func checkResult(t testing.TB, res *SyncResult, want SyncResult) {
	t.Helper()
	norm := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		return s
	}
	got := SyncResult{norm(res.Created), norm(res.Updated), norm(res.Unchanged), norm(res.Removed)}
	want = SyncResult{norm(want.Created), norm(want.Updated), norm(want.Unchanged), norm(want.Removed)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sync result = %+v, want %+v", got, want)
	}
}

func TestParseEventsSampleFile(t *testing.T) {
	t.Parallel()
	evs, err := ParseEvents("events.yaml", readTestdata(t, "events.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Code: "template_update", Name: "模板更新", Description: "a template changed", Info: map[string]any{
			"source": "bkflow", "retries": 3, "tags": []any{"flow", "template"},
			"owner": map[string]any{"team": "payments", "oncall": true},
		}},
		{Code: "template_create", Name: "模板创建"},
		{Code: "task_failed", Name: "任务失败", Description: "a task ended in failure", Info: map[string]any{"severity": "high"}},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("ParseEvents =\n%#v\nwant\n%#v", evs, want)
	}
}

func TestParseEventsAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		yaml string
		want []Event
	}{
		{"null events list", "version: 1\nevents:\n", []Event{}},
		{"empty events list", "version: 1\nevents: []\n", []Event{}},
		{"quoted version", "version: \"1\"\nevents: []\n", []Event{}},
		{"flow style", "version: 1\nevents: [{code: a, name: A}]\n", []Event{{Code: "a", Name: "A"}}},
		{"null description and info", "version: 1\nevents:\n  - code: a\n    name: A\n    description:\n    info: ~\n", []Event{{Code: "a", Name: "A"}}},
		{"numeric code", "version: 1\nevents:\n  - {code: 404, name: Not found}\n", []Event{{Code: "404", Name: "Not found"}}},
		{"multi-line description", "version: 1\nevents:\n  - code: a\n    name: A\n    description: |\n      line one\n      line two\n", []Event{{Code: "a", Name: "A", Description: "line one\nline two\n"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, err := ParseEvents("events.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("ParseEvents: %v", err)
			}
			if !reflect.DeepEqual(evs, tc.want) {
				t.Fatalf("ParseEvents = %#v, want %#v", evs, tc.want)
			}
		})
	}
}

func testSyncEventsLifecycle(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	c := newTestClient(t, tdb, Config{})

	res, err := c.SyncEventsYAML(ctx, "events.yaml", readTestdata(t, "events.yaml"), SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Created: []string{"template_update", "template_create", "task_failed"}})

	ev, err := c.Event(ctx, "template_update")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != "模板更新" || ev.Description != "a template changed" || !reflect.DeepEqual(ev.Info, sampleInfo) {
		t.Fatalf("Event(template_update) = %#v", ev)
	}
	if ev, err := c.Event(ctx, "template_create"); err != nil || ev.Info != nil || ev.Description != "" || ev.Name != "模板创建" {
		t.Fatalf("Event(template_create) = %#v, %v", ev, err)
	}
	if _, err := c.Event(ctx, "task_create"); !errors.Is(err, ErrEventNotFound) {
		t.Fatalf("Event(unknown) error = %v, want ErrEventNotFound", err)
	}

	// The same file again changes nothing.
	res, err = c.SyncEventsYAML(ctx, "events.yaml", readTestdata(t, "events.yaml"), SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Unchanged: []string{"template_update", "template_create", "task_failed"}})

	// A rename and a changed description are updates (the Python command
	// crashes on them); reordered info keys are not a change.
	res, err = c.SyncEventsYAML(ctx, "events.yaml", readTestdata(t, "events_renamed.yaml"), SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Updated: []string{"template_update", "task_failed"}, Unchanged: []string{"template_create"}})
	if ev, _ := c.Event(ctx, "template_update"); ev.Name != "Template updated" || !reflect.DeepEqual(ev.Info, sampleInfo) {
		t.Fatalf("after rename: %#v", ev)
	}
	if ev, _ := c.Event(ctx, "task_failed"); ev.Description != "a task failed after all its retries" || ev.Name != "任务失败" {
		t.Fatalf("after description change: %#v", ev)
	}

	// Info changes and removals are updates too.
	res = mustSync(t, c, `
version: 1
events:
  - code: template_update
    name: Template updated
    description: a template changed
    info: {source: bkflow, retries: 4}
  - code: template_create
    name: 模板创建
    info: {new: yes}
  - code: task_failed
    name: 任务失败
    description: a task failed after all its retries
`)
	checkResult(t, res, SyncResult{Updated: []string{"template_update", "template_create", "task_failed"}})
	for code, want := range map[string]map[string]any{
		"template_update": {"source": "bkflow", "retries": float64(4)},
		"template_create": {"new": "yes"}, // YAML 1.2: yes is a string
		"task_failed":     nil,
	} {
		ev, err := c.Event(ctx, code)
		if err != nil || !reflect.DeepEqual(ev.Info, want) {
			t.Errorf("Event(%s).Info = %#v, %v; want %#v", code, ev.Info, err, want)
		}
	}
}

func testSyncEventsKeepsOrPrunesUnlisted(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, `
version: 1
events:
  - {code: a_event, name: A}
  - {code: b_event, name: B}
  - {code: c_event, name: C}
  - {code: d_event, name: D}
`)
	only := []byte("version: 1\nevents:\n  - {code: c_event, name: C}\n  - {code: e_event, name: E}\n")

	res, err := c.SyncEventsYAML(ctx, "events.yaml", only, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Created: []string{"e_event"}, Unchanged: []string{"c_event"}})
	if got := eventCodes(mustEvents(t, c)); !reflect.DeepEqual(got, []string{"a_event", "b_event", "c_event", "d_event", "e_event"}) {
		t.Fatalf("without Prune, events = %v; unlisted ones must be kept", got)
	}

	res, err = c.SyncEventsYAML(ctx, "events.yaml", only, SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Unchanged: []string{"c_event", "e_event"}, Removed: []string{"a_event", "b_event", "d_event"}})
	if got := eventCodes(mustEvents(t, c)); !reflect.DeepEqual(got, []string{"c_event", "e_event"}) {
		t.Fatalf("after Prune, events = %v", got)
	}
	if _, err := c.Event(ctx, "a_event"); !errors.Is(err, ErrEventNotFound) {
		t.Fatalf("pruned event still found: %v", err)
	}

	// Pruning again removes nothing.
	res, err = c.SyncEventsYAML(ctx, "events.yaml", only, SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Unchanged: []string{"c_event", "e_event"}})
}

// TestSyncEventsReadsPythonRows checks that rows the Python command wrote
// (NULL description, NULL info) are recognised as unchanged.
func testSyncEventsReadsPythonRows(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	for _, row := range []eventRow{
		{Code: "task_create", Name: "任务创建"},
		{Code: "task_finished", Name: "任务完成", Info: jsonText(`{"b": 2, "a": [1, "x"]}`)},
	} {
		if err := c.DB().WithContext(testCtx(t)).Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	res := mustSync(t, c, `
version: 1
events:
  - code: task_create
    name: 任务创建
  - code: task_finished
    name: 任务完成
    info: {a: [1, x], b: 2}
`)
	checkResult(t, res, SyncResult{Unchanged: []string{"task_create", "task_finished"}})
}

func testSyncEventsFromFiles(t *testing.T, tdb *testDB) {
	// Each subtest makes its own context: parallel subtests start only
	// when a slot frees, which in the whole suite can be after a deadline
	// set here has passed.
	t.Run("real file", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		c := newTestClient(t, tdb, Config{})
		dir := t.TempDir()
		path := filepath.Join(dir, "webhook_resources.yaml")
		if err := os.WriteFile(path, readTestdata(t, "events.yaml"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := c.SyncEvents(ctx, dir, "webhook_resources.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Created: []string{"template_update", "template_create", "task_failed"}})
		res, err = c.SyncEvents(ctx, dir, "webhook_resources.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Unchanged: []string{"template_update", "template_create", "task_failed"}})
		if err := os.WriteFile(path, readTestdata(t, "events_renamed.yaml"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err = c.SyncEvents(ctx, dir, "webhook_resources.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Updated: []string{"template_update", "task_failed"}, Unchanged: []string{"template_create"}})

		// A file in a sub-directory, named relative to the base path.
		if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "conf", "more.yaml"), []byte("version: 1\nevents:\n  - {code: extra, name: Extra}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err = c.SyncEvents(ctx, dir, filepath.Join("conf", "more.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Created: []string{"extra"}})
		if got := len(mustEvents(t, c)); got != 4 {
			t.Fatalf("%d events, want 4 (SyncEvents never prunes)", got)
		}
	})

	t.Run("MapFS", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		c := newTestClient(t, tdb, Config{})
		fsys := fstest.MapFS{
			"events/events.yaml":  {Data: readTestdata(t, "events.yaml")},
			"events/renamed.yaml": {Data: readTestdata(t, "events_renamed.yaml")},
		}
		res, err := c.SyncEventsFS(ctx, fsys, "events/events.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Created: []string{"template_update", "template_create", "task_failed"}})
		res, err = c.SyncEventsFS(ctx, fsys, "events/events.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Unchanged: []string{"template_update", "template_create", "task_failed"}})
		res, err = c.SyncEventsFS(ctx, fsys, "events/renamed.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Updated: []string{"template_update", "task_failed"}, Unchanged: []string{"template_create"}})
		if ev, err := c.Event(ctx, "template_update"); err != nil || ev.Name != "Template updated" || !reflect.DeepEqual(ev.Info, sampleInfo) {
			t.Fatalf("Event = %#v, %v", ev, err)
		}
	})

	t.Run("DirFS of testdata", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		c := newTestClient(t, tdb, Config{})
		res, err := c.SyncEventsFS(ctx, os.DirFS("testdata"), "events/events.yaml")
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, res, SyncResult{Created: []string{"template_update", "template_create", "task_failed"}})
	})

	t.Run("invalid file", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		c := newTestClient(t, tdb, Config{})
		_, err := c.SyncEvents(ctx, filepath.Join("testdata", "events"), "duplicate.yaml")
		if !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), "duplicate.yaml:7:") || !strings.Contains(err.Error(), "line 3") {
			t.Fatalf("SyncEvents(duplicate.yaml) error = %v, want ErrInvalidEvents at duplicate.yaml:7 naming line 3", err)
		}
		if evs := mustEvents(t, c); len(evs) != 0 {
			t.Fatalf("an invalid file wrote %v", evs)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		c := newTestClient(t, tdb, Config{})
		if _, err := c.SyncEvents(ctx, t.TempDir(), "nope.yaml"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("SyncEvents(missing) error = %v, want fs.ErrNotExist", err)
		}
		if _, err := c.SyncEventsFS(ctx, fstest.MapFS{}, "nope.yaml"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("SyncEventsFS(missing) error = %v, want fs.ErrNotExist", err)
		}
		if _, err := c.SyncEvents(ctx, t.TempDir(), ""); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("SyncEvents(empty name) error = %v, want ErrInvalidArgument", err)
		}
	})
}

// syncEntry is one way of syncing a YAML document; each must reject an
// invalid document in the same way.
type syncEntry struct {
	name string
	sync func(ctx context.Context, c *Client, t *testing.T, data []byte) error
}

var syncEntries = []syncEntry{
	{"ParseEvents", func(_ context.Context, _ *Client, _ *testing.T, data []byte) error {
		_, err := ParseEvents("events.yaml", data)
		return err
	}},
	{"SyncEventsYAML", func(ctx context.Context, c *Client, _ *testing.T, data []byte) error {
		_, err := c.SyncEventsYAML(ctx, "events.yaml", data, SyncOptions{Prune: true})
		return err
	}},
	{"SyncEventsFS", func(ctx context.Context, c *Client, _ *testing.T, data []byte) error {
		_, err := c.SyncEventsFS(ctx, fstest.MapFS{"events.yaml": {Data: data}}, "events.yaml")
		return err
	}},
	{"SyncEvents", func(ctx context.Context, c *Client, t *testing.T, data []byte) error {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "events.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := c.SyncEvents(ctx, dir, "events.yaml")
		return err
	}},
}

func testSyncEventsRejectsInvalidFiles(t *testing.T, tdb *testDB) {
	cases := []struct {
		name string
		yaml string
		line int      // expected "events.yaml:<line>:"; 0 for none
		want []string // more substrings of the message
	}{
		{"empty file", "", 1, []string{"empty"}},
		{"whitespace only", "   \n\n    \n", 1, []string{"empty"}},
		{"comments only", "# no events yet\n# really\n", 1, []string{"empty"}},
		{"document marker only", "---\n", 1, []string{"empty"}},
		{"null document", "~\n", 1, []string{"empty"}},
		{"unknown version", "# events\nversion: 2\nevents:\n  - {code: a, name: A}\n", 2, []string{`unknown version "2"`}},
		{"version 1.0", "version: 1.0\nevents: []\n", 1, []string{"unknown version"}},
		{"version list", "version: [1]\nevents: []\n", 1, []string{"unknown version"}},
		{"top-level list", "# events\n- code: a\n  name: A\n", 2, []string{"a list", "mapping"}},
		{"top-level scalar", "events\n", 1, []string{"mapping"}},
		{"no events key", "version: 1\n", 1, []string{`no "events" list`}},
		{"unknown top-level key", "version: 1\nevent:\n  - {code: a, name: A}\n", 2, []string{`unknown key "event"`}},
		{"events is a mapping", "version: 1\nevents:\n  code: a\n  name: A\n", 3, []string{`"events" is a mapping`, "want a list"}},
		{"events is a scalar", "version: 1\nevents: template_update\n", 2, []string{`"events" is the value "template_update"`}},
		{"event is a scalar", "version: 1\nevents:\n  - {code: a, name: A}\n  - template_update\n", 4, []string{"an event is"}},
		{"missing code", "version: 1\nevents:\n  - code: a\n    name: A\n  - name: B\n    description: no code\n", 5, []string{"no code"}},
		{"null code", "version: 1\nevents:\n  - code:\n    name: A\n", 3, []string{"no code"}},
		{"blank code", "version: 1\nevents:\n  - code: '  '\n    name: A\n", 3, []string{"no code"}},
		{"code with spaces", "version: 1\nevents:\n  - code: ' a '\n    name: A\n", 3, []string{"leading or trailing spaces"}},
		{"code is a list", "version: 1\nevents:\n  - name: A\n    code: [a, b]\n", 4, []string{"code is a list"}},
		{"missing name", "version: 1\nevents:\n  - code: a\n    name: A\n  - code: b\n    description: no name\n", 5, []string{`event "b" has no name`}},
		{"empty name", "version: 1\nevents:\n  - code: a\n    name: \"\"\n", 3, []string{`event "a" has no name`}},
		{"blank name", "version: 1\nevents:\n  - code: a\n    name: '   '\n", 3, []string{`event "a" has no name`}},
		{"name is a mapping", "version: 1\nevents:\n  - code: a\n    name:\n      en: A\n", 5, []string{"name is a mapping"}},
		{"duplicate code", "version: 1\nevents:\n  - code: task_create\n    name: A\n  - code: other\n    name: O\n  - code: task_create\n    name: B\n", 7, []string{`duplicate event code "task_create"`, "line 3"}},
		{"unknown event key", "version: 1\nevents:\n  - code: a\n    nmae: A\n", 4, []string{`unknown key "nmae"`}},
		{"all-events code", "version: 1\nevents:\n  - code: a\n    name: A\n  - code: \"*\"\n    name: All\n", 5, []string{`"*" is reserved`}},
		{"code too long", "version: 1\nevents:\n  - code: " + strings.Repeat("c", 256) + "\n    name: A\n", 3, []string{"longer than 255"}},
		{"name too long", "version: 1\nevents:\n  - code: a\n    name: " + strings.Repeat("名", 256) + "\n", 3, []string{"longer than 255"}},
		{"info is a list", "version: 1\nevents:\n  - code: a\n    name: A\n    info:\n      - x\n      - y\n", 6, []string{"info is a list", "want a mapping"}},
		{"info is a scalar", "version: 1\nevents:\n  - code: a\n    name: A\n    info: text\n", 5, []string{"info is the value"}},
		{"info with non-text keys", "version: 1\nevents:\n  - code: a\n    name: A\n    info:\n      nested: {1: one}\n", 6, []string{"info"}},
		{"info not JSON-encodable", "version: 1\nevents:\n  - code: a\n    name: A\n    info: {n: .nan}\n", 5, []string{"JSON"}},
		{"invalid YAML", "version: 1\nevents: [\n  {code: a, name: A\n", 0, []string{"not valid YAML"}},
		{"tab indentation", "version: 1\nevents:\n\t- code: a\n", 0, []string{"not valid YAML"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			c := newTestClient(t, tdb, Config{})
			mustSync(t, c, twoEvents)
			before := mustEvents(t, c)
			for _, entry := range syncEntries {
				err := entry.sync(ctx, c, t, []byte(tc.yaml))
				if !errors.Is(err, ErrInvalidEvents) {
					t.Fatalf("%s: error = %v, want ErrInvalidEvents", entry.name, err)
				}
				msg := err.Error()
				if tc.line > 0 && !strings.Contains(msg, "events.yaml:"+strconv.Itoa(tc.line)+":") {
					t.Errorf("%s: error %q does not name events.yaml:%d:", entry.name, msg, tc.line)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: error %q does not mention %q", entry.name, msg, w)
					}
				}
				if after := mustEvents(t, c); !reflect.DeepEqual(after, before) {
					t.Fatalf("%s: an invalid file changed the events:\n%v\nwant\n%v", entry.name, after, before)
				}
			}
		})
	}
}

// TestSyncEventsPartialFileWritesNothing checks that an error in the last
// event of a file does not let the events before it through.
func testSyncEventsPartialFileWritesNothing(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	before := mustEvents(t, c)
	data := []byte(`version: 1
events:
  - code: template_update
    name: Renamed
  - code: brand_new
    name: New
  - code: broken
`)
	for _, prune := range []bool{false, true} {
		if _, err := c.SyncEventsYAML(ctx, "events.yaml", data, SyncOptions{Prune: prune}); !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), "events.yaml:7:") {
			t.Fatalf("error = %v, want ErrInvalidEvents at line 7", err)
		}
		if after := mustEvents(t, c); !reflect.DeepEqual(after, before) {
			t.Fatalf("events changed: %v", after)
		}
	}
}

// hiddenSizeFS serves a file whose Stat reports size 0, so that only the
// read limit can catch an oversized file.
type hiddenSizeFS struct{ fstest.MapFS }

type hiddenSizeFile struct{ fs.File }

type zeroSizeInfo struct{ fs.FileInfo }

func (zeroSizeInfo) Size() int64 { return 0 }

func (f hiddenSizeFile) Stat() (fs.FileInfo, error) {
	st, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return zeroSizeInfo{st}, nil
}

func (h hiddenSizeFS) Open(name string) (fs.File, error) {
	f, err := h.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return hiddenSizeFile{f}, nil
}

func testSyncEventsRejectsLargeFiles(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	// A valid document padded with a comment: only the size is wrong.
	head := "version: 1\nevents:\n  - {code: big, name: Big}\n#"
	pad := func(n int) []byte {
		return []byte(head + strings.Repeat("x", n-len(head)-1) + "\n")
	}
	tooBig := pad(MaxEventsFileBytes + 1)
	if len(tooBig) != MaxEventsFileBytes+1 {
		t.Fatalf("padding: %d bytes", len(tooBig))
	}
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	before := mustEvents(t, c)

	errs := map[string]error{}
	for _, entry := range syncEntries {
		errs[entry.name] = entry.sync(ctx, c, t, tooBig)
	}
	_, errs["SyncEventsFS hidden size"] = c.SyncEventsFS(ctx, hiddenSizeFS{fstest.MapFS{"events.yaml": {Data: tooBig}}}, "events.yaml")
	for name, err := range errs {
		if !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), "8388608") {
			t.Errorf("%s: error = %v, want ErrInvalidEvents naming the 8388608-byte limit", name, err)
		}
	}
	if after := mustEvents(t, c); !reflect.DeepEqual(after, before) {
		t.Fatalf("an oversized file changed the events: %v", after)
	}

	// A file of exactly the limit is read.
	res, err := c.SyncEventsFS(ctx, hiddenSizeFS{fstest.MapFS{"events.yaml": {Data: pad(MaxEventsFileBytes)}}}, "events.yaml")
	if err != nil {
		t.Fatalf("file of exactly MaxEventsFileBytes: %v", err)
	}
	checkResult(t, res, SyncResult{Created: []string{"big"}})
}

func testSyncEventListValidates(t *testing.T, tdb *testDB) {
	ctx := testCtx(t)
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	before := mustEvents(t, c)
	cases := []struct {
		name   string
		events []Event
		want   string
	}{
		{"empty code", []Event{{Code: "", Name: "x"}}, "events[0]: code is empty"},
		{"empty name", []Event{{Code: "a", Name: "ok"}, {Code: "b"}}, `events[1]: event "b" has an empty name`},
		{"duplicate", []Event{{Code: "a", Name: "A"}, {Code: "a", Name: "B"}}, "events[0] and events[1]"},
		{"reserved", []Event{{Code: "*", Name: "all"}}, "reserved"},
		{"bad info", []Event{{Code: "a", Name: "A", Info: map[string]any{"f": func() {}}}}, "info cannot be encoded"},
		{"invalid UTF-8", []Event{{Code: "a", Name: "A\xff"}}, "not valid UTF-8"},
	}
	for _, tc := range cases {
		_, err := c.SyncEventList(ctx, tc.events, SyncOptions{Prune: true})
		if !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want ErrInvalidEvents mentioning %q", tc.name, err, tc.want)
		}
	}
	if after := mustEvents(t, c); !reflect.DeepEqual(after, before) {
		t.Fatalf("invalid lists changed the events: %v", after)
	}
	res, err := c.SyncEventList(ctx, []Event{{Code: "template_update", Name: "模板更新", Description: "a template changed"}, {Code: "x", Name: "X", Info: map[string]any{"k": 1}}}, SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, SyncResult{Created: []string{"x"}, Unchanged: []string{"template_update"}})
	if ev, _ := c.Event(ctx, "x"); !reflect.DeepEqual(ev.Info, map[string]any{"k": float64(1)}) {
		t.Fatalf("Event(x).Info = %#v", ev.Info)
	}
}

func testSyncEventsRemovedIsSortedByCode(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, "version: 1\nevents:\n  - {code: zeta, name: Z}\n  - {code: alpha, name: A}\n  - {code: mid, name: M}\n  - {code: beta, name: B}\n")
	res, err := c.SyncEventsYAML(testCtx(t), "events.yaml", []byte("version: 1\nevents:\n  - {code: mid, name: M}\n"), SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alpha", "beta", "zeta"}; !reflect.DeepEqual(res.Removed, want) {
		t.Fatalf("Removed = %v, want %v (sorted by code, as SyncResult documents)", res.Removed, want)
	}
}

func testPruneRefusesToDeleteEveryEvent(t *testing.T, tdb *testDB) {
	c := newTestClient(t, tdb, Config{})
	mustSync(t, c, twoEvents)
	_, err := c.SyncEventsYAML(testCtx(t), "events.yaml", []byte("version: 1\nevents:\n"), SyncOptions{Prune: true})
	if !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), "refusing to prune") {
		t.Fatalf("pruning with an empty list: %v", err)
	}
	if evs, _ := c.Events(testCtx(t)); len(evs) != 2 {
		t.Fatalf("events after the refused prune: %d", len(evs))
	}
}

func TestParseEventsRejectsRepeatedKeys(t *testing.T) {
	t.Parallel()
	for yaml, line := range map[string]string{
		"version: 1\nevents:\n  - {code: a, name: A}\nevents:\n  - {code: b, name: B}\n": "events.yaml:4:",
		"version: 1\nversion: 1\nevents: []\n":                                           "events.yaml:2:",
		"version: 1\nevents:\n  - code: a\n    name: A\n    name: B\n":                   "events.yaml:5:",
	} {
		_, err := ParseEvents("events.yaml", []byte(yaml))
		if !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), line) || !strings.Contains(err.Error(), "repeated") {
			t.Errorf("ParseEvents(%q) error = %v, want ErrInvalidEvents at %s about a repeated key", yaml, err, line)
		}
	}
}

func TestParseEventsWhitespaceWithTabsIsEmpty(t *testing.T) {
	t.Parallel()
	for _, yaml := range []string{"\t\n", "  \t  \n\n", "\r\n\t"} {
		_, err := ParseEvents("events.yaml", []byte(yaml))
		if !errors.Is(err, ErrInvalidEvents) || !strings.Contains(err.Error(), "events.yaml:1:") || !strings.Contains(err.Error(), "empty") {
			t.Errorf("ParseEvents(%q) error = %v, want the empty-file error at events.yaml:1", yaml, err)
		}
	}
}
