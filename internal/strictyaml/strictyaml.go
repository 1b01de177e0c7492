// Package strictyaml reads hand-written YAML configuration files strictly:
// one document, decoded into a struct whose yaml tags list the keys it
// takes. An unknown key (named with the keys allowed), a repeated key, a
// value of the wrong kind ("code is a list, want text"), a missing required
// key, an empty file or a syntax error is an *Error carrying the 1-based
// line an editor shows. It depends on gopkg.in/yaml.v3 for the syntax only.
//
// # Use
//
//	type file struct {
//		Version int       `yaml:"version"`
//		Items   []item    `yaml:"items,required"`
//	}
//	var f file
//	if err := (strictyaml.Decoder{}).Decode(data, &f); err != nil {
//		var e *strictyaml.Error
//		if errors.As(err, &e) {
//			return fmt.Errorf("%s:%d: %s", name, e.Line, e.Msg)
//		}
//		return err
//	}
//
// Parse and Decoder.DecodeNode split the two steps, for a caller that
// rewrites the tree in between. How much data to read is the caller's
// decision: nothing here caps the size of a document.
package strictyaml

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// ErrEmpty marks the *Error of a document that holds nothing: no text,
// only comments or only a null value. Callers usually replace its message
// with one saying what the file should hold.
var ErrEmpty = errors.New("the document is empty")

// ErrSyntax marks the *Error of a document that is not valid YAML.
var ErrSyntax = errors.New("not valid YAML")

// Error is a problem at a line of a document. Its message names the key or
// value at fault; it shows a scalar's text only with Decoder.ShowValues.
type Error struct {
	// Line is the 1-based line of the problem, as an editor numbers lines.
	Line int
	// Msg says what is wrong, without the line.
	Msg string
	// Err is ErrEmpty, ErrSyntax or nil.
	Err error
}

// Error returns "LINE: MSG"; callers usually print "NAME:LINE: MSG".
func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Line, e.Msg) }

// Unwrap returns ErrEmpty, ErrSyntax or nil.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at line, for checks that callers (and
// Unmarshaler implementations) make themselves.
func Errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Parse returns the root node of the only document in data. An empty
// document is an *Error wrapping ErrEmpty at line 1, a syntax error one
// wrapping ErrSyntax at the line of the problem, and a second document
// ("---") an *Error at the line where it starts. UTF-16 with a byte order
// mark is read as yaml.v3 reads it.
func Parse(data []byte) (*yaml.Node, error) {
	data, err := toUTF8(data)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Line: 1, Msg: ErrEmpty.Error(), Err: ErrEmpty}
	}
	root, second, err := parseDocuments(data)
	switch {
	case err != nil:
		return nil, syntaxError(data, err)
	case second != nil:
		return nil, Errorf(second.Line, "a second YAML document starts here: the file holds one document, without \"---\" between parts")
	case root == nil || root.Kind == yaml.ScalarNode && root.ShortTag() == nullTag:
		return nil, &Error{Line: 1, Msg: ErrEmpty.Error(), Err: ErrEmpty}
	}
	return root, nil
}

const nullTag = "!!null"

// parseDocuments returns the root of the first document of data (nil when
// there is none) and the second document, if any, or yaml.v3's error.
func parseDocuments(data []byte) (root, second *yaml.Node, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		second = &extra
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	return root, second, nil
}

// yamlLine matches the position yaml.v3 puts before a problem.
var yamlLine = regexp.MustCompile(`^line \d+: `)

// problem returns yaml.v3's message without its "yaml: line N: " prefix.
func problem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return yamlLine.ReplaceAllString(msg, "")
}

// syntaxError returns the *Error of yaml.v3's parse error err on data.
//
// yaml.v3 numbers the line of a syntax error from 0 for parser errors and
// from 1 for scanner errors, and names the line where the enclosing
// mapping or sequence starts rather than the one at fault when it can: its
// "line N" is often one or more lines before the one an editor shows. The
// line here is found instead as the first line such that the document cut
// after it fails with the same problem: the line where the problem starts
// (an unclosed quote's opening line, an indentation error's line).
func syntaxError(data []byte, err error) *Error {
	msg := problem(err)
	ends := lineEnds(data)
	fails := func(line int) bool {
		_, _, perr := parseDocuments(data[:ends[line-1]])
		return perr != nil && problem(perr) == msg
	}
	// Bisect over [1, len(ends)]: the whole document (the last line)
	// fails. A prefix that fails with the same problem before the line at
	// fault is possible only for problems found at the end of input (a
	// multi-line quoted value cut in the middle): the search then names a
	// line with a problem of the same kind.
	lo, hi := 1, len(ends)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &Error{Line: lo, Msg: ErrSyntax.Error() + ": " + msg, Err: ErrSyntax}
}

// lineEnds returns the offset just past each line of data, cut where
// yaml.v3 counts a line break (and so numbers the lines of nodes): after
// "\n", after "\r" not followed by "\n", after U+0085, U+2028 and U+2029;
// and at the end of data when its last line has no line break.
func lineEnds(data []byte) []int {
	var ends []int
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\n':
			ends = append(ends, i+1)
		case data[i] == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			ends = append(ends, i+1)
		case data[i] == 0xC2 && i+1 < len(data) && data[i+1] == 0x85:
			ends = append(ends, i+2)
			i++
		case data[i] == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9):
			ends = append(ends, i+3)
			i += 2
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	return ends
}

// toUTF8 transcodes a document starting with a UTF-16 byte order mark to
// UTF-8, so that lines can be cut on bytes; other documents are returned
// as they are (yaml.v3 skips a UTF-8 byte order mark itself).
func toUTF8(data []byte) ([]byte, error) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = binary.BigEndian
	default:
		return data, nil
	}
	data = data[2:]
	if len(data)%2 != 0 {
		return nil, &Error{Line: 1, Msg: ErrSyntax.Error() + ": the file starts with a UTF-16 byte order mark but has an odd number of bytes", Err: ErrSyntax}
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = order.Uint16(data[2*i:])
	}
	return []byte(string(utf16.Decode(units))), nil
}
