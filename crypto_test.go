package webhook

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// pythonSecret is the PRIVATE_SECRET the Python package used to write
// pythonTokens.
const pythonSecret = "my-private-secret"

// pythonTokens are Fernet tokens written by bkflow-django-webhook with
// PRIVATE_SECRET pythonSecret, and their plain text.
var pythonTokens = []struct{ token, plain string }{
	{"gAAAAABrCJeZp1_-1nbSruJ8Sr3NeMFV1Q6ldB0ycD_2Zk8qWAvZckqB-hU5Dg_TDwfdFXWRf4af8dtdQ4TpLzmdbrx5aPWx8w==", "tok-shared-123"},
	{"gAAAAABrCJeZD2UYeDnSQkiX7rdPUxQqA2Nt4HZcAw0NSpzrudnLmolLheffrW-vnDY3Qb4joprmddtplzyNQv78DS9TkYvW_Q==", "s3cr3t-pw"},
	{"gAAAAABrCJeZBH1lD8W5If1myU_nqzYUBJjT82sfTbvosxhsnV3bX9ksBgoO-vmS95yPN1SFl2AsZvKqCcDNPEJLhR6i7FDNaw==", "payments"},
	{"gAAAAABrCJep9P6LxojP6tT-Y5v5y5gNyhZBk_SAbqUoAQqfOx_BjMWFhAXifNmuFQtYiTce44U6SFW_xC-r6qmeuSXBd28EIw==", "tok-shared-123"},
}

// ---------------------------------------------------------------------------
// An independent Fernet implementation, written from the specification
// (https://github.com/fernet/spec/blob/master/Spec.md) and the Python
// package's key derivation. It deliberately shares no code with crypto.go so
// that both can check each other.

// pythonFernetKey is the Fernet key the Python package derives from
// PRIVATE_SECRET: urlsafe_b64encode of the secret's UTF-8 bytes, NUL-padded
// or cut to 32 bytes.
func pythonFernetKey(secret string) string {
	k := []byte(secret)
	if len(k) > 32 {
		k = k[:32]
	}
	k = append(k, make([]byte, 32-len(k))...)
	return base64.URLEncoding.EncodeToString(k)
}

// specFernetSplitKey decodes a Fernet key into its signing and encryption
// halves.
func specFernetSplitKey(t testing.TB, key string) (signing, encryption []byte) {
	t.Helper()
	k, err := base64.URLEncoding.DecodeString(key)
	if err != nil || len(k) != 32 {
		t.Fatalf("bad Fernet key %q: %v (len %d)", key, err, len(k))
	}
	return k[:16], k[16:]
}

// specFernetEncrypt builds a Fernet token as the spec describes it.
func specFernetEncrypt(t testing.TB, key string, plain []byte, ts time.Time) string {
	t.Helper()
	signing, encryption := specFernetSplitKey(t, key)
	iv := make([]byte, 16)
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	padLen := 16 - len(plain)%16
	padded := append(append([]byte{}, plain...), bytes.Repeat([]byte{byte(padLen)}, padLen)...)
	block, err := aes.NewCipher(encryption)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
	var tsb [8]byte
	binary.BigEndian.PutUint64(tsb[:], uint64(ts.Unix()))
	msg := append([]byte{0x80}, tsb[:]...)
	msg = append(msg, iv...)
	msg = append(msg, ct...)
	h := hmac.New(sha256.New, signing)
	h.Write(msg)
	return base64.URLEncoding.EncodeToString(h.Sum(msg))
}

