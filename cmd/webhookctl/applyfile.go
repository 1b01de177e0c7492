package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
	"gopkg.in/yaml.v3"
)

// maxApplyFileBytes bounds the webhooks file apply reads.
const maxApplyFileBytes = 8 << 20

// maxScopeLen is the size of the scope columns.
const maxScopeLen = 64

// errInvalidFile marks a webhooks file that failed validation; it exits
// with status 3.
var errInvalidFile = errors.New("invalid webhooks file")

// The webhooks file, as apply reads it. Every struct lists its keys in yaml
// tags; any other key is an error naming its line.

type applyFile struct {
	Version int         `yaml:"version"`
	Scopes  []scopeSpec `yaml:"scopes"`
}

type scopeSpec struct {
	Type          string              `yaml:"type"`
	Code          string              `yaml:"code"`
	Webhooks      []webhookSpec       `yaml:"webhooks"`
	Subscriptions map[string][]string `yaml:"subscriptions"`

	line     int
	subLines map[string]int // line of each key of subscriptions
}

type webhookSpec struct {
	Code               string            `yaml:"code"`
	Name               string            `yaml:"name"`
	Endpoint           string            `yaml:"endpoint"`
	Method             string            `yaml:"method"`
	ContentType        string            `yaml:"content_type"`
	Auth               *authSpec         `yaml:"auth"`
	Headers            []headerSpec      `yaml:"headers"`
	Params             map[string]string `yaml:"params"`
	Data               map[string]any    `yaml:"data"`
	Timeout            yamlDuration      `yaml:"timeout"`
	RetryTimes         int               `yaml:"retry_times"`
	RetryInterval      yamlDuration      `yaml:"retry_interval"`
	SigningSecrets     []string          `yaml:"signing_secrets"`
	Disabled           bool              `yaml:"disabled"`
	InsecureSkipVerify bool              `yaml:"insecure_skip_verify"`

	line int
}

