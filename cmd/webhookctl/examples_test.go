package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"gopkg.in/yaml.v3"
)

// An example found in a help text or in the README: a command line, or a
// YAML document.
type docExample struct {
	source string // where it was found, for messages
	text   string
}

// helpOf runs "help [COMMAND]" in-process and returns what it printed.
func helpOf(t *testing.T, name ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"help"}, name...), func(string) string { return "" }, &stdout, &stderr); code != exitOK {
		t.Fatalf("help %v: exit %d: %s", name, code, stderr.String())
	}
	return stdout.String()
}

// helpExamples returns the lines of the "Example:" section of a help text.
func helpExamples(t *testing.T, source, help string) []docExample {
	t.Helper()
	_, rest, ok := strings.Cut(help, "\nExample:\n")
	if !ok {
		t.Fatalf("%s: no Example section:\n%s", source, help)
	}
	var out []docExample
	for _, line := range strings.Split(rest, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		out = append(out, docExample{source, strings.TrimSpace(line)})
	}
	if len(out) == 0 {
		t.Errorf("%s: the Example section is empty", source)
	}
	return out
}

// yamlBlockStart matches the first line of an indented YAML block in a help
// text: a key and a colon.
var yamlBlockStart = regexp.MustCompile(`^ +[A-Za-z_]+:( |$)`)

// helpYAML returns the YAML documents that the description of a command's
// help shows: the blocks of indented lines, after a blank line, whose first
// line is "key:".
func helpYAML(source, help string) []docExample {
	desc := help
	for _, end := range []string{"\nFlags:\n", "\nGlobal flags:\n"} {
		if i := strings.Index(desc, end); i >= 0 {
			desc = desc[:i]
		}
	}
	var out []docExample
	lines := strings.Split(desc, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.TrimSpace(lines[i-1]) != "" || !yamlBlockStart.MatchString(lines[i]) {
			continue
		}
		var block []string
		for ; i < len(lines) && strings.HasPrefix(lines[i], "  "); i++ {
			block = append(block, strings.TrimPrefix(lines[i], "  "))
		}
		out = append(out, docExample{source, strings.Join(block, "\n") + "\n"})
	}
	return out
}