// specFernetDecrypt verifies and decrypts a Fernet token as the spec
// describes it, returning the plain text and the token's timestamp.
func specFernetDecrypt(t testing.TB, key, token string) ([]byte, time.Time, error) {
	t.Helper()
	signing, encryption := specFernetSplitKey(t, key)
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("base64: %v", err)
	}
	if len(raw) < 1+8+16+16+32 || (len(raw)-(1+8+16+32))%16 != 0 {
		return nil, time.Time{}, fmt.Errorf("bad length %d", len(raw))
	}
	if raw[0] != 0x80 {
		return nil, time.Time{}, fmt.Errorf("bad version %#x", raw[0])
	}
	body, tag := raw[:len(raw)-32], raw[len(raw)-32:]
	h := hmac.New(sha256.New, signing)
	h.Write(body)
	if !hmac.Equal(h.Sum(nil), tag) {
		return nil, time.Time{}, errors.New("HMAC mismatch")
	}
	ts := time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0)
	iv, ct := body[9:25], append([]byte{}, body[25:]...)
	block, err := aes.NewCipher(encryption)
	if err != nil {
		t.Fatal(err)
	}
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(ct, ct)
	p := int(ct[len(ct)-1])
	if p < 1 || p > 16 {
		return nil, time.Time{}, fmt.Errorf("bad padding %d", p)
	}
	for _, b := range ct[len(ct)-p:] {
		if int(b) != p {
			return nil, time.Time{}, errors.New("bad padding bytes")
		}
	}
	return ct[:len(ct)-p], ts, nil
}

// ---------------------------------------------------------------------------

func mustVault(t testing.TB, legacyFernet bool, secrets ...string) *vault {
	t.Helper()
	v, err := newVault(secrets, legacyFernet)
	if err != nil {
		t.Fatalf("newVault: %v", err)
	}
	return v
}

func mustEncrypt(t testing.TB, v *vault, plain string) string {
	t.Helper()
	enc, err := v.encrypt(plain)
	if err != nil {
		t.Fatalf("encrypt(%q): %v", plain, err)
	}
	return enc
}

var wh1Pattern = regexp.MustCompile(`^wh1:[0-9a-f]{8}:[A-Za-z0-9_-]+$`)

// TestIndependentFernetReadsPythonTokens checks the test's own Fernet
// implementation against the Python package, so that the tests below that
// rely on it are meaningful.
func TestIndependentFernetReadsPythonTokens(t *testing.T) {
	t.Parallel()
	key := pythonFernetKey(pythonSecret)
	for _, tc := range pythonTokens {
		plain, ts, err := specFernetDecrypt(t, key, tc.token)
		if err != nil {
			t.Fatalf("spec decrypt %s: %v", tc.token[:16], err)
		}
		if string(plain) != tc.plain {
			t.Errorf("spec decrypt = %q, want %q", plain, tc.plain)
		}
		if ts.Year() < 2020 {
			t.Errorf("token timestamp %v looks wrong", ts)
		}
	}
}

func TestVaultDecryptsPythonTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range pythonTokens {
		t.Run(tc.token[:20], func(t *testing.T) {
			t.Parallel()
			for _, secrets := range [][]string{
				{pythonSecret},
				{"the-new-secret", pythonSecret}, // as an old secret
			} {
				got, err := mustVault(t, false, secrets...).decrypt(tc.token)
				if err != nil || got != tc.plain {
					t.Errorf("vault %q: decrypt = %q, %v; want %q", secrets, got, err, tc.plain)
				}
			}
			// The raw-base64 form (padding stripped) is accepted too.
			got, err := mustVault(t, false, pythonSecret).decrypt(strings.TrimRight(tc.token, "="))
			if err != nil || got != tc.plain {
				t.Errorf("unpadded token: decrypt = %q, %v; want %q", got, err, tc.plain)
			}
		})
	}
}

func TestVaultRejectsPythonTokensUnderAnotherSecret(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"another-secret", "my-private-secret ", "My-private-secret", strings.Repeat("x", 40)} {
		for _, legacy := range []bool{false, true} {
			v := mustVault(t, legacy, secret)
			for _, tc := range pythonTokens {
				got, err := v.decrypt(tc.token)
				if !errors.Is(err, ErrDecrypt) {
					t.Fatalf("secret %q: decrypt = %q, %v; want ErrDecrypt", secret, got, err)
				}
				if got != "" {
					t.Errorf("secret %q: decrypt returned %q along with the error", secret, got)
				}
				if strings.Contains(err.Error(), tc.plain) {
					t.Errorf("error message %q leaks the plain text", err)
				}
			}
		}
	}
}

