package main

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/strictyaml"
	"gopkg.in/yaml.v3"
)

// maxApplyFileBytes bounds the webhooks file apply reads.
const maxApplyFileBytes = 8 << 20

// maxScopeLen is the size of the scope columns.
const maxScopeLen = 64

// errInvalidFile marks a webhooks file that failed validation; it exits
// with status 3.
var errInvalidFile = errors.New("invalid webhooks file")

// The webhooks file, as apply reads it with strictyaml: every struct lists
// its keys in yaml tags; any other key, a repeated one or a value of the
// wrong kind is an error naming its line, and never shows a value.

type applyFile struct {
	Version int         `yaml:"version"`
	Scopes  []scopeSpec `yaml:"scopes,required"`
}

type scopeSpec struct {
	Line          int               `yaml:",line"`
	Type          string            `yaml:"type,required"`
	Code          string            `yaml:"code,required"`
	Webhooks      []webhookSpec     `yaml:"webhooks,required"`
	Subscriptions subscriptionsSpec `yaml:"subscriptions,required"`
}

func (scopeSpec) YAMLName() string { return "a scope" }

// subscriptionsSpec is the subscriptions of a scope, webhook code to event
// codes, with the line of each webhook code.
type subscriptionsSpec struct {
	events map[string][]string
	lines  map[string]int
}

func (s *subscriptionsSpec) UnmarshalStrictYAML(n *yaml.Node, what string, decode strictyaml.DecodeFunc) error {
	if err := decode(n, what, &s.events); err != nil {
		return err
	}
	s.lines = make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		s.lines[n.Content[i].Value] = n.Content[i].Line
	}
	return nil
}

type webhookSpec struct {
	Line               int               `yaml:",line"`
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
}

func (webhookSpec) YAMLName() string { return "a webhook" }

type authSpec struct {
	Type     string `yaml:"type,required"`
	Token    string `yaml:"token"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

type headerSpec struct {
	Key   string `yaml:"key,required"`
	Value string `yaml:"value,required"`
	Doc   string `yaml:"doc"`
}

func (headerSpec) YAMLName() string { return "a header" }

// yamlDuration is a duration written as Go writes it (5s, 1m30s) or as a
// number of seconds (5, 2.5), as the Python package stores it.
type yamlDuration struct{ time.Duration }

func (d *yamlDuration) UnmarshalStrictYAML(n *yaml.Node, what string, _ strictyaml.DecodeFunc) error {
	if n.Kind != yaml.ScalarNode {
		kind := "a list"
		if n.Kind == yaml.MappingNode {
			kind = "a mapping"
		}
		return strictyaml.Errorf(n.Line, "%s is %s, want a duration such as 5s, 1m30s or 2.5 (seconds)", what, kind)
	}
	if v, err := time.ParseDuration(n.Value); err == nil {
		if v < 0 {
			return strictyaml.Errorf(n.Line, "duration %q is negative", n.Value)
		}
		d.Duration = v
		return nil
	}
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		if f < 0 || f > 24*3600 {
			return strictyaml.Errorf(n.Line, "duration %v seconds is out of range 0 to 86400", f)
		}
		d.Duration = time.Duration(f * float64(time.Second))
		return nil
	}
	return strictyaml.Errorf(n.Line, "%q is not a duration: write 5s, 1m30s or a number of seconds", printable(n.Value))
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
		return strictyaml.Errorf(n.Line, "a value has a \"${\" that starts no ${NAME} reference (NAME is letters, digits and _, closed by }); write $${ for a literal ${")
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
		var e *strictyaml.Error
		if errors.As(err, &e) {
			return fmt.Errorf("%w: %s:%d: %s", errInvalidFile, name, e.Line, e.Msg)
		}
		return fmt.Errorf("%w: %s: %v", errInvalidFile, name, err)
	}
	var dec strictyaml.Decoder // values unquoted: the file may hold credentials
	root, err := strictyaml.Parse(data)
	if errors.Is(err, strictyaml.ErrEmpty) {
		return nil, nil, fmt.Errorf("%w: %s:1: the file is empty: it needs a \"scopes\" list", errInvalidFile, name)
	} else if err != nil {
		return nil, nil, at(err)
	}
	var unexpanded applyFile
	if err := dec.DecodeNode(root, "the document", &unexpanded); err != nil {
		return nil, nil, at(err)
	}
	// Warnings come from the tree as written, before expansion.
	warnings := literalCredentials(root)
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
	if err := dec.DecodeNode(root, "the document", &file); err != nil {
		// Not reached: the unexpanded file decoded, and expansion only
		// turns values into text. The message is not shown, as it could
		// hold an expanded value.
		return nil, nil, fmt.Errorf("%w: %s: the file does not decode once ${NAME} references are expanded", errInvalidFile, name)
	}
	if err := file.validate(); err != nil {
		return nil, nil, at(err)
	}
	return &file, warnings, nil
}

// validate checks what the library cannot: that scopes are well-formed and
// listed once, and that subscriptions name webhooks of their scope. The
// library validates the webhooks themselves.
func (f *applyFile) validate() error {
	if f.Version != 0 && f.Version != 1 {
		return strictyaml.Errorf(1, "unknown version %d: only version 1 is supported", f.Version)
	}
	if len(f.Scopes) == 0 {
		return strictyaml.Errorf(1, "\"scopes\" is empty: list at least one scope")
	}
	seen := map[webhook.Scope]int{}
	for _, s := range f.Scopes {
		for _, fld := range []struct{ name, v string }{{"type", s.Type}, {"code", s.Code}} {
			switch {
			case strings.TrimSpace(fld.v) == "":
				return strictyaml.Errorf(s.Line, "a scope has an empty %s", fld.name)
			case utf8.RuneCountInString(fld.v) > maxScopeLen:
				return strictyaml.Errorf(s.Line, "scope %s is longer than %d characters", fld.name, maxScopeLen)
			}
		}
		key := webhook.Scope{Type: s.Type, Code: s.Code}
		if first, dup := seen[key]; dup {
			return strictyaml.Errorf(s.Line, "scope %s is listed twice (first on line %d): merge the two", printable(scopeText(key)), first)
		}
		seen[key] = s.Line
		codes := map[string]bool{}
		for _, w := range s.Webhooks {
			codes[w.Code] = true
		}
		subs := make([]string, 0, len(s.Subscriptions.events))
		for code := range s.Subscriptions.events {
			subs = append(subs, code)
		}
		sort.Strings(subs)
		for _, code := range subs {
			if !codes[code] {
				return strictyaml.Errorf(s.Subscriptions.lines[code], "scope %s: subscriptions name webhook %q, which its webhooks do not list", printable(scopeText(key)), printable(code))
			}
			for _, ev := range s.Subscriptions.events[code] {
				if strings.TrimSpace(ev) == "" {
					return strictyaml.Errorf(s.Subscriptions.lines[code], "scope %s: webhook %q subscribes to an empty event code", printable(scopeText(key)), printable(code))
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
