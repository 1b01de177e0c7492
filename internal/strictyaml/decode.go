package strictyaml

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/scopehook/webhook/internal/suggest"
	"gopkg.in/yaml.v3"
)

// Decoder decodes YAML into Go values strictly. A struct takes the keys its
// yaml tags name (`yaml:"name"`, or the field name in lower case), each at
// most once, and needs those tagged `yaml:"name,required"`; an int field
// tagged `yaml:",line"` receives the line of the mapping. Strings, numbers
// and booleans are read as yaml.v3 reads them; lists go into slices,
// mappings into structs and maps with text keys. Values of type any,
// map[string]any and []any are free-form: decoded by yaml.v3 after a check
// of their kind. A yaml.Node field keeps the node as it is. A null value
// leaves the field zero, but for a struct that is not behind a pointer.
// Aliases are followed, within a limit on how much they expand the
// document; merge keys ("<<") are unknown keys.
//
// The zero value names a scalar of the wrong kind by its kind only.
type Decoder struct {
	// ShowValues makes messages quote a scalar of the wrong kind
	// (`code is the value "x", want a mapping`) instead of naming its kind
	// (`code is text, want a mapping`). Leave it off for a file that may
	// hold credentials.
	ShowValues bool
}

// Named is implemented by a struct type that names its values when they
// are items of a list, such as "a webhook". Items of other types are named
// after their list and index: "signing_secrets[1]".
type Named interface {
	YAMLName() string
}

// DecodeFunc decodes n into the value v points to as the decoder that
// calls an Unmarshaler does, naming it what in messages.
type DecodeFunc func(n *yaml.Node, what string, v any) error

// Unmarshaler is implemented by a type that reads itself from a node, such
// as a duration written "5s" or "2.5". It is never called for a null
// value, which leaves it zero; n is never an alias. An *Error it returns is
// kept as it is; any other error is reported at n's line, after what.
type Unmarshaler interface {
	UnmarshalStrictYAML(n *yaml.Node, what string, decode DecodeFunc) error
}

// Decode parses data as Parse does and decodes its document into the value
// v points to, naming it "the document" in messages.
func (d Decoder) Decode(data []byte, v any) error {
	root, err := Parse(data)
	if err != nil {
		return err
	}
	return d.DecodeNode(root, "the document", v)
}

// DecodeNode decodes n into the value v points to, naming n what in
// messages ("the document", `"events"`). Its errors are *Error values, but
// for a v of a type it cannot decode into.
func (d Decoder) DecodeNode(n *yaml.Node, what string, v any) error {
	st := &state{show: d.ShowValues, active: map[*yaml.Node]bool{}, sizes: map[*yaml.Node]int{}}
	st.limit = minExpansionLimit + expansionRatio*treeSize(n)
	return st.decodeInto(n, what, v)
}

// The decoder refuses a document whose aliases make it decode more than
// minExpansionLimit values plus expansionRatio times its own size.
const (
	minExpansionLimit = 1 << 20
	expansionRatio    = 10
)

// state is one DecodeNode call: its options, and what bounds the expansion
// of aliases.
type state struct {
	show   bool
	count  int // values decoded, aliases expanded
	limit  int
	active map[*yaml.Node]bool // alias targets being decoded
	sizes  map[*yaml.Node]int  // expanded sizes of free-form values
}

var (
	nodeType    = reflect.TypeFor[yaml.Node]()
	nodePtrType = reflect.TypeFor[*yaml.Node]()
)

// decodeInto is the DecodeFunc that Unmarshalers are given.
func (s *state) decodeInto(n *yaml.Node, what string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictyaml: decoding %s needs a non-nil pointer, got %T", what, v)
	}
	return s.decode(n, what, rv.Elem())
}

func (s *state) decode(n *yaml.Node, what string, out reflect.Value) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return s.decode(&yaml.Node{Kind: yaml.ScalarNode, Tag: nullTag, Line: n.Line}, what, out)
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		target := n.Alias
		if s.active[target] {
			return Errorf(n.Line, "%s is the alias *%s, which refers to a value that contains it", what, n.Value)
		}
		s.active[target] = true
		defer delete(s.active, target)
		return s.decode(target, what, out)
	}
	if s.count++; s.count > s.limit {
		return Errorf(n.Line, "aliases expand the document to more than %d values: use fewer of them", s.limit)
	}
	t := out.Type()
	switch t {
	case nodeType:
		out.Set(reflect.ValueOf(*n))
		return nil
	case nodePtrType:
		out.Set(reflect.ValueOf(n))
		return nil
	}
	var u Unmarshaler
	if out.CanAddr() {
		u, _ = out.Addr().Interface().(Unmarshaler)
	}
	switch {
	case isNull(n) && u == nil && t.Kind() == reflect.Struct:
		return s.wrongKind(n, what, t)
	case isNull(n):
		out.SetZero()
		return nil
	case u != nil:
		return s.unmarshaler(u, n, what)
	}
	switch t.Kind() {
	case reflect.Pointer:
		if out.IsNil() {
			out.Set(reflect.New(t.Elem()))
		}
		s.count-- // the same value, not another one
		return s.decode(n, what, out.Elem())
	case reflect.Struct:
		return s.decodeStruct(n, what, out)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Interface {
			return s.decodeFree(n, what, out)
		}
		return s.decodeSlice(n, what, out)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("strictyaml: cannot decode %s into %s: map keys must be strings", what, t)
		}
		if t.Elem().Kind() == reflect.Interface {
			return s.decodeFree(n, what, out)
		}
		return s.decodeMap(n, what, out)
	case reflect.Interface:
		return s.decodeFree(n, what, out)
	case reflect.String, reflect.Bool, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return s.decodeScalar(n, what, out)
	default:
		return fmt.Errorf("strictyaml: cannot decode %s into %s", what, t)
	}
}

