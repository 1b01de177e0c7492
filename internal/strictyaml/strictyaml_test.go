package strictyaml

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"gopkg.in/yaml.v3"
)

// asError returns err as an *Error, failing the test when it is not one.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e
}

// TestSyntaxErrorLines checks the line of syntax errors in real broken
// files against the line an editor shows the mistake on. yaml.v3's own
// "line N" is given for the cases where it differs.
func TestSyntaxErrorLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		line      int
		yamlLine  string // yaml.v3's own position, when it is not line
		want      string
	}{
		{"unclosed double quote", "a: 1\nb: \"unclosed\nc: 3\n", 2, "", "found unexpected end of stream"},
		{"unclosed quote on the first line", "a: \"unclosed\nb: 2\nc: 3\n", 1, "line 4", "found unexpected end of stream"},
		{"unclosed single quote", "a: 1\nb: 'unclosed\nc: 3\n", 2, "", "found unexpected end of stream"},
		{"key indented less than its siblings", "a: 1\nb:\n  c: 1\n d: 2\n", 4, "line 3", "did not find expected key"},
		{"key indented less, nested", "a:\n  b: 1\n  c: 2\n d: 3\n", 4, "line 3", "did not find expected key"},
		{"key indented more than its siblings", "a: 1\nb:\n  c: 1\n   d: 2\n", 4, "", "mapping values are not allowed in this context"},
		{"list item among keys", "a: 1\n- b\n", 2, "line 1", "did not find expected key"},
		{"key after list items", "- a\nb: 1\n", 2, "line 1", "did not find expected '-' indicator"},
		{"text after a quoted value", "a: 1\n\nb: \"x\" y\n", 3, "line 2", "did not find expected key"},
		{"block scalar dedented", "a: 1\nb: |\n  x\n y: 2\n", 4, "line 3", "did not find expected key"},
		{"tab indenting a list", "version: 1\nevents:\n\t- code: a\n", 3, "", "found character that cannot start any token"},
		{"tab indenting a key", "a: 1\n\tb: 2\n", 2, "", "found a tab character that violates indentation"},
		{"unclosed flow list", "a: 1\nb: [1, 2\nc: 3\n", 2, "line 1", "did not find expected ',' or ']'"},
		{"unclosed flow mapping", "version: 1\nevents: [\n  {code: a, name: A\n", 3, "line 2", "did not find expected ',' or '}'"},
		{"unclosed flow at the end", "a: [\n", 1, "", "did not find expected node content"},
		{"control character", "a: 1\nb: \x01\n", 2, "no line", "control characters are not allowed"},
		{"invalid UTF-8", "a: 1\nb: \xff\n", 2, "no line", "invalid leading UTF-8 octet"},
		{"unknown anchor", "a: 1\nb: *nowhere\n", 2, "no line", "unknown anchor 'nowhere' referenced"},
		{"CRLF line breaks", "a: 1\r\nb:\r\n  c: 1\r\n d: 2\r\n", 4, "line 3", "did not find expected key"},
		{"CR line breaks", "a: 1\rb:\r  c: 1\r d: 2\r", 4, "line 3", "did not find expected key"},
		{"byte order mark", "\ufeffa: 1\nb: c: d\n", 2, "", "mapping values are not allowed in this context"},
		{"error in a second document", "a: 1\n---\nb: [\n", 3, "", "did not find expected node content"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.doc))
			e := asError(t, err)
			if e.Line != tc.line || !errors.Is(err, ErrSyntax) || e.Msg != "not valid YAML: "+tc.want {
				t.Errorf("Parse(%q) = line %d %q (ErrSyntax %t), want line %d %q", tc.doc, e.Line, e.Msg, errors.Is(err, ErrSyntax), tc.line, "not valid YAML: "+tc.want)
			}
			if tc.yamlLine != "" {
				var n yaml.Node
				yerr := yaml.Unmarshal([]byte(tc.doc), &n)
				if tc.yamlLine == "no line" && yerr != nil && strings.Contains(yerr.Error(), "line ") ||
					tc.yamlLine != "no line" && (yerr == nil || !strings.Contains(yerr.Error(), tc.yamlLine+":")) {
					t.Logf("yaml.v3 now says %v (the test expected %s)", yerr, tc.yamlLine)
				}
			}
		})
	}
}

