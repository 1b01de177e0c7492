package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/scopehook/webhook"
	"gorm.io/gorm"
)

const applyExample = `scopes:
  - type: biz
    code: biz1
    webhooks:
      - code: webhook1
        name: Service 1
        endpoint: https://service1.example.com/hooks
        method: POST                      # or GET; default POST
        content_type: application/json    # default; or application/x-www-form-urlencoded
        auth: {type: bearer, token: "${SERVICE1_TOKEN}"}
        # auth: {type: basic, username: svc, password: "${SERVICE1_PASSWORD}"}
        headers: [{key: X-Team, value: payments}]
        params: {source: bkflow}          # query string
        data: {static: "yes"}             # merged into every JSON body
        timeout: 5s                       # or seconds: 5
        retry_times: 2
        retry_interval: 2s
        signing_secrets: ["${SERVICE1_SIGNING_SECRET}"]
        disabled: false
    subscriptions:
      webhook1: ["*"]                     # event codes, or "*" for all`

func applyCommand() *command {
	return &command{
		name:         "apply",
		synopsis:     "[--dry-run] [--json] FILE.yaml",
		summary:      "make the webhooks and subscriptions of scopes what a YAML file says",
		interspersed: true,
		help: `Applies the webhooks and subscriptions of the scopes that FILE.yaml lists:
afterwards each listed scope has exactly the file's webhooks (others of the
scope are deleted with their subscriptions) and exactly its subscriptions.
Scopes the file does not list are left alone. Every scope is applied in one
transaction: on any error nothing is written. Applying the same file again
changes nothing. A webhook that the library disabled after failures is
enabled again unless the file says disabled: true.

The file:

` + indent(applyExample, "  ") + `

Every scope needs type, code, webhooks and subscriptions (write
"webhooks: []" or "subscriptions: {}" to remove them all). A webhook needs
code, name and endpoint; the other keys are optional. A "version: 1" key at
the top is accepted. Unknown or repeated keys are errors naming the line.

Credentials need not be written in the file: ${NAME} in a text value (such
as a token, a password, a header value, a signing secret, an endpoint or a
data value) is replaced by the environment variable NAME; write $${ for a
literal ${. Quote a reference inside {...} or [...], as the example does
("${SERVICE1_TOKEN}"): unquoted, its braces are YAML syntax. Numbers, durations and booleans cannot be references. A
variable that is unset or empty is an error (status 2) naming it and its
line, and nothing is written. Credentials (auth token and password, header
values, signing secrets) are encrypted in the database with
` + envSecret + `; apply warns about an auth credential or signing secret
written in the file as it is. webhookctl writes them in the library's own
format, which the Python package cannot read: while a Python service shares
the database, configure its webhooks from the Python side.

Prints, for each scope, the webhooks created, updated, unchanged and
deleted and the subscriptions added, removed and unchanged, by code; never
a credential. An invalid file or webhook (the message names the line, the
scope and the webhook), or a subscription to an event that is not synced,
exits with status 3. With --json, prints one JSON object instead: {"file",
"dry_run", "scopes": [{"scope": {"type", "code"}, "webhooks": {"created",
"updated", "unchanged", "deleted"} (lists of codes), "subscriptions":
{"added", "removed", "unchanged"} (counts)}]}; warnings still go to
stderr.`,
		example: progName + " --db /srv/app/webhook.db apply --dry-run webhooks.yaml   # the variables it references exported\n" +
			progName + " --db /srv/app/webhook.db apply webhooks.yaml\n" +
			progName + " --db /srv/app/webhook.db apply --json webhooks.yaml",
		setup: setupOf[applyCmd],
	}
}

// applyCmd is the apply command.
type applyCmd struct {
	dryRun, json bool
}

func (c *applyCmd) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.dryRun, "dry-run", false, "check the file against the database and print what would change, but write nothing")
	fs.BoolVar(&c.json, "json", false, "print what changed as a JSON object instead of text")
}

func (c *applyCmd) run(ctx context.Context, a *app, args []string) error {
	return apply(ctx, a, args, c)
}

// applyJSON is what apply --json prints.
type applyJSON struct {
	File   string             `json:"file"`
	DryRun bool               `json:"dry_run"`
	Scopes []scopeChangesJSON `json:"scopes"`
}

// scopeChangesJSON is what applying one scope changed, in applyJSON.
type scopeChangesJSON struct {
	Scope         scopeJSON         `json:"scope"`
	Webhooks      webhookChangeJSON `json:"webhooks"`
	Subscriptions subsChangeJSON    `json:"subscriptions"`
}

