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
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// Credentials (auth tokens, passwords and header values) are stored encrypted
// in the webhook's extra_info. Two formats are read:
//
//   - the library's own format, "wh1:<key id>:<base64url(nonce || ciphertext)>",
//     XChaCha20-Poly1305 under a key derived from Config.PrivateSecret with
//     HKDF-SHA256. The key id (8 hex digits) names the secret that wrote the
//     value so that a rotation knows what to rewrite;
//   - Fernet tokens written by the Python package bkflow-django-webhook, whose
//     key is the secret's UTF-8 bytes NUL-padded or cut to 32 bytes.
//
// A stored value that is neither is taken as legacy plain text.

const (
	// tokenPrefix starts every value written in the library's own format.
	tokenPrefix = "wh1:"
	// fernetVersion is the first byte of every Fernet token.
	fernetVersion = 0x80
	// fernetOverhead is version (1) + timestamp (8) + IV (16) + HMAC (32).
	fernetOverhead = 1 + 8 + 16 + 32
	hkdfSalt       = "scopehook/webhook credentials"
	hkdfInfo       = "wh1 xchacha20-poly1305 key"
)

// MinPrivateSecretBytes is the shortest Config.PrivateSecret (and entry of
// Config.OldPrivateSecrets) that New accepts, in bytes, unless
// Config.AllowShortPrivateSecret is set. HKDF does not slow down guessing,
// so the secret itself must be hard to guess: use NewPrivateSecret, or the
// output of "openssl rand -base64 32".
const MinPrivateSecretBytes = 16

// privateSecretAdvice tells how to make a good private secret; New's errors
// end with it.
const privateSecretAdvice = "use a random secret of 32 bytes or more, such as the output of `openssl rand -base64 32` or webhook.NewPrivateSecret()"

// NewPrivateSecret returns a fresh value for Config.PrivateSecret: the
// unpadded URL-safe base64 of 32 random bytes (43 ASCII characters, safe in
// environment files and shell variables). Keep it out of the source and the
// database. A Python service sharing the database (its PRIVATE_SECRET) uses
// only the first 32 bytes of a secret, which still hold 192 random bits.
func NewPrivateSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: generating a private secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// checkPrivateSecret returns why secret, named name in the message, is not
// acceptable as a private secret, or nil. It never shows the secret.
func checkPrivateSecret(name, secret string, allowShort bool) error {
	switch {
	case secret == "":
		return fmt.Errorf("%w: %s is empty: %s", ErrInvalidConfig, name, privateSecretAdvice)
	case len(secret) < MinPrivateSecretBytes && !allowShort:
		return fmt.Errorf("%w: %s is %d bytes long, shorter than the %d bytes required: %s "+
			"(to keep a short secret that existing credentials depend on, see Config.AllowShortPrivateSecret)",
			ErrInvalidConfig, name, len(secret), MinPrivateSecretBytes, privateSecretAdvice)
	}
	return nil
}

// vault encrypts and decrypts credentials. It is immutable after construction
// and safe for concurrent use.
type vault struct {
	keys         []vaultKey // keys[0] is the current secret
	legacyFernet bool       // write Fernet tokens instead of wh1 tokens
}

type vaultKey struct {
	id     string      // 8 hex digits identifying the secret
	aead   cipher.AEAD // wh1 format
	fernet [32]byte    // legacy Fernet key: signing half then encryption half
}

func newVault(secrets []string, legacyFernet bool) (*vault, error) {
	v := &vault{legacyFernet: legacyFernet}
	for _, s := range secrets {
		k, err := deriveKey(s)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

func deriveKey(secret string) (vaultKey, error) {
	var k vaultKey
	key := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(secret), []byte(hkdfSalt), []byte(hkdfInfo)), key); err != nil {
		return k, fmt.Errorf("webhook: deriving credential key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return k, fmt.Errorf("webhook: credential cipher: %w", err)
	}
	k.aead = aead
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("key id"))
	k.id = hex.EncodeToString(mac.Sum(nil)[:4])
	copy(k.fernet[:], secret) // NUL-padded or cut to 32 bytes, by bytes
	return k, nil
}

// encrypt returns the stored form of a credential. The empty string stays
// empty so that "not set" remains visible without decrypting.
func (v *vault) encrypt(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	if v.legacyFernet {
		return fernetEncrypt(v.keys[0].fernet, []byte(plain), time.Now())
	}
	k := v.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("webhook: encrypting credential: %w", err)
	}
	sealed := k.aead.Seal(nonce, nonce, []byte(plain), []byte(tokenPrefix))
	return tokenPrefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// decrypt returns the plain text of a stored credential. A value in neither
