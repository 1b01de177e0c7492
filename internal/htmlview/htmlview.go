// Package htmlview holds the small formatting helpers the library's two
// web UIs (packages admin and portal) share: times, percentages, clipped
// text, pretty JSON, sorted headers, and the operation a failed page
// names (OpError).
package htmlview

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// KV is a key and its value, for tables of headers and parameters.
type KV struct{ Key, Value string }

// Stamp is a time to the millisecond in UTC, in two parts so that a narrow
// table cell may break between them.
type Stamp struct{ Date, Clock string }

// String is the whole time, "2026-12-01 15:04:05.123", or "—".
func (s Stamp) String() string {
	if s.Date == "" {
		return "—"
	}
	return s.Date + " " + s.Clock
}

// IsZero reports whether there is no time.
func (s Stamp) IsZero() bool { return s.Date == "" }

// Clip cuts s to n runes, marking the cut with "…".
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Percent formats a ratio as a percentage with one decimal: "12.5 %".
func Percent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
}

// Time formats a time to the second, in UTC.
func Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// PrettyJSON indents a JSON document, or returns it as it is if it is not one.
func PrettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// RateClass is the CSS class of a failure rate.
func RateClass(rate float64) string {
	switch {
	case rate >= 0.5:
		return "bad"
	case rate > 0:
		return "warn"
	}
	return "good"
}

// SortedHeaders lists a header map sorted by name, case aside.
func SortedHeaders(m map[string]string) []KV {
	out := make([]KV, 0, len(m))
	for k, v := range m {
		out = append(out, KV{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Key) < strings.ToLower(out[j].Key) })
	return out
}

// StampOf splits a time, in UTC, into its date and its clock to the millisecond.
func StampOf(t time.Time) Stamp {
	if t.IsZero() {
		return Stamp{}
	}
	u := t.UTC()
	return Stamp{Date: u.Format("2006-01-02"), Clock: u.Format("15:04:05.000")}
}

// ValueText shows a decoded JSON value: a string as it is, anything else as JSON.
func ValueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// NewRef returns a short random reference that ties an error shown to the
// operator to its log line.
func NewRef() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Dict makes a map of key, value pairs, to pass several values to a
// template.
func Dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("dict of %d arguments: want key, value pairs", len(pairs))
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict key %v is not a string", pairs[i])
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}

// ParseTemplates parses each page of fsys's templates/*.html together with
// templates/layout.html, keyed by its name without ".html". pkg names the
// package in errors.
func ParseTemplates(pkg string, fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(fsys, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("%s: parsing %s: %w", pkg, n, err)
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}
