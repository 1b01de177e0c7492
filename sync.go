package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/scopehook/webhook/internal/strictyaml"
	"gopkg.in/yaml.v3"
	"gorm.io/gorm"
)

// MaxEventsFileBytes is the largest events YAML file SyncEvents reads.
const MaxEventsFileBytes = 8 << 20

// SyncOptions changes how events are synced.
type SyncOptions struct {
	// Prune deletes the events that the file no longer lists. Their
	// subscriptions are kept, so that listing the event again restores
	// them; they match nothing meanwhile.
	Prune bool
	// DryRun runs the sync in a transaction that is rolled back: the result
	// says what it would change, and nothing is written.
	DryRun bool
}

// SyncResult says what a sync changed; each list holds event codes, sorted
// as in the file (Removed: by code).
type SyncResult struct {
	Created   []string
	Updated   []string
	Unchanged []string
	Removed   []string
}

// SyncEvents reads the events YAML file basePath/filename and upserts its
// events by code, like the Python package's sync_webhook_events command (but
// a renamed event or a changed description is updated instead of crashing).
// The file looks like:
//
//	version: 1
//	events:
//	  - code: template_update
//	    name: Template updated
//	    description: optional prose
//	    info: {optional: static info sent with every broadcast}
//
// An invalid file (empty, unknown version, a missing code or name, a
// duplicate code, an unknown key) is an ErrInvalidEvents naming the line,
// and nothing is written. Events missing from the file are kept; use
// SyncEventsYAML with SyncOptions.Prune to delete them.
func (c *Client) SyncEvents(ctx context.Context, basePath, filename string) (*SyncResult, error) {
	if filename == "" {
		return nil, fmt.Errorf("%w: events file name is empty", ErrInvalidArgument)
	}
	path := filename
	if !filepath.IsAbs(filename) {
		path = filepath.Join(basePath, filename) // os.path.join, as the Python command does
	}
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return c.syncFile(ctx, os.DirFS(dir), name, path)
}

// SyncEventsFS is SyncEvents reading the file name from fsys, typically an
// embed.FS compiled into the service.
func (c *Client) SyncEventsFS(ctx context.Context, fsys fs.FS, name string) (*SyncResult, error) {
	return c.syncFile(ctx, fsys, name, name)
}

func (c *Client) syncFile(ctx context.Context, fsys fs.FS, name, shown string) (*SyncResult, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: events file name is empty", ErrInvalidArgument)
	}
	f, err := fsys.Open(filepath.ToSlash(filepath.Clean(name)))
	if err != nil {
		return nil, fmt.Errorf("webhook: opening events file %s: %w", shown, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxEventsFileBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrInvalidEvents, shown, st.Size(), MaxEventsFileBytes)
	}
	data, err := readAllLimit(f, MaxEventsFileBytes)
	if err != nil {
		return nil, fmt.Errorf("webhook: reading events file %s: %w", shown, err)
	}
	events, err := ParseEvents(shown, data)
	if err != nil {
		return nil, err
	}
	return c.syncEvents(ctx, events, SyncOptions{})
}

// SyncEventsYAML syncs the events of an in-memory YAML document; name is
// used in error messages only.
func (c *Client) SyncEventsYAML(ctx context.Context, name string, data []byte, opts SyncOptions) (*SyncResult, error) {
	if len(data) > MaxEventsFileBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrInvalidEvents, name, len(data), MaxEventsFileBytes)
	}
	events, err := ParseEvents(name, data)
	if err != nil {
		return nil, err
	}
	return c.syncEvents(ctx, events, opts)
}

// SyncEventList upserts the given events, validated as a file's would be.
func (c *Client) SyncEventList(ctx context.Context, events []Event, opts SyncOptions) (*SyncResult, error) {
	seen := make(map[string]int, len(events))
	for i, ev := range events {
		if msg := validateEvent(ev); msg != "" {
			return nil, fmt.Errorf("%w: events[%d]: %s", ErrInvalidEvents, i, msg)
		}
		if j, dup := seen[ev.Code]; dup {
			return nil, fmt.Errorf("%w: events[%d] and events[%d] both have code %q", ErrInvalidEvents, j, i, ev.Code)
		}
		seen[ev.Code] = i
		if ev.Info != nil {
			if _, err := marshalJSON(ev.Info); err != nil {
				return nil, fmt.Errorf("%w: events[%d]: info cannot be encoded as JSON: %v", ErrInvalidEvents, i, err)
			}
		}
	}
	return c.syncEvents(ctx, events, opts)
}