func (s *state) unmarshaler(u Unmarshaler, n *yaml.Node, what string) error {
	err := u.UnmarshalStrictYAML(n, what, s.decodeInto)
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Errorf(n.Line, "%s: %v", what, err)
}

// field is a key of a struct.
type field struct {
	name     string
	index    int
	required bool
}

// structFields returns the keys of struct type t, in field order, and the
// index of its ",line" field (-1 for none).
func structFields(t reflect.Type) ([]field, int) {
	var fields []field
	line := -1
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fi := field{name: name, index: i}
		isLine := false
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "required":
				fi.required = true
			case "line":
				isLine = true
			}
		}
		if isLine && f.Type.Kind() == reflect.Int {
			line = i
			continue
		}
		if fi.name == "" {
			fi.name = strings.ToLower(f.Name)
		}
		fields = append(fields, fi)
	}
	return fields, line
}

func (s *state) decodeStruct(n *yaml.Node, what string, out reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return s.wrongKind(n, what, out.Type())
	}
	fields, lineField := structFields(out.Type())
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, err := s.key(n.Content[i], what)
		if err != nil {
			return err
		}
		kline := n.Content[i].Line
		if first, dup := seen[key]; dup {
			return Errorf(kline, "key %q is repeated in %s (first on line %d)", key, what, first)
		}
		seen[key] = kline
		fi := -1
		for j := range fields {
			if fields[j].name == key {
				fi = j
				break
			}
		}
		if fi < 0 {
			return unknownKey(kline, key, what, fields)
		}
		if err := s.decode(n.Content[i+1], key, out.Field(fields[fi].index)); err != nil {
			return err
		}
	}
	for _, f := range fields {
		if _, ok := seen[f.name]; f.required && !ok {
			return Errorf(n.Line, "%s has no %q", what, f.name)
		}
	}
	if lineField >= 0 {
		out.Field(lineField).SetInt(int64(n.Line))
	}
	return nil
}

// unknownKey is the error of a key that no field takes, suggesting the
// nearest one when it looks like a typo.
func unknownKey(line int, key, what string, fields []field) error {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	hint := ""
	if c := closest(key, names); c != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", c)
	}
	var allowed string
	switch len(names) {
	case 0:
		allowed = "it takes no keys"
	case 1:
		allowed = "the only key is " + names[0]
	default:
		allowed = "the keys are " + strings.Join(names, ", ")
	}
	return Errorf(line, "unknown key %q in %s%s: %s", key, what, hint, allowed)
}

// key returns the text of a mapping key, which must be a non-null scalar.
func (s *state) key(k *yaml.Node, what string) (string, error) {
	if k.Kind == yaml.AliasNode && k.Alias != nil {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode || isNull(k) {
		return "", Errorf(k.Line, "a key of %s is %s, want text", what, s.describe(k))
	}
	return k.Value, nil
}

func (s *state) decodeSlice(n *yaml.Node, what string, out reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		return s.wrongKind(n, what, out.Type())
	}
	t := out.Type()
	items := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if err := s.decode(item, itemName(t.Elem(), what, i), items.Index(i)); err != nil {
			return err
		}
	}
	out.Set(items)
	return nil
}

// itemName names item i of the list what of elem values.
func itemName(elem reflect.Type, what string, i int) string {
	for elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	if nm, ok := reflect.New(elem).Interface().(Named); ok {
		return nm.YAMLName()
	}
	return fmt.Sprintf("%s[%d]", what, i)
}

func (s *state) decodeMap(n *yaml.Node, what string, out reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return s.wrongKind(n, what, out.Type())
	}
	t := out.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, err := s.key(n.Content[i], what)
		if err != nil {
			return err
		}
		if first, dup := seen[key]; dup {
			return Errorf(n.Content[i].Line, "key %q is repeated in %s (first on line %d)", key, what, first)
		}
		seen[key] = n.Content[i].Line
		v := reflect.New(t.Elem()).Elem()
		if err := s.decode(n.Content[i+1], fmt.Sprintf("%s %q", what, key), v); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), v)
	}
	out.Set(m)
	return nil
}