func TestVaultOwnFormatRoundTrip(t *testing.T) {
	t.Parallel()
	v := mustVault(t, false, testSecret)
	big := make([]byte, 10<<10)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	cases := []struct{ name, plain string }{
		{"empty", ""},
		{"ascii", "tok-shared-123"},
		{"utf8", "密码-pässwörd-🔑"},
		{"binary-ish", "a\x00b\tc\r\nd"},
		{"10KB", string(big)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			enc := mustEncrypt(t, v, tc.plain)
			if tc.plain == "" {
				if enc != "" {
					t.Fatalf("encrypt(\"\") = %q, want \"\" (unset stays visible)", enc)
				}
			} else {
				if !wh1Pattern.MatchString(enc) {
					t.Fatalf("encrypt = %q, want wh1:<8 hex>:<base64url>", enc)
				}
				if strings.Contains(enc, tc.plain) {
					t.Fatalf("stored value contains the plain text")
				}
				if !v.isCurrent(enc) {
					t.Errorf("isCurrent(fresh value) = false")
				}
			}
			got, err := v.decrypt(enc)
			if err != nil || got != tc.plain {
				t.Fatalf("decrypt = %q (len %d), %v; want len %d", got, len(got), err, len(tc.plain))
			}
			// A second vault built from the same secret reads it: the key
			// is derived, not random.
			got, err = mustVault(t, false, testSecret).decrypt(enc)
			if err != nil || got != tc.plain {
				t.Fatalf("decrypt with a fresh vault = %q, %v", got, err)
			}
		})
	}
}

func TestVaultEncryptUsesFreshNonce(t *testing.T) {
	t.Parallel()
	v := mustVault(t, false, testSecret)
	a, b := mustEncrypt(t, v, "same value"), mustEncrypt(t, v, "same value")
	if a == b {
		t.Fatalf("two encryptions of the same value are identical: %q", a)
	}
	for _, enc := range []string{a, b} {
		if got, err := v.decrypt(enc); err != nil || got != "same value" {
			t.Errorf("decrypt(%q) = %q, %v", enc, got, err)
		}
	}
	// Same for Fernet tokens (random IV).
	fv := mustVault(t, true, testSecret)
	fa, fb := mustEncrypt(t, fv, "same value"), mustEncrypt(t, fv, "same value")
	if fa == fb {
		t.Fatalf("two Fernet encryptions of the same value are identical")
	}
}

func TestVaultDetectsTampering(t *testing.T) {
	t.Parallel()
	v := mustVault(t, false, testSecret)
	enc := mustEncrypt(t, v, "tok-shared-123")
	prefix := enc[:strings.LastIndexByte(enc, ':')+1]
	sealed, err := base64.RawURLEncoding.DecodeString(enc[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(sealed)
			bad[i] ^= mask
			got, err := v.decrypt(prefix + base64.RawURLEncoding.EncodeToString(bad))
			if !errors.Is(err, ErrDecrypt) || got != "" {
				t.Fatalf("byte %d ^ %#x: decrypt = %q, %v; want ErrDecrypt", i, mask, got, err)
			}
		}
	}
	// Truncated and extended payloads.
	for _, bad := range [][]byte{sealed[:len(sealed)-1], sealed[:24], sealed[:0], append(bytes.Clone(sealed), 0)} {
		if got, err := v.decrypt(prefix + base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, ErrDecrypt) {
			t.Errorf("payload of %d bytes: decrypt = %q, %v; want ErrDecrypt", len(bad), got, err)
		}
	}

	// Fernet tokens: any byte after the "gAAAAA" prefix (which covers the
	// version byte and the top of the timestamp) is authenticated.
	fv := mustVault(t, true, testSecret)
	tok := mustEncrypt(t, fv, "tok-shared-123")
	raw, err := base64.URLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < len(raw); i++ {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		got, err := fv.decrypt(base64.URLEncoding.EncodeToString(bad))
		if !errors.Is(err, ErrDecrypt) || got != "" {
			t.Fatalf("Fernet byte %d flipped: decrypt = %q, %v; want ErrDecrypt", i, got, err)
		}
	}
}