// readmeCommandLine returns the "Command line" section of the README.
func readmeCommandLine(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatalf("reading the README: %v", err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Command line\n")
	if !ok {
		t.Fatal(`the README has no "## Command line" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	return section
}

// readmeFences returns the fenced code blocks of a README section whose
// info string is one of langs.
func readmeFences(section string, langs ...string) []docExample {
	var out []docExample
	lines := strings.Split(section, "\n")
	for i := 0; i < len(lines); i++ {
		lang, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "```")
		if !ok {
			continue
		}
		var block []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			block = append(block, lines[i])
		}
		for _, l := range langs {
			if lang == l {
				out = append(out, docExample{"README.md Command line (```" + lang + ")", strings.Join(block, "\n") + "\n"})
			}
		}
	}
	return out
}

// shellWords splits a command line as sh would for these examples: words
// separated by spaces, '...' and "..." quoting, and # starting a comment.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == ' ' || ch == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case ch == '#' && !inWord:
			return words, nil
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(line[i+1:], ch)
			if j < 0 {
				return nil, fmt.Errorf("unclosed %c", ch)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// envAssignment matches NAME=VALUE before a command, or after export.
var envAssignment = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// exampleRef matches the ${NAME} references of a YAML example.
var exampleRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// deliveryIDWord is a delivery id written in an example.
var deliveryIDWord = regexp.MustCompile(`^[0-9a-f]{32}$`)

// syncBuffer is a bytes.Buffer that serve-admin writes to while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDocumentedExamples runs every example of the help texts (the general
// help and each command's) and of the README's "Command line" section: the
// YAML files through the apply parser and apply --dry-run (or, for events
// files, ParseEvents and sync-events), the command lines through run on a
// test database seeded with what they name. Nothing leaves the machine:
// --db is the test database, every URL a loopback receiver, --addr a free
// loopback port. It changes directory, so it is not parallel.
func TestDocumentedExamples(t *testing.T) {
	rcv := newReceiver(t)

	var commandLines, yamlDocs []docExample
	commandLines = append(commandLines, helpExamples(t, "webhookctl help", helpOf(t))...)
	for _, cmd := range commands() {
		help := helpOf(t, cmd.name)
		source := "webhookctl help " + cmd.name
		commandLines = append(commandLines, helpExamples(t, source, help)...)
		yamlDocs = append(yamlDocs, helpYAML(source, help)...)
	}
	readme := readmeCommandLine(t)
	yamlDocs = append(yamlDocs, readmeFences(readme, "yaml", "yml")...)
	for _, block := range readmeFences(readme, "sh", "bash", "shell", "console", "") {
		for _, line := range strings.Split(block.text, "\n") {
			if strings.TrimSpace(line) != "" {
				commandLines = append(commandLines, docExample{block.source, strings.TrimSpace(line)})
			}
		}
	}
	checkREADMETable(t, readme)

	// The documents the command lines name: the help's apply example as
	// webhooks.yaml (its endpoints on the receiver) and its events example
	// as events.yaml.
	var applyYAML, eventsYAML string
	env := map[string]string{
		envSecret:        testSecret,
		envAdminPassword: "example-admin-password",
		"SERVICE1_TOKEN": "example-service1-token",
	}
	for _, doc := range yamlDocs {
		for _, m := range exampleRef.FindAllStringSubmatch(doc.text, -1) {
			if _, ok := env[m[1]]; !ok {
				env[m[1]] = "example-" + strings.ToLower(m[1])
				if strings.Contains(m[1], "SIGNING") {
					env[m[1]] = applySigning // a signing secret must be whsec_...
				}
			}
		}
		switch kind := yamlKind(t, doc); {
		case kind == "apply" && applyYAML == "":
			applyYAML = doc.text
		case kind == "events" && eventsYAML == "":
			eventsYAML = doc.text
		}
	}
	if applyYAML == "" || eventsYAML == "" {
		t.Fatalf("want an apply example and an events example in the help texts, found apply %t, events %t", applyYAML != "", eventsYAML != "")
	}
	endpoint := regexp.MustCompile(`https?://[^/\s"']+`)
	getenv := func(k string) string { return env[k] }

	// seed prepares a fresh directory and database for one example.
	seed := func(t *testing.T, ids []string) string {
		t.Helper()
		dir := t.TempDir()
		for name, content := range map[string]string{
			"webhooks.yaml":         endpoint.ReplaceAllString(applyYAML, rcv.URL),
			"config/events.yaml":    eventsYAML,
			"events.yaml":           eventsYAML,
			"seed/events.yaml":      eventsYAML,
			"seed/more-events.yaml": "version: 1\nevents:\n  - code: order_paid\n    name: Order paid\n  - code: template_create\n    name: Template created\n",
			"seed/webhooks.yaml": strings.ReplaceAll(`scopes:
  - type: biz
    code: biz1
    webhooks:
      - {code: erp, name: ERP, endpoint: URL/erp, retry_times: 0}
      - {code: wh_ci, name: CI, endpoint: URL/ci, retry_times: 0}
    subscriptions: {erp: ["*"], wh_ci: ["*"]}
  - type: shop
    code: s1
    webhooks: [{code: erp, name: ERP, endpoint: URL/erp, retry_times: 0}]
    subscriptions: {erp: [order_paid]}
  - type: shop
    code: s2
    webhooks: [{code: erp, name: ERP, endpoint: URL/erp, retry_times: 0}]
    subscriptions: {erp: [order_paid]}
`, "URL", rcv.URL),
		} {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db := filepath.Join(dir, "test.db")
		for _, args := range [][]string{
			{"migrate"}, {"sync-events", filepath.Join(dir, "seed"), "events.yaml"},
			{"sync-events", filepath.Join(dir, "seed"), "more-events.yaml"}, {"apply", filepath.Join(dir, "seed", "webhooks.yaml")},
		} {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"--db", db}, args...), getenv, &stdout, &stderr); code != exitOK {
				t.Fatalf("seeding: %q: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
			}
		}
		if len(ids) > 0 {
			c := libClient(t, &fixture{db: db}, webhook.Config{})
			for _, id := range ids {
				if _, err := c.Enqueue(context.Background(), "template_update", []webhook.Scope{{Type: "biz", Code: "biz1"}}, map[string]any{"delivery_id": id}); err != nil {
					t.Fatalf("seeding delivery %s: %v", id, err)
				}
			}
		}
		t.Chdir(dir)
		return db
	}

	for i, doc := range yamlDocs {
		for j, variant := range yamlVariants(doc.text) {
			t.Run(fmt.Sprintf("yaml%d.%d", i, j), func(t *testing.T) {
				t.Logf("%s:\n%s", doc.source, variant)
				db := seed(t, nil)
				if err := os.WriteFile("example.yaml", []byte(variant), 0o644); err != nil {
					t.Fatal(err)
				}
				var args [][]string
				switch yamlKind(t, doc) {
				case "apply":
					if _, _, err := parseApplyFile("example.yaml", []byte(variant), getenv); err != nil {
						t.Fatalf("%s: the YAML example does not parse: %v", doc.source, err)
					}
					args = [][]string{{"apply", "--dry-run", "example.yaml"}}
				case "events":
					if _, err := webhook.ParseEvents("example.yaml", []byte(variant)); err != nil {
						t.Fatalf("%s: the events example does not parse: %v", doc.source, err)
					}
					args = [][]string{{"sync-events", "--dry-run", ".", "example.yaml"}, {"sync-events", ".", "example.yaml"}}
				}
				for _, a := range args {
					var stdout, stderr bytes.Buffer
					if code := run(context.Background(), append([]string{"--db", db}, a...), getenv, &stdout, &stderr); code != exitOK {
						t.Errorf("%s: %q on the example: exit %d\n%s%s", doc.source, a, code, stdout.String(), stderr.String())
					}
				}
			})
		}
	}

	for i, ex := range commandLines {
		t.Run(fmt.Sprintf("cmd%02d", i), func(t *testing.T) {
			t.Logf("%s: %s", ex.source, ex.text)
			words, err := shellWords(ex.text)
			if err != nil {
				t.Fatalf("%s: %q: %v", ex.source, ex.text, err)
			}
			exEnv := map[string]string{}
			exported := false
			if len(words) > 0 && words[0] == "export" {
				words, exported = words[1:], true
			}
			for len(words) > 0 && envAssignment.MatchString(words[0]) {
				m := envAssignment.FindStringSubmatch(words[0])
				if m[2] != "..." { // a placeholder: the test's value stands
					exEnv[m[1]] = m[2]
				} else if env[m[1]] == "" {
					t.Errorf("%s: %s=... names a variable the test does not set", ex.source, m[1])
				}
				words = words[1:]
			}
			if exported {
				if len(words) > 0 {
					t.Errorf("%s: %q: export with a command", ex.source, ex.text)
				}
				return
			}
			if len(words) == 0 {
				t.Fatalf("%s: %q: no command", ex.source, ex.text)
			}
			if words[0] != progName && words[0] != "./"+progName {
				if strings.HasPrefix(ex.text, "go build ") && strings.Contains(ex.text, "./cmd/webhookctl") {
					return // building the binary, which TestMain does
				}
				t.Fatalf("%s: %q: not a %s command", ex.source, ex.text, progName)
			}
			var ids []string
			for _, w := range words {
				if deliveryIDWord.MatchString(w) {
					ids = append(ids, w)
				}
			}
			db := seed(t, ids)
			args := append([]string{}, words[1:]...)
			hasDB := false
			for k := 0; k < len(args); k++ {
				switch a := args[k]; {
				case (a == "--db" || a == "-db") && k+1 < len(args):
					if _, err := classifyDSN(args[k+1]); err != nil {
						t.Errorf("%s: --db %q is refused: %v", ex.source, args[k+1], err)
					}
					args[k+1], hasDB = db, true
				case strings.HasPrefix(a, "--db="):
					args[k], hasDB = "--db="+db, true
				case a == "--addr" && k+1 < len(args):
					args[k+1] = "127.0.0.1:0"
				case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://"):
					args[k] = endpoint.ReplaceAllString(a, rcv.URL)
				}
			}
			if !hasDB {
				args = append([]string{"--db", db}, args...)
			}
			exGetenv := func(k string) string {
				if v, ok := exEnv[k]; ok {
					return v
				}
				return env[k]
			}
			wantCode, wantStderr := exitOK, ""
			if slicesContainsString(args, "verify") && slicesContainsString(args, "--deny-private") {
				// The receiver is on loopback, which --deny-private refuses.
				wantCode, wantStderr = exitFailure, "SSRF guard"
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, args, exGetenv, &stdout, &stderr) }()
			if slicesContainsString(args, "serve-admin") {
				serveAdminExample(t, ex, &stdout, exGetenv(envAdminPassword), args, done)
				cancel()
			}
			code := <-done
			if code != wantCode || !strings.Contains(stderr.String(), wantStderr) {
				t.Errorf("%s: %q (run as %q): want exit %d, got %d\n--- stdout:\n%s--- stderr:\n%s",
					ex.source, ex.text, args, wantCode, code, stdout.String(), stderr.String())
			}
		})
	}
}