func TestParseUTF16(t *testing.T) {
	t.Parallel()
	encode := func(s string, big bool) []byte {
		units := utf16.Encode([]rune("\ufeff" + s))
		out := make([]byte, 0, 2*len(units))
		for _, u := range units {
			if big {
				out = append(out, byte(u>>8), byte(u))
			} else {
				out = append(out, byte(u), byte(u>>8))
			}
		}
		return out
	}
	for _, big := range []bool{false, true} {
		root, err := Parse(encode("a: é\n", big))
		if err != nil || root.Kind != yaml.MappingNode || root.Content[1].Value != "é" {
			t.Errorf("UTF-16 (big endian %t): %v, %+v", big, err, root)
		}
		_, err = Parse(encode("a: 1\nb:\n  c: 1\n d: 2\n", big))
		if e := asError(t, err); e.Line != 4 {
			t.Errorf("UTF-16 (big endian %t) syntax error at line %d, want 4", big, e.Line)
		}
	}
	if _, err := Parse([]byte{0xFF, 0xFE, 'a'}); asError(t, err).Line != 1 || !errors.Is(err, ErrSyntax) {
		t.Errorf("odd UTF-16: %v", err)
	}
}

func TestParseEmptyAndSecondDocument(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", "  \n\t\n", "\r\n\t", "# nothing\n# yet\n", "---\n", "~\n", "# c\n\n---\nnull\n", "\ufeff\n"} {
		_, err := Parse([]byte(doc))
		if e := asError(t, err); e.Line != 1 || !errors.Is(err, ErrEmpty) {
			t.Errorf("Parse(%q) = %v, want ErrEmpty at line 1", doc, err)
		}
	}
	_, err := Parse([]byte("a: 1\nb: 2\n---\na: 3\n"))
	if e := asError(t, err); e.Line != 3 || !strings.Contains(e.Msg, "a second YAML document starts here") {
		t.Errorf("second document: %v, want line 3", err)
	}
}

// duration reads "5s", as an Unmarshaler.
type duration struct{ time.Duration }

func (d *duration) UnmarshalStrictYAML(n *yaml.Node, what string, _ DecodeFunc) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return Errorf(n.Line, "%s: %q is not a duration", what, n.Value)
	}
	d.Duration = v
	return nil
}

// keyLines decodes a mapping of lists through the DecodeFunc it is given
// and keeps the line of each key.
type keyLines struct {
	values map[string][]string
	lines  map[string]int
}

func (k *keyLines) UnmarshalStrictYAML(n *yaml.Node, what string, decode DecodeFunc) error {
	if err := decode(n, what, &k.values); err != nil {
		return err
	}
	k.lines = map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k.lines[n.Content[i].Value] = n.Content[i].Line
	}
	return nil
}

type testItem struct {
	Line int    `yaml:",line"`
	Code string `yaml:"code,required"`
	Name string `yaml:"name"`
}

func (testItem) YAMLName() string { return "an item" }

type testAuth struct {
	Type  string `yaml:"type,required"`
	Token string `yaml:"token"`
}

type testDoc struct {
	Line     int               `yaml:",line"`
	Version  int               `yaml:"version"`
	Enabled  bool              `yaml:"enabled"`
	Ratio    float64           `yaml:"ratio"`
	Small    int8              `yaml:"small"`
	Items    []testItem        `yaml:"items,required"`
	Tags     []string          `yaml:"tags"`
	Params   map[string]string `yaml:"params"`
	Data     map[string]any    `yaml:"data"`
	Any      any               `yaml:"any"`
	Auth     *testAuth         `yaml:"auth"`
	Timeout  duration          `yaml:"timeout"`
	Subs     keyLines          `yaml:"subs"`
	Raw      yaml.Node         `yaml:"raw"`
	Skipped  string            `yaml:"-"`
	internal string            // unexported: not a key
}