func TestVaultMalformedOwnFormat(t *testing.T) {
	t.Parallel()
	v := mustVault(t, false, testSecret)
	good := mustEncrypt(t, v, "x")
	id := strings.Split(good, ":")[1]
	cases := []struct{ name, stored, want string }{
		{"no key id", "wh1:abcdef", "no key id"},
		{"bad base64", "wh1:" + id + ":***", "bad base64"},
		{"padded base64", good + "==", "bad base64"},
		{"too short", "wh1:" + id + ":AAAA", "too short"},
		{"empty payload", "wh1:" + id + ":", "too short"},
	}
	for _, tc := range cases {
		got, err := v.decrypt(tc.stored)
		if !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), tc.want) || got != "" {
			t.Errorf("%s: decrypt(%q) = %q, %v; want ErrDecrypt mentioning %q", tc.name, tc.stored, got, err, tc.want)
		}
	}
}

func TestVaultUnknownKeyID(t *testing.T) {
	t.Parallel()
	a := mustVault(t, false, "secret-A")
	b := mustVault(t, false, "secret-B")
	enc := mustEncrypt(t, a, "tok-shared-123")
	for _, stored := range []string{enc, "wh1:deadbeef:" + strings.SplitN(enc, ":", 3)[2]} {
		got, err := b.decrypt(stored)
		if !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "not configured") {
			t.Fatalf("decrypt under another secret = %q, %v; want ErrDecrypt mentioning \"not configured\"", got, err)
		}
		if strings.Contains(err.Error(), "tok-shared-123") {
			t.Fatalf("error leaks the plain text: %v", err)
		}
	}
}