// known format is legacy plain text and is returned as it is. A value in a
// known format that no configured secret authenticates is ErrDecrypt.
func (v *vault) decrypt(stored string) (string, error) {
	plain, _, err := v.open(stored)
	return plain, err
}

// open is decrypt that also returns the index in v.keys of the secret that
// authenticated the value (0 is the current secret), or -1 for the empty
// string and legacy plain text, which need no secret.
func (v *vault) open(stored string) (string, int, error) {
	if stored == "" {
		return "", -1, nil
	}
	if rest, ok := strings.CutPrefix(stored, tokenPrefix); ok {
		return v.decryptOwn(rest)
	}
	if raw, ok := fernetDecode(stored); ok {
		for i, k := range v.keys {
			if plain, ok := fernetOpen(k.fernet, raw); ok {
				return string(plain), i, nil
			}
		}
		return "", -1, fmt.Errorf("%w: a Fernet credential does not authenticate under the configured private secret(s)", ErrDecrypt)
	}
	return stored, -1, nil
}

func (v *vault) decryptOwn(rest string) (string, int, error) {
	id, payload, ok := strings.Cut(rest, ":")
	if !ok {
		return "", -1, fmt.Errorf("%w: malformed wh1 credential (no key id)", ErrDecrypt)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", -1, fmt.Errorf("%w: malformed wh1 credential (bad base64)", ErrDecrypt)
	}
	for i, k := range v.keys {
		if k.id != id {
			continue
		}
		ns := k.aead.NonceSize()
		if len(sealed) < ns+k.aead.Overhead() {
			return "", -1, fmt.Errorf("%w: malformed wh1 credential (too short)", ErrDecrypt)
		}
		plain, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(tokenPrefix))
		if err != nil {
			return "", -1, fmt.Errorf("%w: a credential failed authentication", ErrDecrypt)
		}
		return string(plain), i, nil
	}
	return "", -1, fmt.Errorf("%w: a credential was written under a private secret that is not configured (key id %s)", ErrDecrypt, id)
}

// isCurrent reports whether a stored value is already in the format and under
// the key that encrypt would write now.
func (v *vault) isCurrent(stored string) bool {
	if stored == "" {
		return true
	}
	if v.legacyFernet {
		raw, ok := fernetDecode(stored)
		if !ok {
			return false
		}
		_, ok = fernetOpen(v.keys[0].fernet, raw)
		return ok
	}
	return strings.HasPrefix(stored, tokenPrefix+v.keys[0].id+":")
}

// fernetDecode reports whether s has the shape of a Fernet token and returns
// its bytes.
func fernetDecode(s string) ([]byte, bool) {
	if len(s) < 4 || !strings.HasPrefix(s, "gAAAAA") {
		return nil, false
	}
	raw, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, false
		}
	}
	if len(raw) < fernetOverhead+aes.BlockSize || raw[0] != fernetVersion || (len(raw)-fernetOverhead)%aes.BlockSize != 0 {
		return nil, false
	}
	return raw, true
}

// fernetOpen authenticates and decrypts a decoded Fernet token. Token age is
// not checked: the Python package never sets a TTL.
func fernetOpen(key [32]byte, raw []byte) ([]byte, bool) {
	signed, tag := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(signed)
	if !hmac.Equal(mac.Sum(nil), tag) {
		return nil, false
	}
	iv := signed[9:25]
	ct := bytes.Clone(signed[25:])
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return nil, false
	}
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad == 0 || pad > aes.BlockSize || pad > len(ct) {
		return nil, false
	}
	for _, b := range ct[len(ct)-pad:] {
		if int(b) != pad {
			return nil, false
		}
	}
	return ct[:len(ct)-pad], true
}

// fernetEncrypt writes a Fernet token as the Python package would.
func fernetEncrypt(key [32]byte, plain []byte, now time.Time) (string, error) {
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	msg := make([]byte, 0, 25+len(plain)+pad+sha256.Size)
	msg = append(msg, fernetVersion)
	msg = binary.BigEndian.AppendUint64(msg, uint64(now.Unix()))
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("webhook: encrypting credential: %w", err)
	}
	msg = append(msg, iv...)
	ct := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, err := aes.NewCipher(key[16:])
	if err != nil {
		return "", fmt.Errorf("webhook: encrypting credential: %w", err)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	msg = append(msg, ct...)
	mac := hmac.New(sha256.New, key[:16])
	mac.Write(msg)
	msg = mac.Sum(msg)
	return base64.URLEncoding.EncodeToString(msg), nil
}
