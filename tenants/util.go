package tenants

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"strings"

	"basalt.dev/basalt"
)

func newDigest(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func normalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return "", basalt.Invalid("Invalid email.", basalt.FieldError{Field: "email", Code: "invalid", Message: "email must be an address such as ada@example.com"})
	}
	return strings.ToLower(email), nil
}
