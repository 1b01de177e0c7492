package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/scopehook/webhook"
)

// parseScope reads a TYPE:CODE scope given to flag.
func parseScope(flag, s string) (webhook.Scope, error) {
	typ, code, ok := strings.Cut(s, ":")
	if !ok || typ == "" || code == "" {
		return webhook.Scope{}, usageErrorf("--%s %q: want TYPE:CODE, such as biz:biz1", flag, s)
	}
	return webhook.Scope{Type: typ, Code: code}, nil
}

// scopeText prints a scope as the flags take it, TYPE:CODE.
func scopeText(s webhook.Scope) string { return s.Type + ":" + s.Code }

// scopeList is a repeatable --scope TYPE:CODE flag.
type scopeList []webhook.Scope

func (l *scopeList) String() string {
	if l == nil {
		return ""
	}
	parts := make([]string, len(*l))
	for i, s := range *l {
		parts[i] = scopeText(s)
	}
	return strings.Join(parts, ",")
}

func (l *scopeList) Set(s string) error {
	typ, code, ok := strings.Cut(s, ":")
	if !ok || typ == "" || code == "" {
		return fmt.Errorf("want TYPE:CODE, such as biz:biz1")
	}
	*l = append(*l, webhook.Scope{Type: typ, Code: code})
	return nil
}

// stringList is a repeatable flag that keeps every value.
type stringList []string

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// parseAge reads a positive age: a whole number of days ("30d") or a Go
// duration ("720h", "90m").
func parseAge(flag, s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 100*365 {
			return 0, usageErrorf("--%s %q: want a whole number of days from 1 to 36500 (30d) or a duration (720h)", flag, s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, usageErrorf("--%s %q: want a number of days (30d) or a duration (720h, 90m)", flag, s)
	}
	if d <= 0 {
		return 0, usageErrorf("--%s %q: the age must be positive", flag, s)
	}
	return d, nil
}

// formatAge prints an age the way parseAge reads it, in days when whole.
func formatAge(d time.Duration) string {
	if day := 24 * time.Hour; d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// formatTime prints a time in UTC to the second, as the tables do; "-" for
// the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// noArgs returns a usage error when a command that takes no arguments got
// some.
func noArgs(cmd string, args []string, advice string) error {
	if len(args) == 0 {
		return nil
	}
	if advice != "" {
		advice = " (" + advice + ")"
	}
	return usageErrorf("%s takes no arguments, got %q%s", cmd, args, advice)
}

// writeJSON writes v indented, as history --json does.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// plural returns "1 delivery" or "2 deliveries" style counts.
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}
