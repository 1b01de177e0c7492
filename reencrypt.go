package webhook

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// ReencryptResult counts what ReencryptCredentials did.
type ReencryptResult struct {
	// Webhooks is the number of webhooks examined.
	Webhooks int
	// Rewritten is the number whose credentials were re-encrypted.
	Rewritten int
	// Failed names ("type/code/webhook") the webhooks whose credentials no
	// configured secret decrypts; they are left as they are.
	Failed []string
}

// ReencryptCredentials rewrites every stored credential that is not
// encrypted under the current PrivateSecret (values written under one of
// OldPrivateSecrets, by the Python package, or in legacy plain text) so that
// the old secrets can then be dropped. It works in batches of 100 webhooks,
// each in a transaction, and only touches a webhook whose configuration did
// not change meanwhile; running it again resumes where it stopped and
// changes nothing once done. A credential that no secret decrypts leaves its
// webhook untouched and is reported in Failed and in the returned error
// (ErrDecrypt); the others are rewritten regardless.
func (c *Client) ReencryptCredentials(ctx context.Context) (*ReencryptResult, error) {
	defer c.resolved.changed()
	res := &ReencryptResult{}
	var failures []error
	var lastID int64
	for {
		var rows []webhookRow
		if err := c.dbCtx(ctx).Where("id > ?", lastID).Order("id").Limit(100).Find(&rows).Error; err != nil {
			return res, fmt.Errorf("webhook: loading webhooks to re-encrypt: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		lastID = rows[len(rows)-1].ID
		err := c.transaction(ctx, func(tx *gorm.DB) error {
			for i := range rows {
				r := &rows[i]
				name := r.ScopeType + "/" + r.ScopeCode + "/" + r.Code
				extra, changed, err := c.reencryptExtra(r.ExtraInfo)
				if err != nil {
					res.Failed = append(res.Failed, name)
					failures = append(failures, fmt.Errorf("webhook %s: %w", name, err))
					continue
				}
				if !changed {
					continue
				}
				upd := tx.Exec("UPDATE webhook_webhook SET extra_info = ? WHERE id = ? AND extra_info = ?", string(extra), r.ID, string(r.ExtraInfo))
				if upd.Error != nil {
					return fmt.Errorf("webhook: re-encrypting %s: %w", name, upd.Error)
				}
				if upd.RowsAffected == 1 {
					res.Rewritten++
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Webhooks += len(rows)
	}
	if len(failures) > 0 {
		return res, fmt.Errorf("webhook: %d webhook(s) keep credentials no configured secret decrypts: %w", len(failures), errors.Join(failures...))
	}
	return res, nil
}

// reencryptExtra returns extra_info with every credential under the current
// secret, and whether anything changed.
func (c *Client) reencryptExtra(raw []byte) ([]byte, bool, error) {
	se, err := parseStoredExtra(raw)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrInvalidWebhook, err)
	}
	changed := false
	redo := func(v *string) error {
		if v == nil || *v == "" || c.vault.isCurrent(*v) {
			return nil
		}
		plain, err := c.vault.decrypt(*v)
		if err != nil {
			return err
		}
		enc, err := c.vault.encrypt(plain)
		if err != nil {
			return err
		}
		*v = enc
		changed = true
		return nil
	}
	if a := se.Authorization; a != nil {
		if err := redo(a.Token); err != nil {
			return nil, false, fmt.Errorf("auth token: %w", err)
		}
		if err := redo(a.Password); err != nil {
			return nil, false, fmt.Errorf("auth password: %w", err)
		}
	}
	for i := range se.Headers {
		if err := redo(se.Headers[i].Value); err != nil {
			return nil, false, fmt.Errorf("header %q: %w", se.Headers[i].Key, err)
		}
	}
	for i := range se.SigningSecrets {
		if err := redo(&se.SigningSecrets[i].Secret); err != nil {
			return nil, false, fmt.Errorf("signing secret %d: %w", i, err)
		}
	}
	if !changed {
		return raw, false, nil
	}
	out, err := marshalJSON(se)
	return out, true, err
}