// webhookChangeJSON lists webhook codes by what apply did to them.
type webhookChangeJSON struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Unchanged []string `json:"unchanged"`
	Deleted   []string `json:"deleted"`
}

// subsChangeJSON counts the (webhook, event) subscriptions by what apply
// did to them.
type subsChangeJSON struct {
	Added     int `json:"added"`
	Removed   int `json:"removed"`
	Unchanged int `json:"unchanged"`
}

// nonNil returns list, or an empty list for nil, so that JSON shows [].
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// errDryRun rolls back the transaction of a dry run.
var errDryRun = errors.New("dry run")

// scopeChanges is what applying one scope changed.
type scopeChanges struct {
	scope                                 webhook.Scope
	created, updated, unchanged, deleted  []string
	subsAdded, subsRemoved, subsUnchanged int
}

func apply(ctx context.Context, a *app, args []string, c *applyCmd) error {
	dryRun := c.dryRun
	if len(args) != 1 {
		return usageErrorf("apply takes 1 argument, FILE.yaml, got %d", len(args))
	}
	path := args[0]
	data, err := readApplyFile(path)
	if err != nil {
		return err
	}
	file, warnings, err := parseApplyFile(path, data, a.getenv)
	if err != nil {
		if exitCode(err) == exitInvalidInput {
			return withHint(err, "nothing was written: fix the file and run apply again")
		}
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "%s: warning: %s:%d: %s\n", progName, printable(path), w.line, w.msg)
	}
	if _, err := a.client(false); err != nil {
		return err
	}
	cfg, err := a.clientConfig()
	if err != nil {
		return err
	}
	var changes []scopeChanges
	err = a.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		changes = changes[:0]
		if tx.Dialector.Name() == "sqlite" {
			// Take SQLite's write lock first, so that the busy timeout
			// applies instead of failing when a read is upgraded.
			if err := tx.Exec("DELETE FROM webhook_scope WHERE 1 = 0").Error; err != nil {
				return err
			}
		}
		// A client on the transaction: every scope commits, or none.
		tc, err := webhook.New(tx, cfg)
		if err != nil {
			return err
		}
		for i := range file.Scopes {
			ch, err := applyScope(ctx, tx, tc, &file.Scopes[i], path)
			if err != nil {
				return err
			}
			changes = append(changes, ch)
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		if exitCode(err) == exitInvalidInput {
			return withHint(err, "nothing was written: fix the file and run apply again")
		}
		if hint := hintFor(err); hint != "" {
			return withHint(err, hint+"; nothing was written")
		}
		return withHint(err, "nothing was written")
	}
	if c.json {
		out := applyJSON{File: path, DryRun: dryRun, Scopes: make([]scopeChangesJSON, len(changes))}
		for i, ch := range changes {
			out.Scopes[i] = scopeChangesJSON{
				Scope: scopeJSON{ch.scope.Type, ch.scope.Code},
				Webhooks: webhookChangeJSON{Created: nonNil(ch.created), Updated: nonNil(ch.updated),
					Unchanged: nonNil(ch.unchanged), Deleted: nonNil(ch.deleted)},
				Subscriptions: subsChangeJSON{Added: ch.subsAdded, Removed: ch.subsRemoved, Unchanged: ch.subsUnchanged},
			}
		}
		return writeJSON(a.stdout, out)
	}
	for _, ch := range changes {
		printScopeChanges(a.stdout, ch)
	}
	if dryRun {
		fmt.Fprintf(a.stdout, "dry run: %s checked, nothing written\n", plural(int64(len(changes)), "scope", "scopes"))
	} else {
		fmt.Fprintf(a.stdout, "applied %s: %s\n", printable(path), plural(int64(len(changes)), "scope", "scopes"))
	}
	return nil
}

func readApplyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, withHint(fmt.Errorf("opening the webhooks file: %w", err), "check the path of FILE.yaml")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxApplyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxApplyFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errInvalidFile, path, maxApplyFileBytes)
	}
	return data, nil
}

// webhooksItem finds the index of the item a library validation error
// names ("webhooks[2] (code ...)").
var webhooksItem = regexp.MustCompile(`webhooks\[(\d+)\]`)

