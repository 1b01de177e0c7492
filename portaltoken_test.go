package webhook

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPortalToken(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	c := newOfflineClient(t, Config{Now: clock.Now})
	shop := Scope{"shop", "s1"}
	tok, err := c.PortalToken(shop, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.VerifyPortalToken(tok)
	if err != nil || claims.Scope != shop || !claims.ExpiresAt.Equal(clock.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("verify: %+v %v", claims, err)
	}
	// Each way a token can be wrong is ErrInvalidToken, with its reason.
	other := newOfflineClient(t, Config{PrivateSecret: "another private secret, long enough", Now: clock.Now})
	otherTok, _ := other.PortalToken(shop, time.Hour)
	body, sig, _ := strings.Cut(strings.TrimPrefix(tok, portalTokenPrefix), ".")
	forged, _ := base64.RawURLEncoding.DecodeString(body)
	forgedBody := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(forged), `"c":"s1"`, `"c":"s2"`, 1)))
	for name, bad := range map[string]string{
		"empty":             "",
		"no prefix":         strings.TrimPrefix(tok, portalTokenPrefix),
		"another secret":    otherTok,
		"another scope":     portalTokenPrefix + forgedBody + "." + sig,
		"truncated":         tok[:len(tok)-3],
		"signature garbage": portalTokenPrefix + body + ".!!!",
		"huge":              tok + strings.Repeat("a", 2000),
	} {
		if _, err := c.VerifyPortalToken(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	clock.Advance(time.Hour)
	if _, err := c.VerifyPortalToken(tok); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired token: %v", err)
	}
	// A token signed before a rotation of the private secret still verifies.
	rotated := newOfflineClient(t, Config{PrivateSecret: "the new private secret of the service", OldPrivateSecrets: []string{other.cfg.PrivateSecret}, Now: clock.Now})
	if _, err := rotated.VerifyPortalToken(otherTok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("a token of the old secret after rotation: %v (want it to verify, then be expired)", err)
	}
	for _, ttl := range []time.Duration{0, -time.Second, MaxPortalTokenTTL + time.Second} {
		if _, err := c.PortalToken(shop, ttl); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ttl %s: %v", ttl, err)
		}
	}
	if _, err := c.PortalToken(Scope{"", "x"}, time.Hour); err == nil {
		t.Error("a token for an empty scope type")
	}
}
