package main

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxErrorWidth is how many characters of an error a table cell shows.
const maxErrorWidth = 60

// printable replaces control characters (tabs and newlines included),
// bidirectional overrides and invalid UTF-8 with spaces, so that text from
// the database or a file can neither break a table nor send escape
// sequences to the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}

// truncate shortens s to at most n runes, ending it with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
