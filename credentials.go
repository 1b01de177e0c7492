package webhook

import (
	"fmt"
	"strings"
	"time"
)

// The credentials of a stored webhook (auth token and password, header
// values, signing secrets), encrypted into its extra_info column with the
// client's vault (crypto.go) and decrypted out of it.

// sealCredentials encrypts the credentials of wh into se. prev is the stored
// column of the same webhook, if any: a credential whose plain text did not
// change keeps its stored ciphertext (and a signing secret its expiry).
func (c *Client) sealCredentials(se *storedExtra, wh *WebhookConfig, prev *storedExtra) error {
	reuse := func(old *string, plain string) (*string, error) {
		if old != nil && *old != "" && c.vault.isCurrent(*old) {
			if p, err := c.vault.decrypt(*old); err == nil && p == plain {
				return old, nil
			}
		}
		enc, err := c.vault.encrypt(plain)
		if err != nil {
			return nil, err
		}
		return &enc, nil
	}
	if wh.Auth != nil {
		a := &storedAuth{Type: wh.Auth.Type}
		var prevAuth *storedAuth
		if prev != nil {
			prevAuth = prev.Authorization
		}
		var err error
		switch strings.ToLower(wh.Auth.Type) {
		case "bearer":
			var old *string
			if prevAuth != nil {
				old = prevAuth.Token
			}
			if a.Token, err = reuse(old, wh.Auth.Token); err != nil {
				return err
			}
		case "basic":
			u := wh.Auth.Username
			a.Username = &u
			var old *string
			if prevAuth != nil {
				old = prevAuth.Password
			}
			if wh.Auth.Password != "" {
				if a.Password, err = reuse(old, wh.Auth.Password); err != nil {
					return err
				}
			}
		}
		se.Authorization = a
	}
	for i, h := range wh.Headers {
		var old *string
		if prev != nil && i < len(prev.Headers) && prev.Headers[i].Key == h.Key {
			old = prev.Headers[i].Value
		}
		v, err := reuse(old, h.Value)
		if err != nil {
			return err
		}
		se.Headers = append(se.Headers, storedHeader{Key: h.Key, Value: v, Doc: h.Doc})
	}
	for _, secret := range wh.SigningSecrets {
		ss := storedSecret{}
		var old *string
		if prev != nil {
			for _, p := range prev.SigningSecrets {
				if plain, err := c.vault.decrypt(p.Secret); err == nil && plain == secret {
					old, ss.ExpiresAt = &p.Secret, p.ExpiresAt
					break
				}
			}
		}
		v, err := reuse(old, secret)
		if err != nil {
			return err
		}
		ss.Secret = *v
		se.SigningSecrets = append(se.SigningSecrets, ss)
	}
	return nil
}

// openCredentials decrypts the credentials of se into wh: the
// authorization, the signing secrets still active at now and the header
// values. An error wraps ErrDecrypt and names the credential (never its
// value).
func (c *Client) openCredentials(wh *WebhookConfig, se *storedExtra, now time.Time) error {
	var err error
	if a := se.auth(); a != nil {
		wh.Auth = &Auth{Type: a.Type}
		if a.Username != nil {
			wh.Auth.Username = *a.Username
		}
		if a.Token != nil {
			if wh.Auth.Token, err = c.vault.decrypt(*a.Token); err != nil {
				return fmt.Errorf("auth token: %w", err)
			}
		}
		if a.Password != nil {
			if wh.Auth.Password, err = c.vault.decrypt(*a.Password); err != nil {
				return fmt.Errorf("auth password: %w", err)
			}
		}
	}
	for i := range se.SigningSecrets {
		ss := &se.SigningSecrets[i]
		if !ss.activeAt(now) {
			continue // retired after its grace period
		}
		plain, err := c.vault.decrypt(ss.Secret)
		if err != nil {
			return fmt.Errorf("signing secret %d: %w", i, err)
		}
		wh.SigningSecrets = append(wh.SigningSecrets, plain)
	}
	for _, h := range se.Headers {
		hd := Header{Key: h.Key, Doc: h.Doc}
		if h.Value != nil {
			if hd.Value, err = c.vault.decrypt(*h.Value); err != nil {
				return fmt.Errorf("header %q: %w", h.Key, err)
			}
		}
		wh.Headers = append(wh.Headers, hd)
	}
	return nil
}