// serveAdminExample waits for a serve-admin example to listen and checks
// that it serves the UI behind basic auth.
func serveAdminExample(t *testing.T, ex docExample, stdout *syncBuffer, password string, args []string, done chan int) {
	t.Helper()
	addr := regexp.MustCompile(`admin UI on (http://\S+)`)
	var url string
	deadline := time.Now().Add(30 * time.Second)
	for url == "" {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			done <- code
			t.Errorf("%s: %q ended before listening (exit %d)", ex.source, ex.text, code)
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %q did not start listening", ex.source, ex.text)
			return
		}
	}
	user := "admin"
	for i, a := range args {
		if a == "--user" && i+1 < len(args) {
			user = args[i+1]
		}
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s: GET %s: %v", ex.source, url, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: GET %s with basic auth: status %d", ex.source, url, resp.StatusCode)
	}
}

func slicesContainsString(list []string, s string) bool { return slices.Contains(list, s) }

// yamlKind says which file a YAML example is: "apply" (a "scopes" list) or
// "events" (an "events" list).
func yamlKind(t *testing.T, doc docExample) string {
	t.Helper()
	var top map[string]any
	if err := yaml.Unmarshal([]byte(doc.text), &top); err != nil {
		t.Fatalf("%s: the YAML example is not valid YAML: %v\n%s", doc.source, err, doc.text)
	}
	switch {
	case top["scopes"] != nil:
		return "apply"
	case top["events"] != nil:
		return "events"
	}
	t.Fatalf("%s: a YAML example that is neither a webhooks file (scopes) nor an events file (events):\n%s", doc.source, doc.text)
	return ""
}

