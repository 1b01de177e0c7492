package webhook

import (
	"context"
	"errors"
	"fmt"
)

// CheckSecretResult counts what CheckSecret found. It never holds a
// credential.
type CheckSecretResult struct {
	// Webhooks is the number of webhooks examined.
	Webhooks int
	// Credentials is the number of stored credentials examined: the auth
	// tokens and passwords, header values and signing secrets (retired ones
	// included) that are set. It is Current + Old + Plain + the credentials
	// listed in Failures.
	Credentials int
	// Current is how many decrypt with PrivateSecret, in either format
	// (the library's own or the Python package's Fernet).
	Current int
	// Old is how many decrypt only with one of OldPrivateSecrets. Run
	// ReencryptCredentials before dropping the old secrets while it is not
	// zero.
	Old int
	// Plain is how many are stored in legacy plain text, which needs no
	// secret to read; ReencryptCredentials encrypts them.
	Plain int
	// Failures lists, in webhook order, the credentials that no configured
	// secret decrypts, and the webhooks whose extra_info does not parse
	// (whose credentials could therefore not be checked).
	Failures []SecretFailure
}

// OK reports whether every credential examined can be read: Failures is
// empty.
func (r CheckSecretResult) OK() bool { return len(r.Failures) == 0 }

// SecretFailure names a stored credential that cannot be read. It holds no
// credential value.
type SecretFailure struct {
	// Scope and WebhookCode name the webhook.
	Scope       Scope
	WebhookCode string
	// Field names the credential: "auth token", "auth password",
	// `header "X-Team"`, "signing secret 0" (counted from the current one),
	// or "extra_info" when the column does not parse.
	Field string
	// Err tells why. It wraps ErrDecrypt, or ErrInvalidWebhook for
	// "extra_info"; its text holds no credential (at most the key id that a
	// value in the library's format names, which identifies the secret that
	// wrote it without revealing it).
	Err error
}

// CheckSecret tells whether the configured private secrets can read what the
// database holds, without waiting for deliveries to fail: it decrypts every
// stored credential of every webhook (auth tokens and passwords, header
// values, signing secrets, as ReencryptCredentials would) and counts those
// that decrypt with PrivateSecret, those that need one of OldPrivateSecrets
// and those stored in plain text. It reads in batches and writes nothing.
//
// When some credential cannot be read, the result lists each one (scope,
// webhook, field; never a value) in Failures, and the returned error wraps
// ErrDecrypt (and ErrInvalidWebhook when an extra_info column does not
// parse). Any other error is a database error; the result then counts what
// was examined before it.
func (c *Client) CheckSecret(ctx context.Context) (CheckSecretResult, error) {
	var res CheckSecretResult
	var lastID int64
	for {
		var rows []webhookRow
		err := c.dbCtx(ctx).Select("id", "scope_type", "scope_code", "code", "extra_info").
			Where("id > ?", lastID).Order("id").Limit(100).Find(&rows).Error
		if err != nil {
			return res, fmt.Errorf("webhook: loading webhooks to check their credentials: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		lastID = rows[len(rows)-1].ID
		for i := range rows {
			c.checkWebhookSecrets(&rows[i], &res)
		}
		res.Webhooks += len(rows)
	}
	return res, checkSecretError(res)
}

// checkWebhookSecrets adds what the credentials of one webhook say to res.
func (c *Client) checkWebhookSecrets(r *webhookRow, res *CheckSecretResult) {
	fail := func(field string, err error) {
		res.Failures = append(res.Failures, SecretFailure{
			Scope: Scope{r.ScopeType, r.ScopeCode}, WebhookCode: r.Code, Field: field, Err: err,
		})
	}
	se, err := parseStoredExtra(r.ExtraInfo)
	if err != nil {
		fail("extra_info", fmt.Errorf("%w: %v", ErrInvalidWebhook, err))
		return
	}
	check := func(field string, stored *string) {
		if stored == nil || *stored == "" {
			return
		}
		res.Credentials++
		_, key, err := c.vault.open(*stored)
		switch {
		case err != nil:
			fail(field, err)
		case key < 0:
			res.Plain++
		case key == 0:
			res.Current++
		default:
			res.Old++
		}
	}
	if a := se.Authorization; a != nil {
		check("auth token", a.Token)
		check("auth password", a.Password)
	}
	for i := range se.Headers {
		check(fmt.Sprintf("header %q", se.Headers[i].Key), se.Headers[i].Value)
	}
	for i := range se.SigningSecrets {
		check(fmt.Sprintf("signing secret %d", i), &se.SigningSecrets[i].Secret)
	}
}

// checkSecretError summarises the failures of res, or returns nil.
func checkSecretError(res CheckSecretResult) error {
	if res.OK() {
		return nil
	}
	var undecryptable, malformed int
	hooks := map[webhookKey]bool{}
	for _, f := range res.Failures {
		hooks[webhookKey{f.Scope.Type, f.Scope.Code, f.WebhookCode}] = true
		if errors.Is(f.Err, ErrDecrypt) {
			undecryptable++
		} else {
			malformed++
		}
	}
	first := res.Failures[0]
	msg := fmt.Sprintf("webhook: %d stored credential(s) do not decrypt under the configured private secret(s) and %d extra_info column(s) do not parse, in %d webhook(s); the first: webhook %q of scope %s, %s",
		undecryptable, malformed, len(hooks), first.WebhookCode, first.Scope, first.Field)
	switch {
	case undecryptable > 0 && malformed > 0:
		return fmt.Errorf("%s: %w; %w", msg, ErrDecrypt, ErrInvalidWebhook)
	case undecryptable > 0:
		return fmt.Errorf("%s: %w", msg, ErrDecrypt)
	default:
		return fmt.Errorf("%s: %w", msg, ErrInvalidWebhook)
	}
}