func TestVaultOldSecrets(t *testing.T) {
	t.Parallel()
	const secretA, secretB = "secret-A-before-rotation", "secret-B-after-rotation"
	onlyA := mustVault(t, false, secretA)
	rotated := mustVault(t, false, secretB, secretA)
	underA := mustEncrypt(t, onlyA, "s3cr3t-pw")

	if got, err := rotated.decrypt(underA); err != nil || got != "s3cr3t-pw" {
		t.Fatalf("[B, A] decrypt of a value written under A = %q, %v", got, err)
	}
	if rotated.isCurrent(underA) {
		t.Errorf("isCurrent under [B, A] = true for a value written under A")
	}
	if !onlyA.isCurrent(underA) {
		t.Errorf("isCurrent under [A] = false for a value written under A")
	}
	// New values are written with the first secret only.
	underB := mustEncrypt(t, rotated, "s3cr3t-pw")
	if !rotated.isCurrent(underB) {
		t.Errorf("isCurrent under [B, A] = false for a value it just wrote")
	}
	if _, err := onlyA.decrypt(underB); !errors.Is(err, ErrDecrypt) {
		t.Errorf("[A] decrypt of a value written by [B, A] = %v; want ErrDecrypt (written with B)", err)
	}
	if !rotated.isCurrent("") {
		t.Errorf("isCurrent(\"\") = false")
	}
	if rotated.isCurrent(pythonTokens[0].token) || rotated.isCurrent("plain legacy") {
		t.Errorf("isCurrent = true for a Fernet or plain value in wh1 mode")
	}

	// The same through Config.OldPrivateSecrets.
	c, err := New(openSQLite(t, ""), Config{PrivateSecret: secretB, OldPrivateSecrets: []string{"an-unrelated-old-secret", secretA, pythonSecret}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.vault.decrypt(underA); err != nil || got != "s3cr3t-pw" {
		t.Errorf("client with OldPrivateSecrets: decrypt = %q, %v", got, err)
	}
	if got, err := c.vault.decrypt(pythonTokens[1].token); err != nil || got != pythonTokens[1].plain {
		t.Errorf("client with OldPrivateSecrets: decrypt of a Python token = %q, %v", got, err)
	}
	if c.vault.isCurrent(underA) {
		t.Errorf("client with OldPrivateSecrets: isCurrent = true for a value under an old secret")
	}
}

func TestVaultLegacyFernetWritesPythonTokens(t *testing.T) {
	t.Parallel()
	before := time.Now().Add(-2 * time.Second)
	for _, secret := range []string{pythonSecret, strings.Repeat("长", 20), "0123456789abcdef0123456789abcdef-and-more"} {
		v := mustVault(t, true, secret)
		for _, plain := range []string{"tok-shared-123", "s3cr3t-pw", "payments", "密码🔑", strings.Repeat("x", 16), strings.Repeat("y", 1000)} {
			tok := mustEncrypt(t, v, plain)
			if !strings.HasPrefix(tok, "gAAAAA") {
				t.Fatalf("LegacyFernet token %q does not start with gAAAAA", tok)
			}
			got, ts, err := specFernetDecrypt(t, pythonFernetKey(secret), tok)
			if err != nil || string(got) != plain {
				t.Fatalf("secret %q: independent Fernet decrypt = %q, %v; want %q", secret, got, err, plain)
			}
			if ts.Before(before) || ts.After(time.Now().Add(2*time.Second)) {
				t.Errorf("token timestamp %v is not now", ts)
			}
			if !v.isCurrent(tok) {
				t.Errorf("isCurrent(own Fernet token) = false")
			}
			if back, err := v.decrypt(tok); err != nil || back != plain {
				t.Errorf("vault decrypt of its own Fernet token = %q, %v", back, err)
			}
		}
	}
	v := mustVault(t, true, "new-secret", pythonSecret)
	if v.isCurrent(pythonTokens[0].token) {
		t.Errorf("isCurrent = true for a Fernet token under an old secret")
	}
	if v.isCurrent(mustEncrypt(t, mustVault(t, false, "new-secret"), "x")) {
		t.Errorf("isCurrent = true for a wh1 value in LegacyFernet mode")
	}
	if !v.isCurrent("") {
		t.Errorf("isCurrent(\"\") = false in LegacyFernet mode")
	}
	if got, err := v.decrypt(pythonTokens[2].token); err != nil || got != pythonTokens[2].plain {
		t.Errorf("LegacyFernet vault with old secret: decrypt = %q, %v", got, err)
	}
}

// TestVaultFernetKeyDerivation checks that the Fernet key is made of the
// secret's UTF-8 bytes, NUL padded or cut to 32 bytes (bytes, not
// characters), against tokens made by the independent implementation.
func TestVaultFernetKeyDerivation(t *testing.T) {
	t.Parallel()
	chinese := strings.Repeat("密", 10) + strings.Repeat("钥", 10) // 20 characters, 60 bytes
	if utf8.RuneCountInString(chinese) != 20 || len(chinese) != 60 {
		t.Fatalf("test secret has %d characters, %d bytes", utf8.RuneCountInString(chinese), len(chinese))
	}
	short := "short-secret" // 12 bytes
	keyFrom := func(k []byte) string {
		if len(k) != 32 {
			t.Fatalf("key of %d bytes", len(k))
		}
		return base64.URLEncoding.EncodeToString(k)
	}
	cases := []struct {
		name   string
		secret string
		key    string // the key the Python package uses
		wrong  []string
	}{
		{
			name:   "long UTF-8 secret is cut to 32 bytes",
			secret: chinese,
			key:    keyFrom([]byte(chinese)[:32]),
			wrong: []string{
				// cut at a character boundary (30 bytes) and NUL padded
				keyFrom(append([]byte(chinese)[:30], 0, 0)),
				// the last 32 bytes
				keyFrom([]byte(chinese)[28:]),
			},
		},
		{
			name:   "short secret is NUL padded",
			secret: short,
			key:    keyFrom(append([]byte(short), make([]byte, 20)...)),
			wrong: []string{
				keyFrom([]byte(short + strings.Repeat(" ", 20))),
				keyFrom([]byte(strings.Repeat("\x00", 20) + short)),
			},
		},
		{
			name:   "exactly 32 bytes",
			secret: "0123456789abcdef0123456789abcdef",
			key:    keyFrom([]byte("0123456789abcdef0123456789abcdef")),
		},
		{
			name:   "33 bytes, last one dropped",
			secret: "0123456789abcdef0123456789abcdef!",
			key:    keyFrom([]byte("0123456789abcdef0123456789abcdef")),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := pythonFernetKey(tc.secret); got != tc.key {
				t.Fatalf("pythonFernetKey = %s, want %s", got, tc.key)
			}
			v := mustVault(t, false, tc.secret)
			tok := specFernetEncrypt(t, tc.key, []byte("tok-shared-123"), time.Now())
			if got, err := v.decrypt(tok); err != nil || got != "tok-shared-123" {
				t.Fatalf("vault decrypt of an independently made token = %q, %v", got, err)
			}
			for _, wk := range tc.wrong {
				tok := specFernetEncrypt(t, wk, []byte("tok-shared-123"), time.Now())
				if got, err := v.decrypt(tok); !errors.Is(err, ErrDecrypt) {
					t.Errorf("token under a wrongly derived key: decrypt = %q, %v; want ErrDecrypt", got, err)
				}
			}
		})
	}
}

func TestVaultLegacyPlainText(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		v := mustVault(t, legacy, pythonSecret)
		for _, plain := range []string{
			"payments",
			"gAAAAA-not-really",
			"gAAAAA",
			"gAAAAABrCJeZ", // decodes, but far too short for a token
			"Bearer abc.def.ghi",
			"wh1",
			"WH1:abc:def",
			"密码",
			" spaced ",
		} {
			got, err := v.decrypt(plain)
			if err != nil || got != plain {
				t.Errorf("legacy=%v: decrypt(%q) = %q, %v; want it unchanged", legacy, plain, got, err)
			}
		}
		if got, err := v.decrypt(""); err != nil || got != "" {
			t.Errorf("decrypt(\"\") = %q, %v", got, err)
		}
	}
}