// commentedKey matches a commented-out alternative line, "# key: value".
var commentedKey = regexp.MustCompile(`^(\s*)# ([a-z_]+): (.*)$`)

// yamlVariants returns the example, and a copy of it for each commented-out
// alternative ("# auth: {...}" under "auth: {...}") with that line in
// place of the one it follows.
func yamlVariants(text string) []string {
	out := []string{text}
	lines := strings.Split(text, "\n")
	for i := 1; i < len(lines); i++ {
		m := commentedKey.FindStringSubmatch(lines[i])
		if m == nil || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), m[2]+":") ||
			!strings.HasPrefix(lines[i-1], m[1]+m[2]+":") {
			continue
		}
		v := append([]string{}, lines...)
		v[i-1], v[i] = m[1]+m[2]+": "+m[3], ""
		out = append(out, strings.Join(v, "\n"))
	}
	return out
}

// readmeCommand is a command of the README's table: `name --flag ...`.
var readmeCommand = regexp.MustCompile("`([^`]+)`")

// checkREADMETable checks that the table of the README's Command line
// section names existing commands and flags.
func checkREADMETable(t *testing.T, section string) {
	t.Helper()
	a := &app{commands: commands()}
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		for _, m := range readmeCommand.FindAllStringSubmatch(cell, -1) {
			rows++
			words := strings.Fields(m[1])
			cmd := a.lookup(words[0])
			if cmd == nil {
				t.Errorf("README table: %q: no command %q", m[1], words[0])
				continue
			}
			fs := a.newFlagSet(cmd.name)
			cmd.setup(fs)
			for _, w := range words[1:] {
				w = strings.Trim(w, "[]")
				if name, ok := strings.CutPrefix(w, "--"); ok && fs.Lookup(name) == nil {
					t.Errorf("README table: %q: %s has no flag --%s", m[1], cmd.name, name)
				}
			}
		}
	}
	if rows == 0 {
		t.Error("the README's Command line section has no table of commands")
	}
}