// applyScope applies one scope through the transaction's client tc and
// reports what changed.
func applyScope(ctx context.Context, tx *gorm.DB, tc *webhook.Client, s *scopeSpec, path string) (scopeChanges, error) {
	scope := webhook.Scope{Type: s.Type, Code: s.Code}
	ch := scopeChanges{scope: scope}
	where := func(err error) error {
		line := s.Line
		if m := webhooksItem.FindStringSubmatch(err.Error()); m != nil {
			if i, convErr := strconv.Atoi(m[1]); convErr == nil && i < len(s.Webhooks) {
				line = s.Webhooks[i].Line
			}
		}
		return fmt.Errorf("%s:%d: scope %s: %w", printable(path), line, printable(scopeText(scope)), err)
	}
	before, err := webhookRows(tx, scope)
	if err != nil {
		return ch, err
	}
	subsBefore, err := tc.ScopeSubscriptions(ctx, s.Type, s.Code)
	if err != nil {
		return ch, err
	}
	configs := make([]webhook.WebhookConfig, len(s.Webhooks))
	for i := range s.Webhooks {
		configs[i] = s.Webhooks[i].config()
	}
	if err := tc.ApplyScopeWebhooks(ctx, s.Type, s.Code, configs); err != nil {
		return ch, where(err)
	}
	subs := s.Subscriptions.events
	if subs == nil {
		subs = map[string][]string{}
	}
	if err := tc.ApplyScopeSubscriptions(ctx, s.Type, s.Code, subs); err != nil {
		return ch, where(err)
	}
	after, err := webhookRows(tx, scope)
	if err != nil {
		return ch, err
	}
	subsAfter, err := tc.ScopeSubscriptions(ctx, s.Type, s.Code)
	if err != nil {
		return ch, err
	}
	for _, w := range s.Webhooks {
		old, existed := before[w.Code]
		switch {
		case !existed:
			ch.created = append(ch.created, w.Code)
		case old != after[w.Code]:
			ch.updated = append(ch.updated, w.Code)
		default:
			ch.unchanged = append(ch.unchanged, w.Code)
		}
	}
	for code := range before {
		if _, ok := after[code]; !ok {
			ch.deleted = append(ch.deleted, code)
		}
	}
	sort.Strings(ch.deleted)
	pairs := func(m map[string][]string) map[[2]string]bool {
		out := map[[2]string]bool{}
		for wh, events := range m {
			for _, ev := range events {
				out[[2]string{wh, ev}] = true
			}
		}
		return out
	}
	pb, pa := pairs(subsBefore), pairs(subsAfter)
	for p := range pa {
		if pb[p] {
			ch.subsUnchanged++
		} else {
			ch.subsAdded++
		}
	}
	for p := range pb {
		if !pa[p] {
			ch.subsRemoved++
		}
	}
	return ch, nil
}

// webhookRows returns the stored form of each webhook of a scope, by code:
// the library rewrites nothing of an unchanged webhook (its credentials
// keep their ciphertext), so a change of the stored form is an update.
func webhookRows(tx *gorm.DB, scope webhook.Scope) (map[string]string, error) {
	var rows []struct {
		Code, Name, Endpoint, Method, ExtraInfo string
		EnableWebhook                           bool
	}
	err := tx.Table("webhook_webhook").Select("code, name, endpoint, method, extra_info, enable_webhook").
		Where("scope_type = ? AND scope_code = ?", scope.Type, scope.Code).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("loading the webhooks of scope %s: %w", scopeText(scope), err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Code] = strings.Join([]string{r.Name, r.Endpoint, r.Method, r.ExtraInfo, strconv.FormatBool(r.EnableWebhook)}, "\x00")
	}
	return out, nil
}

func printScopeChanges(w io.Writer, ch scopeChanges) {
	fmt.Fprintf(w, "scope %s: webhooks %d created, %d updated, %d unchanged, %d deleted; subscriptions %d added, %d removed, %d unchanged\n",
		printable(scopeText(ch.scope)), len(ch.created), len(ch.updated), len(ch.unchanged), len(ch.deleted),
		ch.subsAdded, ch.subsRemoved, ch.subsUnchanged)
	for _, l := range []struct {
		label string
		codes []string
	}{{"created", ch.created}, {"updated", ch.updated}, {"unchanged", ch.unchanged}, {"deleted", ch.deleted}} {
		if len(l.codes) == 0 {
			continue
		}
		shown := make([]string, len(l.codes))
		for i, c := range l.codes {
			shown[i] = printable(c)
		}
		fmt.Fprintf(w, "  %s: %s\n", l.label, strings.Join(shown, ", "))
	}
}