// storedWh1Tokens were written by this library's vault; they pin the wh1
// format (HKDF parameters, key id, additional data) so that values already
// in a database stay readable.
var storedWh1Tokens = []struct{ secret, token, plain string }{
	{pythonSecret, "wh1:ad5d5971:Bo1ZmnzfKOsVWwRRHA_TgIkpU8VfnoENzkjvjktPKnEr_QFPyP2RDcS7UALjfuqJPbIAHhBN", "tok-shared-123"},
	{pythonSecret, "wh1:ad5d5971:ZnOv0FT_faDsliBzQQ2v9ZJBcobeF3_kRY5cl84vKwxQNAQyKIH_Mobh_H1mYROhGYw", "密码🔑"},
	{testSecret, "wh1:0e98d0e5:llxo_84szEKRY-dxFGyGI9FJ8MCeeElJBT4fstfFC0ArbOtTQdgSnira9C5-KqjB5dbcLd-b", "tok-shared-123"},
	{testSecret, "wh1:0e98d0e5:KjnQW3CiKaBorK4mMUAOqvi7P1qvfpQDUnqOWDSPXzaK0IqemgOr3eCAPxbmduGK44Q", "密码🔑"},
}

func TestVaultReadsStoredWh1Tokens(t *testing.T) {
	t.Parallel()
	for _, tc := range storedWh1Tokens {
		v := mustVault(t, false, tc.secret)
		if got, err := v.decrypt(tc.token); err != nil || got != tc.plain {
			t.Errorf("decrypt(%s) = %q, %v; want %q", tc.token, got, err, tc.plain)
		}
		if !v.isCurrent(tc.token) {
			t.Errorf("isCurrent(%s) = false under its own secret", tc.token)
		}
		if got, err := mustVault(t, false, "other", tc.secret).decrypt(tc.token); err != nil || got != tc.plain {
			t.Errorf("decrypt with the secret as an old one = %q, %v", got, err)
		}
	}
}