// yamlDuplicate matches yaml.v3's message for a repeated key.
var yamlDuplicate = regexp.MustCompile(`^line (\d+): mapping key (.*) already defined at line (\d+)$`)

// safeProblems are the messages of yaml.v3's decoder that show no value.
var safeProblems = regexp.MustCompile(`^(anchor '[^']*' value contains itself|document contains excessive aliasing|!!binary value contains invalid base64 data)$`)

// decodeFree decodes a free-form value with yaml.v3, once its kind and its
// keys are checked and its expanded size counted.
func (s *state) decodeFree(n *yaml.Node, what string, out reflect.Value) error {
	switch k := out.Type().Kind(); {
	case k == reflect.Map && n.Kind != yaml.MappingNode, k == reflect.Slice && n.Kind != yaml.SequenceNode:
		return s.wrongKind(n, what, out.Type())
	}
	if err := s.checkKeys(n, what, map[*yaml.Node]bool{}); err != nil {
		return err
	}
	if s.count += s.size(n); s.count > s.limit {
		return Errorf(n.Line, "aliases expand the document to more than %d values: use fewer of them", s.limit)
	}
	v := reflect.New(out.Type())
	if err := n.Decode(v.Interface()); err != nil {
		msg, line := problem(err), n.Line
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			if m := yamlDuplicate.FindStringSubmatch(te.Errors[0]); m != nil {
				line, _ = strconv.Atoi(m[1])
				return Errorf(line, "key %s is repeated in %s (first on line %s)", m[2], what, m[3])
			}
			msg = yamlLine.ReplaceAllString(te.Errors[0], "")
		}
		if !s.show && !safeProblems.MatchString(msg) {
			msg = "a value cannot be decoded"
		}
		return Errorf(line, "%s: %s", what, msg)
	}
	out.Set(v.Elem())
	return nil
}

// checkKeys refuses a mapping key that is not a scalar in free-form data:
// neither JSON nor yaml.v3's maps can hold it. Aliases are followed once.
func (s *state) checkKeys(n *yaml.Node, what string, seen map[*yaml.Node]bool) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if seen[n] {
		return nil
	}
	seen[n] = true
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			k := c
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode {
				return Errorf(c.Line, "a key of %s is %s, want text", what, s.describe(k))
			}
		}
		if err := s.checkKeys(c, what, seen); err != nil {
			return err
		}
	}
	return nil
}

// size returns how many nodes n stands for once its aliases are expanded,
// counting no further than past the limit.
func (s *state) size(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		return 1 + s.size(n.Alias)
	}
	if v, ok := s.sizes[n]; ok {
		return v
	}
	s.sizes[n] = 1 // while counting: a value that contains itself
	total := 1
	for _, c := range n.Content {
		if total += s.size(c); total > s.limit {
			break
		}
	}
	s.sizes[n] = total
	return total
}

// treeSize returns how many nodes the tree under n holds, aliases counted
// once each.
func treeSize(n *yaml.Node) int {
	total := 1
	for _, c := range n.Content {
		total += treeSize(c)
	}
	return total
}

func (s *state) decodeScalar(n *yaml.Node, what string, out reflect.Value) error {
	if n.Kind != yaml.ScalarNode {
		return s.wrongKind(n, what, out.Type())
	}
	v := reflect.New(out.Type())
	if err := n.Decode(v.Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return s.wrongKind(n, what, out.Type())
		}
		return Errorf(n.Line, "%s: %s", what, problem(err))
	}
	out.Set(v.Elem())
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag
}

func (s *state) wrongKind(n *yaml.Node, what string, want reflect.Type) error {
	return Errorf(n.Line, "%s is %s, want %s", what, s.describe(n), wantText(want))
}

// describe names what a node is: its kind, and a scalar's text with
// ShowValues.
func (s *state) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	if isNull(n) {
		return "empty"
	}
	if s.show {
		return fmt.Sprintf("the value %q", n.Value)
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return "text"
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!timestamp":
		return "a time"
	case "!!binary":
		return "binary data"
	default:
		return fmt.Sprintf("a value tagged %q", tag)
	}
}

// wantText says in words what a value of type t is written as.
func wantText(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return wantText(t.Elem())
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		bits := t.Bits()
		return fmt.Sprintf("a whole number from %d to %d", -1<<(bits-1), 1<<(bits-1)-1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a mapping"
	case reflect.Struct:
		return "a mapping" + withKeys(t)
	default:
		return "a value"
	}
}

// withKeys names the keys of struct type t, " with code and name", when
// they are few enough to read in a message.
func withKeys(t reflect.Type) string {
	fields, _ := structFields(t)
	if len(fields) == 0 || len(fields) > 4 {
		return ""
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if len(names) == 1 {
		return " with " + names[0]
	}
	return " with " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// closest returns the name of names nearest to s when it is likely a typo
// of it (at most 2 edits, ignoring case), or "".
func closest(s string, names []string) string {
	best, bestDist := "", 3
	for _, name := range names {
		if d := suggest.Distance(strings.ToLower(s), name); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}
