package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// SecretBox encrypts secrets kept in the database (signing keys, TOTP
// seeds) with the server's secret key, so a copy of the database alone
// does not give them away. AES-256-GCM with a random nonce per secret.
type SecretBox struct {
	aead cipher.AEAD
}

// NewSecretBox returns a box for a 32-byte key.
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("auth: the secret key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts plaintext; the result is base64 of nonce and ciphertext.
func (b *SecretBox) Seal(plaintext []byte) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plaintext, nil))
}

var errSealed = errors.New("auth: a stored secret does not open with this secret key; was --secret-key changed?")

// Open decrypts what Seal made.
func (b *SecretBox) Open(sealed string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(data) < b.aead.NonceSize() {
		return nil, errSealed
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return nil, errSealed
	}
	return out, nil
}