// TestNewRefusesShortPrivateSecrets: New refuses a PrivateSecret or
// OldPrivateSecrets entry under MinPrivateSecretBytes with ErrInvalidConfig
// and advice on making a good one, never showing the secret; only
// AllowShortPrivateSecret lets a short (non-empty) one through.
func TestNewRefusesShortPrivateSecrets(t *testing.T) {
	t.Parallel()
	db := openSQLite(t, "")
	const short = "15-bytes-secret" // one byte short
	if len(short) != MinPrivateSecretBytes-1 || MinPrivateSecretBytes != 16 {
		t.Fatalf("test data: len(%q) = %d, MinPrivateSecretBytes = %d", short, len(short), MinPrivateSecretBytes)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"one character", Config{PrivateSecret: "x"}, "PrivateSecret is 1 bytes long"},
		{"fifteen bytes", Config{PrivateSecret: short}, "PrivateSecret is 15 bytes long"},
		{"short old secret", Config{PrivateSecret: testSecret, OldPrivateSecrets: []string{testSecret + "-old", short}}, "OldPrivateSecrets[1] is 15 bytes long"},
		{"empty even when allowed", Config{PrivateSecret: "", AllowShortPrivateSecret: true}, "PrivateSecret is empty"},
		{"empty old even when allowed", Config{PrivateSecret: "x", OldPrivateSecrets: []string{""}, AllowShortPrivateSecret: true}, "OldPrivateSecrets[0] is empty"},
	} {
		_, err := New(db, tc.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "openssl rand -base64 32") ||
			!strings.Contains(err.Error(), "NewPrivateSecret()") {
			t.Errorf("%s: New error = %v; want ErrInvalidConfig, %q and how to generate a secret", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), short) {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
	// Long enough: 16 bytes exactly, counted in bytes (é is two).
	for _, ok := range []Config{
		{PrivateSecret: "sixteen-bytes-ok"},
		{PrivateSecret: "ééééééééé"[:16]},
		{PrivateSecret: testSecret, OldPrivateSecrets: []string{"sixteen-bytes-ok", pythonSecret}},
		// The escape hatch, for a secret a Python service already uses.
		{PrivateSecret: "short", OldPrivateSecrets: []string{"old"}, AllowShortPrivateSecret: true},
	} {
		if _, err := New(db, ok); err != nil {
			t.Errorf("New(%d-byte secret, old %d, allow short %v) = %v", len(ok.PrivateSecret), len(ok.OldPrivateSecrets), ok.AllowShortPrivateSecret, err)
		}
	}
	// The Python fixtures' PRIVATE_SECRET is long enough without the hatch.
	if len(pythonSecret) < MinPrivateSecretBytes || len(fixtureSecret) < MinPrivateSecretBytes {
		t.Errorf("the Python package's test secret is %d bytes", len(pythonSecret))
	}
}

// TestAllowShortPrivateSecretStillReadsPython: with the escape hatch, a
// short secret shared with the Python package reads and writes what it does.
func TestAllowShortPrivateSecretStillReadsPython(t *testing.T) {
	t.Parallel()
	const short = "py-secret"
	c := newOfflineClient(t, Config{PrivateSecret: short, LegacyFernet: true, AllowShortPrivateSecret: true})
	tok, err := c.vault.encrypt("tok")
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := specFernetDecrypt(t, pythonFernetKey(short), tok); err != nil || string(got) != "tok" {
		t.Errorf("the Python package's key does not read %q: %q, %v", tok, got, err)
	}
}

func TestNewPrivateSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		s, err := NewPrivateSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != 32 || len(s) != 43 || seen[s] {
			t.Fatalf("NewPrivateSecret() = %q (%d bytes decoded, %v), or a repeat", s, len(raw), err)
		}
		seen[s] = true
		if _, err := New(openSQLite(t, ""), Config{PrivateSecret: s}); err != nil {
			t.Fatalf("New refuses NewPrivateSecret's %q: %v", s, err)
		}
	}
}

// TestVaultOpenReportsTheKey: open names the secret that decrypts a value,
// which CheckSecret counts.
func TestVaultOpenReportsTheKey(t *testing.T) {
	t.Parallel()
	oldV := mustVault(t, false, "the-old-private-secret")
	cur := mustVault(t, false, "the-current-private-secret")
	both := mustVault(t, false, "the-current-private-secret", "the-old-private-secret")
	for _, tc := range []struct {
		stored string
		key    int
	}{
		{mustEncrypt(t, cur, "a"), 0},
		{mustEncrypt(t, oldV, "a"), 1},
		{mustEncrypt(t, mustVault(t, true, pythonSecret), "a"), -2},
		{"plain text", -1},
		{"", -1},
	} {
		plain, key, err := both.open(tc.stored)
		switch {
		case tc.key == -2:
			if !errors.Is(err, ErrDecrypt) || key != -1 {
				t.Errorf("open(a Fernet token under another secret) = %d, %v; want -1, ErrDecrypt", key, err)
			}
		case err != nil || key != tc.key || (tc.stored != "" && tc.stored != "plain text" && plain != "a"):
			t.Errorf("open(%q) = %q, %d, %v; want key %d", tc.stored, plain, key, err, tc.key)
		}
	}
}