func TestDecode(t *testing.T) {
	t.Parallel()
	doc := `# a test document
version: 2
enabled: yes
ratio: 0.5
small: -3
items:
  - code: a
    name: A
  - {code: "404"}
tags: [x, 'y']
params: {k: v}
data: {n: 1, l: [1, 2.5, z], m: {deep: ~}}
any: [1, two]
auth: &auth {type: bearer, token: t0k}
timeout: 1m30s
subs:
  a: [e1]
  b: [e2, e3]
raw: {anything: [goes]}
`
	var got testDoc
	if err := (Decoder{}).Decode([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	raw := got.Raw
	got.Raw = yaml.Node{}
	want := testDoc{
		Line: 2, Version: 2, Enabled: true, Ratio: 0.5, Small: -3,
		Items:   []testItem{{Line: 7, Code: "a", Name: "A"}, {Line: 9, Code: "404"}},
		Tags:    []string{"x", "y"},
		Params:  map[string]string{"k": "v"},
		Data:    map[string]any{"n": 1, "l": []any{1, 2.5, "z"}, "m": map[string]any{"deep": nil}},
		Any:     []any{1, "two"},
		Auth:    &testAuth{Type: "bearer", Token: "t0k"},
		Timeout: duration{90 * time.Second},
		Subs:    keyLines{values: map[string][]string{"a": {"e1"}, "b": {"e2", "e3"}}, lines: map[string]int{"a": 17, "b": 18}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode =\n%#v\nwant\n%#v", got, want)
	}
	if raw.Kind != yaml.MappingNode || raw.Line != 19 {
		t.Errorf("raw = %+v, want the mapping node of line 19", raw)
	}

	// Unexported and "-" fields are no keys, and left alone.
	got = testDoc{internal: "kept", Skipped: "kept"}
	err := (Decoder{}).Decode([]byte("items: []\ninternal: x\n"), &got)
	if e := asError(t, err); e.Line != 2 || !strings.HasPrefix(e.Msg, `unknown key "internal" in the document`) || got.internal != "kept" || got.Skipped != "kept" {
		t.Errorf("unexported field: %v, %+v", err, got)
	}
	if err := (Decoder{}).Decode([]byte("items: []\nskipped: x\n"), &got); err == nil {
		t.Error(`a field tagged "-" took a key`)
	}

	// Nulls leave fields zero; an alias is followed.
	got = testDoc{}
	err = (Decoder{}).Decode([]byte("items: [&i {code: a}, *i]\ntags:\nauth: ~\nparams: null\ntimeout: ~\n"), &got)
	if err != nil || len(got.Items) != 2 || got.Items[1].Code != "a" || got.Tags != nil || got.Auth != nil || got.Params != nil || got.Timeout.Duration != 0 {
		t.Errorf("nulls and aliases: %v, %+v", err, got)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		show      bool
		line      int
		want      string
	}{
		{"unknown key", "items: []\nitme: 1\n", false, 2,
			`unknown key "itme" in the document (did you mean "items"?): the keys are version, enabled, ratio, small, items, tags, params, data, any, auth, timeout, subs, raw`},
		{"unknown key in an item", "items:\n  - code: a\n    nmae: A\n", false, 3,
			`unknown key "nmae" in an item (did you mean "name"?): the keys are code, name`},
		{"unknown key far from any", "items: []\nauth: {type: x, zzzzzz: 1}\n", false, 2,
			`unknown key "zzzzzz" in auth: the keys are type, token`},
		{"merge key", "items: []\nauth: {<<: {type: x}}\n", false, 2, `unknown key "<<" in auth: the keys are type, token`},
		{"repeated key", "items: []\nversion: 1\nversion: 2\n", false, 3, `key "version" is repeated in the document (first on line 2)`},
		{"repeated key in a map", "items: []\nparams:\n  k: 1\n  k: 2\n", false, 4, `key "k" is repeated in params (first on line 3)`},
		{"repeated key in free-form data", "items: []\ndata:\n  x: {k: 1, k: 2}\n", false, 3, `key "k" is repeated in data (first on line 3)`},
		{"missing required key", "version: 1\n", false, 1, `the document has no "items"`},
		{"missing required key in an item", "items:\n  - name: A\n", false, 2, `an item has no "code"`},
		{"list for text", "items:\n  - code: [a, b]\n", false, 2, "code is a list, want text"},
		{"mapping for a list", "items:\n  code: a\n", false, 2, "items is a mapping, want a list"},
		{"text for a number", "items: []\nversion: sk-secret-value\n", false, 2, "version is text, want a whole number"},
		{"text for a number, shown", "items: []\nversion: sk-secret-value\n", true, 2, `version is the value "sk-secret-value", want a whole number`},
		{"number out of range", "items: []\nsmall: 300\n", false, 2, "small is a whole number, want a whole number from -128 to 127"},
		{"list for true or false", "items: []\nenabled: [x]\n", false, 2, "enabled is a list, want true or false"},
		{"text for a mapping", "items: []\nauth: bearer\n", false, 2, "auth is text, want a mapping with type and token"},
		{"empty item", "items:\n  - code: a\n  - ~\n", false, 3, "an item is empty, want a mapping with code and name"},
		{"scalar item, shown", "items:\n  - x\n", true, 2, `an item is the value "x", want a mapping with code and name`},
		{"item of a list of text", "items: []\ntags: [a, {b: c}]\n", false, 2, "tags[1] is a mapping, want text"},
		{"map value", "items: []\nparams: {k: [v]}\n", false, 2, `params "k" is a list, want text`},
		{"free-form kind", "items: []\ndata: [1, 2]\n", false, 2, "data is a list, want a mapping"},
		{"mapping key", "items: []\nparams: {[a]: b}\n", false, 2, "a key of params is a list, want text"},
		{"null key", "items: []\nparams: {~: b}\n", false, 2, "a key of params is empty, want text"},
		{"Unmarshaler error", "items: []\ntimeout: soon\n", false, 2, `timeout: "soon" is not a duration`},
		{"decode through an Unmarshaler", "items: []\nsubs:\n  a: text\n", false, 3, `subs "a" is text, want a list`},
		{"document not a mapping", "- a\n", false, 1, "the document is a list, want a mapping"},
		{"alias to a value of another kind", "items: []\nauth: &a {type: x, token: *a}\n", false, 2, "token is a mapping, want text"},
		{"free-form alias that contains itself", "items: []\ndata: &d {x: *d}\n", false, 2, "data: anchor 'd' value contains itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got testDoc
			err := (Decoder{ShowValues: tc.show}).Decode([]byte(tc.doc), &got)
			e := asError(t, err)
			if e.Line != tc.line || e.Msg != tc.want {
				t.Errorf("Decode(%q) = line %d %q, want line %d %q", tc.doc, e.Line, e.Msg, tc.line, tc.want)
			}
			if !tc.show && strings.Contains(e.Msg, "sk-secret") {
				t.Errorf("without ShowValues the message shows a value: %q", e.Msg)
			}
		})
	}
}

// TestAliasExpansionIsBounded checks that aliases that multiply the
// document (the "billion laughs") are refused instead of decoded, and that
// a value that contains itself is refused.
func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	type bomb struct {
		L0 []string
		L1 [][]string
		L2 [][][]string
		L3 [][][][]string
		L4 [][][][][]string
		L5 [][][][][][]string
		L6 [][][][][][][]string
		L7 [][][][][][][][]string
		L8 [][][][][][][][][]string
		L9 [][][][][][][][][][]string
	}
	start := time.Now()
	var got bomb
	err := (Decoder{}).Decode([]byte(b.String()), &got)
	if e := asError(t, err); !strings.Contains(e.Msg, "aliases expand the document to more than") {
		t.Errorf("alias bomb: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("refusing the alias bomb took %s", d)
	}

	type tree struct {
		Name string `yaml:"name"`
		Kids []tree `yaml:"kids"`
	}
	var root tree
	err = (Decoder{}).Decode([]byte("name: a\nkids:\n  - &k\n    name: b\n    kids: [*k]\n"), &root)
	if e := asError(t, err); e.Line != 5 || e.Msg != "kids[0] is the alias *k, which refers to a value that contains it" {
		t.Errorf("a value that contains itself: %v", err)
	}
}

func TestDecodeNodeNames(t *testing.T) {
	t.Parallel()
	root, err := Parse([]byte("events: text\n"))
	if err != nil {
		t.Fatal(err)
	}
	var list []testItem
	err = (Decoder{ShowValues: true}).DecodeNode(root.Content[1], `"events"`, &list)
	if e := asError(t, err); e.Line != 1 || e.Msg != `"events" is the value "text", want a list` {
		t.Errorf("DecodeNode = %v", err)
	}
	if err := (Decoder{}).DecodeNode(root, "x", list); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("DecodeNode into a non-pointer = %v, want a plain error", err)
	}
}
