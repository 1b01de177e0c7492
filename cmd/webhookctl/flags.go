package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
)

// scopeForm is how a scope is written on the command line.
const scopeForm = "TYPE:CODE"

// parseScopeText reads a scope written TYPE:CODE (SCOPE_TYPE:SCOPE_CODE in
// close-circuit's synopsis, form): the type is what precedes the first ":",
// the code all that follows it. It is the only parser of scopes given on
// the command line. Its error says what is wrong; the callers prefix the
// flag or argument it came from.
func parseScopeText(s, form string) (webhook.Scope, error) {
	bad := func(problem string) (webhook.Scope, error) {
		return webhook.Scope{}, fmt.Errorf("want %s, such as biz:biz1 (%s)", form, problem)
	}
	typ, code, ok := strings.Cut(s, ":")
	switch {
	case strings.TrimSpace(s) == "":
		return bad("it is empty")
	case !ok:
		return bad(`there is no ":" between the type and the code`)
	case strings.TrimSpace(typ) == "" && strings.TrimSpace(code) == "":
		return bad(`the type and the code around ":" are both empty`)
	case strings.TrimSpace(typ) == "":
		return bad(`the type before ":" is empty`)
	case strings.TrimSpace(code) == "":
		return bad(`the code after ":" is empty`)
	case typ != strings.TrimSpace(typ) || code != strings.TrimSpace(code):
		return bad("the type or the code has leading or trailing spaces")
	case utf8.RuneCountInString(typ) > maxScopeLen:
		return bad(fmt.Sprintf("the type is longer than %d characters", maxScopeLen))
	case utf8.RuneCountInString(code) > maxScopeLen:
		return bad(fmt.Sprintf("the code is longer than %d characters", maxScopeLen))
	}
	return webhook.Scope{Type: typ, Code: code}, nil
}

// parseScope reads a TYPE:CODE scope given to flag; its error is a usage
// error naming the flag.
func parseScope(flag, s string) (webhook.Scope, error) {
	scope, err := parseScopeText(s, scopeForm)
	if err != nil {
		return webhook.Scope{}, usageErrorf("--%s %q: %w", flag, printable(s), err)
	}
	return scope, nil
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
	scope, err := parseScopeText(s, scopeForm)
	if err != nil {
		return err // the flag package names the flag and the value
	}
	*l = append(*l, scope)
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
