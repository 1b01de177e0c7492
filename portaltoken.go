package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/hkdf"
)

// Portal links: a signed, expiring token bound to one scope, for the
// service's customers to manage their own endpoints (packages api and
// portal). The signing key is derived from Config.PrivateSecret with an HKDF
// label of its own, so a token never shares a key with the credentials'
// encryption; tokens signed under an OldPrivateSecrets entry still verify,
// so rotating the secret does not cut the links in use.

const (
	portalTokenPrefix = "whp1."
	portalHKDFInfo    = "portal token hmac-sha256 key"
	// MaxPortalTokenTTL bounds the lifetime of a portal token.
	MaxPortalTokenTTL = 30 * 24 * time.Hour
)

// PortalClaims are what a valid portal token says.
type PortalClaims struct {
	Scope     Scope     `json:"scope"`
	ExpiresAt time.Time `json:"expires_at"`
}

type portalPayload struct {
	ScopeType string `json:"t"`
	ScopeCode string `json:"c"`
	Exp       int64  `json:"e"`
}

// portalKey derives the token key of one private secret.
func portalKey(secret string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(secret), []byte(hkdfSalt), []byte(portalHKDFInfo)), key); err != nil {
		return nil, fmt.Errorf("webhook: deriving the portal key: %w", err)
	}
	return key, nil
}

// PortalToken returns a token that lets its bearer manage the webhooks of
// one scope, and nothing else, for ttl (at most MaxPortalTokenTTL). Hand it
// to the scope's owner as a link (portal.Link) or a bearer token for the
// api package. It cannot be revoked before it expires except by rotating
// Config.PrivateSecret (dropping the old one from OldPrivateSecrets): keep
// ttl short, and mint a new token when the owner opens the portal.
func (c *Client) PortalToken(scope Scope, ttl time.Duration) (string, error) {
	if err := validateScope(scope.Type, scope.Code); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxPortalTokenTTL {
		return "", fmt.Errorf("%w: portal token lifetime %s: want more than 0 and at most %s", ErrInvalidArgument, ttl, MaxPortalTokenTTL)
	}
	key, err := portalKey(c.cfg.PrivateSecret)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(portalPayload{ScopeType: scope.Type, ScopeCode: scope.Code, Exp: c.now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return portalTokenPrefix + body + "." + base64.RawURLEncoding.EncodeToString(portalMAC(key, body)), nil
}

// VerifyPortalToken checks a portal token and returns its claims; anything
// wrong with it is ErrInvalidToken, with the reason.
func (c *Client) VerifyPortalToken(token string) (PortalClaims, error) {
	rest, ok := strings.CutPrefix(token, portalTokenPrefix)
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || body == "" || sig == "" || len(token) > 1024 || !urlSafe(body) || !urlSafe(sig) {
		return PortalClaims{}, fmt.Errorf("%w: not a portal token (want %s…)", ErrInvalidToken, portalTokenPrefix)
	}
	mac, err := base64.RawURLEncoding.Strict().DecodeString(sig) // Strict: one spelling per signature
	if err != nil {
		return PortalClaims{}, fmt.Errorf("%w: malformed signature", ErrInvalidToken)
	}
	signed := false
	for _, secret := range append([]string{c.cfg.PrivateSecret}, c.cfg.OldPrivateSecrets...) {
		key, err := portalKey(secret)
		if err != nil {
			return PortalClaims{}, err
		}
		if hmac.Equal(mac, portalMAC(key, body)) {
			signed = true
			break
		}
	}
	if !signed {
		return PortalClaims{}, fmt.Errorf("%w: the signature does not match (tampered with, or signed with another secret)", ErrInvalidToken)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return PortalClaims{}, fmt.Errorf("%w: malformed body", ErrInvalidToken)
	}
	var p portalPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.ScopeType == "" || p.ScopeCode == "" {
		return PortalClaims{}, fmt.Errorf("%w: malformed body", ErrInvalidToken)
	}
	claims := PortalClaims{Scope: Scope{p.ScopeType, p.ScopeCode}, ExpiresAt: time.Unix(p.Exp, 0).UTC()}
	if !c.now().Before(claims.ExpiresAt) {
		return claims, fmt.Errorf("%w: expired at %s: ask for a new link", ErrInvalidToken, claims.ExpiresAt.Format(time.RFC3339))
	}
	return claims, nil
}

func portalMAC(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(portalTokenPrefix))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// urlSafe reports whether s holds only base64url characters (the decoder
// alone would skip line breaks, giving one token several spellings).
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}