type authSpec struct {
	Type     string `yaml:"type"`
	Token    string `yaml:"token"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

type headerSpec struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
	Doc   string `yaml:"doc"`
}

// lineError is a problem at a line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

func lineErrorf(line int, format string, args ...any) error {
	return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
}

// checkMapping checks that n is a mapping whose keys are all fields of the
// struct v, each once, and that the required ones are present.
func checkMapping(n *yaml.Node, what string, v any, required ...string) error {
	if n.Kind != yaml.MappingNode {
		return lineErrorf(n.Line, "%s is %s, want a mapping", what, describeNode(n))
	}
	known := yamlKeys(reflect.TypeOf(v))
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := seen[k.Value]; dup {
			return lineErrorf(k.Line, "key %q is repeated in %s (first on line %d)", k.Value, what, first)
		}
		seen[k.Value] = k.Line
		if !slicesContains(known, k.Value) {
			hint := ""
			if s := closest(k.Value, known); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			return lineErrorf(k.Line, "unknown key %q in %s%s: the keys are %s", printable(k.Value), what, hint, strings.Join(known, ", "))
		}
	}
	for _, r := range required {
		if _, ok := seen[r]; !ok {
			return lineErrorf(n.Line, "%s has no %q", what, r)
		}
	}
	return nil
}

func slicesContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// yamlKeys returns the yaml keys of the exported fields of struct type t.
func yamlKeys(t reflect.Type) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
	}
	return keys
}

// closest returns the key of known nearest to s when it is a likely typo.
func closest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(s), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return "a single value"
	default:
		return "empty"
	}
}

func (f *applyFile) UnmarshalYAML(n *yaml.Node) error {
	if err := checkMapping(n, "the document", f, "scopes"); err != nil {
		return err
	}
	type plain applyFile
	return n.Decode((*plain)(f))
}

func (s *scopeSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := checkMapping(n, "a scope", s, "type", "code", "webhooks", "subscriptions"); err != nil {
		return err
	}
	type plain scopeSpec
	if err := n.Decode((*plain)(s)); err != nil {
		return err
	}
	s.line = n.Line
	s.subLines = map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "subscriptions" {
			continue
		}
		subs := n.Content[i+1]
		if subs.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(subs.Content); j += 2 {
				s.subLines[subs.Content[j].Value] = subs.Content[j].Line
			}
		}
	}
	return nil
}

func (w *webhookSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := checkMapping(n, "a webhook", w); err != nil {
		return err
	}
	type plain webhookSpec
	if err := n.Decode((*plain)(w)); err != nil {
		return err
	}
	w.line = n.Line
	return nil
}

func (a *authSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := checkMapping(n, "auth", a, "type"); err != nil {
		return err
	}
	type plain authSpec
	return n.Decode((*plain)(a))
}

func (h *headerSpec) UnmarshalYAML(n *yaml.Node) error {
	if err := checkMapping(n, "a header", h, "key", "value"); err != nil {
		return err
	}
	type plain headerSpec
	return n.Decode((*plain)(h))
}

// yamlDuration is a duration written as Go writes it (5s, 1m30s) or as a
// number of seconds (5, 2.5), as the Python package stores it.
type yamlDuration struct{ time.Duration }

func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineErrorf(n.Line, "a duration is %s, want a value such as 5s, 1m30s or 2.5 (seconds)", describeNode(n))
	}
	if v, err := time.ParseDuration(n.Value); err == nil {
		if v < 0 {
			return lineErrorf(n.Line, "duration %q is negative", n.Value)
		}
		d.Duration = v
		return nil
	}
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if f < 0 || f > 24*3600 {
			return lineErrorf(n.Line, "duration %v seconds is out of range 0 to 86400", f)
		}
		d.Duration = time.Duration(f * float64(time.Second))
		return nil
	}
	return lineErrorf(n.Line, "%q is not a duration: write 5s, 1m30s or a number of seconds", printable(n.Value))
}

// envRef matches a ${NAME} reference; envRefOrEsc also matches "$${", a
// literal "${".
var (
	envRef       = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	envRefOrEsc  = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	envRefPrefix = "${"
)

// missingVar is a ${NAME} whose variable is unset or empty.
type missingVar struct {
	name string
	line int
}

// expandNode replaces ${NAME} in every value of the tree under n (keys are
// left alone) with the environment variable NAME, and $${ with ${. An
// expanded value is always text. It returns the references to variables
// that are unset or empty, and an error for a malformed reference.
func expandNode(n *yaml.Node, getenv func(string) string, missing *[]missingVar) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if err := expandNode(c, getenv, missing); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := expandNode(n.Content[i], getenv, missing); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return nil
		}
		if err := checkRefs(n); err != nil {
			return err
		}
		changed := false
		out := envRefOrEsc.ReplaceAllStringFunc(n.Value, func(m string) string {
			changed = true
			if m == "$${" {
				return envRefPrefix
			}
			name := m[2 : len(m)-1]
			v := getenv(name)
			if v == "" {
				*missing = append(*missing, missingVar{name: name, line: n.Line})
			}
			return v
		})
		if changed {
			n.Value, n.Tag, n.Style = out, "!!str", 0
		}
	}
	return nil
}

// checkRefs reports a "${" that starts no valid ${NAME} reference, such as
// ${A-B} or an unclosed ${A.
func checkRefs(n *yaml.Node) error {
	rest := envRefOrEsc.ReplaceAllString(n.Value, "")
	if strings.Contains(rest, envRefPrefix) {
		return lineErrorf(n.Line, "a value has a \"${\" that starts no ${NAME} reference (NAME is letters, digits and _, closed by }); write $${ for a literal ${")
	}
	return nil
}

// applyWarning is advice about the file that does not stop apply.
type applyWarning struct {
	line int
	msg  string
}

// literalCredentials returns a warning for each credential written in the
// file instead of referenced as ${NAME}.
func literalCredentials(root *yaml.Node) []applyWarning {
	var out []applyWarning
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path+"[]")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], path+"."+n.Content[i].Value)
			}
		case yaml.ScalarNode:
			switch path {
			case ".scopes[].webhooks[].auth.token", ".scopes[].webhooks[].auth.password", ".scopes[].webhooks[].signing_secrets[]":
				if n.Value != "" && n.ShortTag() != "!!null" && !envRef.MatchString(n.Value) {
					field := strings.TrimPrefix(path, ".scopes[].webhooks[].")
					out = append(out, applyWarning{n.Line, fmt.Sprintf("%s is written in the file: reference an environment variable instead, as ${NAME}", strings.TrimSuffix(field, "[]"))})
				}
			}
		}
	}
	if root != nil {
		walk(root, "")
	}
	return out
}

// parseApplyFile reads a webhooks file: strictly (unknown or repeated keys,
// wrong types and missing keys are errors naming the line), then with
// ${NAME} references expanded from the environment. The file is decoded
// once before expansion, so that no message can show an expanded value.
func parseApplyFile(name string, data []byte, getenv func(string) string) (*applyFile, []applyWarning, error) {
	at := func(err error) error {
		var le *lineError
		var te *yaml.TypeError
		switch {
		case errors.As(err, &le):
			return fmt.Errorf("%w: %s:%d: %s", errInvalidFile, name, le.line, le.msg)
		case errors.As(err, &te):
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = name + ":" + cleanYAMLError(m)
			}
			return fmt.Errorf("%w: %s", errInvalidFile, strings.Join(msgs, "; "))
		default:
			msg := cleanYAMLError(err.Error())
			if msg != "" && msg[0] >= '0' && msg[0] <= '9' {
				return fmt.Errorf("%w: %s:%s", errInvalidFile, name, msg)
			}
			return fmt.Errorf("%w: %s: %s", errInvalidFile, name, msg)
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, fmt.Errorf("%w: %s:1: the file is empty: it needs a \"scopes\" list", errInvalidFile, name)
	}
	root, err := parseYAMLDocument(data)
	if err != nil {
		return nil, nil, at(err)
	}
	var unexpanded applyFile
	if err := root.Decode(&unexpanded); err != nil {
		return nil, nil, at(err)
	}
	var missing []missingVar
	if err := expandNode(root, getenv, &missing); err != nil {
		return nil, nil, at(err)
	}
	if len(missing) > 0 {
		parts := make([]string, len(missing))
		for i, m := range missing {
			parts[i] = fmt.Sprintf("%s (line %d)", m.name, m.line)
		}
		return nil, nil, withHint(usageErrorf("%s: environment variable %s not set or empty", name, strings.Join(parts, ", ")),
			"export each variable the file references as ${NAME} before running apply; nothing was written")
	}
	var file applyFile
	if err := root.Decode(&file); err != nil {
		// Not reached: the unexpanded file decoded, and expansion only
		// turns values into text. The message is not shown, as it could
		// hold an expanded value.
		return nil, nil, fmt.Errorf("%w: %s: the file does not decode once ${NAME} references are expanded", errInvalidFile, name)
	}
	if err := file.validate(); err != nil {
		return nil, nil, at(err)
	}
	// Warnings come from the tree as written, which root no longer is.
	orig, _ := parseYAMLDocument(data)
	return &file, literalCredentials(orig), nil
}

// parseYAMLDocument returns the root node of the only document in data.
func parseYAMLDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, lineErrorf(1, "the file is empty: it needs a \"scopes\" list")
	} else if err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, lineErrorf(extra.Line, "a second YAML document starts here: put every scope in one \"scopes\" list")
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, lineErrorf(1, "the file is empty: it needs a \"scopes\" list")
	}
	root := doc.Content[0]
	if root.ShortTag() == "!!null" {
		return nil, lineErrorf(root.Line, "the file is empty: it needs a \"scopes\" list")
	}
	return root, nil
}

// yamlValue matches the value yaml.v3 quotes in a type error, which could
// be a credential written in the wrong place.
var yamlValue = regexp.MustCompile(" `[^`]*`")

// yamlTypeError matches yaml.v3's message for a value of the wrong type.
var yamlTypeError = regexp.MustCompile(`cannot unmarshal (\S+) into (.+)$`)

// yamlKinds and goKinds name, in the file's terms, what yaml.v3 found and
// what the file format wants.
var (
	yamlKinds = map[string]string{
		"!!map": "a mapping", "!!seq": "a list", "!!str": "text", "!!int": "a number",
		"!!float": "a number", "!!bool": "true or false", "!!timestamp": "a time",
	}
	goKinds = map[string]string{
		"[]main.scopeSpec": "a list of scopes", "[]main.webhookSpec": "a list of webhooks",
		"[]main.headerSpec": "a list of headers ({key, value})", "map[string][]string": "a mapping of webhook codes to lists of event codes",
		"map[string]string": "a mapping of names to values", "map[string]interface {}": "a mapping",
		"[]string": "a list of text", "string": "text", "int": "a whole number", "bool": "true or false",
	}
)

// cleanYAMLError drops the "yaml: " prefix and any quoted value from a
// yaml.v3 message, and names types as the file's documentation does.
func cleanYAMLError(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "line ")
	msg = yamlValue.ReplaceAllString(msg, "")
	if m := yamlTypeError.FindStringSubmatchIndex(msg); m != nil {
		found, want := msg[m[2]:m[3]], msg[m[4]:m[5]]
		if k, ok := yamlKinds[found]; ok {
			found = k
		}
		if k, ok := goKinds[want]; ok {
			want = k
		}
		msg = msg[:m[0]] + "found " + found + ", want " + want
	}
	return msg
}

// validate checks what the library cannot: that scopes are well-formed and
// listed once, and that subscriptions name webhooks of their scope. The
// library validates the webhooks themselves.
func (f *applyFile) validate() error {
	if f.Version != 0 && f.Version != 1 {
		return lineErrorf(1, "unknown version %d: only version 1 is supported", f.Version)
	}
	if len(f.Scopes) == 0 {
		return lineErrorf(1, "\"scopes\" is empty: list at least one scope")
	}
	seen := map[webhook.Scope]int{}
	for _, s := range f.Scopes {
		for _, fld := range []struct{ name, v string }{{"type", s.Type}, {"code", s.Code}} {
			switch {
			case strings.TrimSpace(fld.v) == "":
				return lineErrorf(s.line, "a scope has an empty %s", fld.name)
			case utf8.RuneCountInString(fld.v) > maxScopeLen:
				return lineErrorf(s.line, "scope %s is longer than %d characters", fld.name, maxScopeLen)
			}
		}
		key := webhook.Scope{Type: s.Type, Code: s.Code}
		if first, dup := seen[key]; dup {
			return lineErrorf(s.line, "scope %s is listed twice (first on line %d): merge the two", printable(scopeText(key)), first)
		}
		seen[key] = s.line
		codes := map[string]bool{}
		for _, w := range s.Webhooks {
			codes[w.Code] = true
		}
		subs := make([]string, 0, len(s.Subscriptions))
		for code := range s.Subscriptions {
			subs = append(subs, code)
		}
		sort.Strings(subs)
		for _, code := range subs {
			if !codes[code] {
				return lineErrorf(s.subLines[code], "scope %s: subscriptions name webhook %q, which its webhooks do not list", printable(scopeText(key)), printable(code))
			}
			for _, ev := range s.Subscriptions[code] {
				if strings.TrimSpace(ev) == "" {
					return lineErrorf(s.subLines[code], "scope %s: webhook %q subscribes to an empty event code", printable(scopeText(key)), printable(code))
				}
			}
		}
	}
	return nil
}

// config returns the library's configuration of a webhook.
func (w *webhookSpec) config() webhook.WebhookConfig {
	cfg := webhook.WebhookConfig{
		Code: w.Code, Name: w.Name, Endpoint: w.Endpoint, Method: w.Method, ContentType: w.ContentType,
		Params: w.Params, Data: w.Data, Timeout: w.Timeout.Duration, RetryTimes: w.RetryTimes,
		RetryInterval: w.RetryInterval.Duration, SigningSecrets: w.SigningSecrets,
		Disabled: w.Disabled, InsecureSkipVerify: w.InsecureSkipVerify,
	}
	if w.Auth != nil {
		cfg.Auth = &webhook.Auth{Type: w.Auth.Type, Token: w.Auth.Token, Username: w.Auth.Username, Password: w.Auth.Password}
	}
	for _, h := range w.Headers {
		cfg.Headers = append(cfg.Headers, webhook.Header{Key: h.Key, Value: h.Value, Doc: h.Doc})
	}
	return cfg
}