// errDryRun rolls back the transaction of a dry run.
var errDryRun = errors.New("webhook: dry run")

func (c *Client) syncEvents(ctx context.Context, events []Event, opts SyncOptions) (*SyncResult, error) {
	defer c.resolved.changed()
	res := &SyncResult{}
	err := c.transaction(ctx, func(tx *gorm.DB) error {
		if err := lockForWrite(tx, "events"); err != nil {
			return err
		}
		*res = SyncResult{}
		var existing []eventRow
		if err := tx.Find(&existing).Error; err != nil {
			return fmt.Errorf("webhook: loading events: %w", err)
		}
		byCode := make(map[string]*eventRow, len(existing))
		for i := range existing {
			byCode[existing[i].Code] = &existing[i]
		}
		listed := make(map[string]bool, len(events))
		for _, ev := range events {
			listed[ev.Code] = true
			desc := ev.Description
			row := eventRow{Code: ev.Code, Name: ev.Name, Description: &desc}
			if ev.Info != nil {
				info, err := marshalJSON(ev.Info)
				if err != nil {
					return fmt.Errorf("%w: event %q: info cannot be encoded as JSON: %v", ErrInvalidEvents, ev.Code, err)
				}
				row.Info = info
			}
			old, ok := byCode[ev.Code]
			switch {
			case !ok:
				if err := tx.Create(&row).Error; err != nil {
					return fmt.Errorf("webhook: creating event %q: %w", ev.Code, err)
				}
				res.Created = append(res.Created, ev.Code)
			case sameEvent(old, &row):
				res.Unchanged = append(res.Unchanged, ev.Code)
			default:
				err := tx.Model(&eventRow{}).Where("code = ?", ev.Code).
					Updates(map[string]any{"name": row.Name, "description": row.Description, "info": row.Info}).Error
				if err != nil {
					return fmt.Errorf("webhook: updating event %q: %w", ev.Code, err)
				}
				res.Updated = append(res.Updated, ev.Code)
			}
		}
		if opts.Prune {
			for _, old := range existing {
				if !listed[old.Code] {
					res.Removed = append(res.Removed, old.Code)
				}
			}
			slices.Sort(res.Removed)
			if len(res.Removed) > 0 && len(events) == 0 {
				return fmt.Errorf("%w: refusing to prune: the file lists no event, which would delete all %d (a truncated file?)", ErrInvalidEvents, len(res.Removed))
			}
			if len(res.Removed) > 0 {
				if err := tx.Where("code IN ?", res.Removed).Delete(&eventRow{}).Error; err != nil {
					return fmt.Errorf("webhook: removing events: %w", err)
				}
			}
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	return res, nil
}

func sameEvent(old, row *eventRow) bool {
	oldDesc := ""
	if old.Description != nil {
		oldDesc = *old.Description
	}
	if old.Name != row.Name || oldDesc != *row.Description {
		return false
	}
	var a, b any
	if len(old.Info) > 0 {
		if json.Unmarshal(old.Info, &a) != nil {
			return false
		}
	}
	if len(row.Info) > 0 {
		_ = json.Unmarshal(row.Info, &b)
	}
	return reflect.DeepEqual(a, b)
}

func validateEvent(ev Event) string {
	switch {
	case strings.TrimSpace(ev.Code) == "":
		return "code is empty"
	case ev.Code != strings.TrimSpace(ev.Code):
		return fmt.Sprintf("code %q has leading or trailing spaces", ev.Code)
	case ev.Code == AllEvents:
		return `code "*" is reserved: it means "all events" in subscriptions`
	case utf8.RuneCountInString(ev.Code) > maxCodeLen:
		return fmt.Sprintf("code is longer than %d characters", maxCodeLen)
	case strings.TrimSpace(ev.Name) == "":
		return fmt.Sprintf("event %q has an empty name", ev.Code)
	case utf8.RuneCountInString(ev.Name) > maxNameLen:
		return fmt.Sprintf("event %q: name is longer than %d characters", ev.Code, maxNameLen)
	case !utf8.ValidString(ev.Code) || !utf8.ValidString(ev.Name) || !utf8.ValidString(ev.Description):
		return fmt.Sprintf("event %q: text is not valid UTF-8", ev.Code)
	}
	return ""
}

// ParseEvents parses and validates an events YAML document without touching
// the database. name is used in error messages, which have the form
// "name:line: problem" and wrap ErrInvalidEvents.
func ParseEvents(name string, data []byte) ([]Event, error) {
	errAt := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalidEvents, name, line, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxEventsFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidEvents, name, MaxEventsFileBytes)
	}
	// The messages quote values: an events file holds no credential.
	dec := strictyaml.Decoder{ShowValues: true}
	var file eventsFile
	if err := dec.Decode(data, &file); err != nil {
		if errors.Is(err, strictyaml.ErrEmpty) {
			return nil, errAt(1, "the file is empty: it needs \"version: 1\" and an \"events\" list")
		}
		return nil, yamlError(name, err)
	}
	if v := file.Version; v.Kind != 0 && (v.Kind != yaml.ScalarNode || v.Value != "1") {
		return nil, errAt(v.Line, "unknown version %q: only version 1 is supported", v.Value)
	}
	if file.Events.Kind == 0 {
		return nil, errAt(file.Line, "no \"events\" list")
	}
	var specs []eventSpec
	if err := dec.DecodeNode(&file.Events, `"events"`, &specs); err != nil {
		return nil, yamlError(name, err)
	}
	events := make([]Event, 0, len(specs))
	lines := make(map[string]int, len(specs))
	for _, spec := range specs {
		ev := Event{Code: spec.Code, Name: spec.Name, Description: spec.Description}
		if spec.Info.Kind != 0 && !(spec.Info.Kind == yaml.ScalarNode && spec.Info.ShortTag() == "!!null") {
			var info map[string]any
			if err := dec.DecodeNode(&spec.Info, "info", &info); err != nil {
				return nil, yamlError(name, err)
			}
			if _, err := marshalJSON(info); err != nil {
				return nil, errAt(spec.Info.Line, "info cannot be stored as JSON (keys must be text): %v", err)
			}
			ev.Info = info
		}
		if strings.TrimSpace(ev.Code) == "" {
			return nil, errAt(spec.Line, "an event has no code")
		}
		if strings.TrimSpace(ev.Name) == "" {
			return nil, errAt(spec.Line, "event %q has no name", ev.Code)
		}
		if msg := validateEvent(ev); msg != "" {
			return nil, errAt(spec.Line, "%s", msg)
		}
		if first, dup := lines[ev.Code]; dup {
			return nil, errAt(spec.Line, "duplicate event code %q (first defined on line %d)", ev.Code, first)
		}
		lines[ev.Code] = spec.Line
		events = append(events, ev)
	}
	return events, nil
}

// eventsFile is an events YAML document. Version and Events are kept as
// nodes: ParseEvents checks the version's text and tells a missing events
// list from an empty one.
type eventsFile struct {
	Line    int       `yaml:",line"`
	Version yaml.Node `yaml:"version"`
	Events  yaml.Node `yaml:"events"`
}

// eventSpec is an event as the file writes it. Info is kept as a node, for
// the line of a JSON encoding error.
type eventSpec struct {
	Line        int       `yaml:",line"`
	Code        string    `yaml:"code"`
	Name        string    `yaml:"name"`
	Description string    `yaml:"description"`
	Info        yaml.Node `yaml:"info"`
}

// YAMLName names an event in the messages of strictyaml.
func (eventSpec) YAMLName() string { return "an event" }

// yamlError turns an error of strictyaml into an ErrInvalidEvents naming
// the file and the line.
func yamlError(name string, err error) error {
	var e *strictyaml.Error
	if errors.As(err, &e) {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalidEvents, name, e.Line, e.Msg)
	}
	return fmt.Errorf("%w: %s: %v", ErrInvalidEvents, name, err)
}

func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: the file is larger than %d bytes", ErrInvalidEvents, limit)
	}
	return data, nil
}
