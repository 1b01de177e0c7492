package strictyaml

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecode decodes arbitrary input into a struct of every supported
// kind. Every failure must be an *Error at a line of the input, with a
// message of one line; no input may panic.
//
//	go test -run='^$' -fuzz=FuzzDecode -fuzztime=30s ./internal/strictyaml
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		"items: [{code: a, name: A}]\n",
		"version: 1\nitems:\n  - code: a\n    nmae: A\n",
		"items: [&i {code: a}, *i]\ndata: {n: 1, l: [1, 2.5, x], m: {k: ~}}\n",
		"items: []\nauth: &a {type: x, token: *a}\n",
		"items: []\ndata: &d {x: *d}\n",
		"items: []\nparams: {k: 1, k: 2}\n",
		"items: []\ntimeout: 5s\nsubs: {a: [b]}\nraw: [1]\n",
		"a: 1\nb:\n  c: 1\n d: 2\n",
		"a: \"unclosed\nb: 2\n",
		"a: 1\r\n\tb: 2\r\n",
		"a: 1\n---\nb: 2\n",
		"\xff\xfea\x00:\x00 \x001\x00\n\x00",
		"items: []\nsmall: 300\nenabled: maybe\nratio: .nan\n",
		"items: [~, x, [y]]\n",
		"? [a]\n: b\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, show bool) {
		var doc testDoc
		err := (Decoder{ShowValues: show}).Decode(data, &doc)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if lines := len(lineEnds(data)) + 1; e.Line < 1 || e.Line > lines {
			t.Fatalf("error %q at line %d, outside the %d lines of the input", e.Msg, e.Line, lines)
		}
		if e.Msg == "" || strings.ContainsAny(e.Msg, "\n\r") {
			t.Fatalf("error message %q is empty or not one line", e.Msg)
		}
	})
}
