package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"basalt.dev/basalt/auth"
	"basalt.dev/basalt/mail"
	"basalt.dev/basalt/tenants"
)

// secretBox returns the box that encrypts stored secrets, with the key
// from --secret-key. Without one, a SQLite server keeps a generated key
// in its data directory (readable only by its user); PostgreSQL servers
// must be given one, the same on every node.
func secretBox(cfg Config) (*auth.SecretBox, error) {
	key := strings.TrimSpace(cfg.SecretKey)
	if key == "" && IsPostgresURL(cfg.DB) {
		return nil, errors.New("--secret-key is required with PostgreSQL (the same on every node); make one with: basalt secret")
	}
	if key == "" {
		var err error
		if key, err = dataDirKey(cfg.Data); err != nil {
			return nil, err
		}
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(key)
	}
	if err != nil || len(raw) != 32 {
		return nil, errors.New("--secret-key: must be the base64 of 32 random bytes; make one with: basalt secret")
	}
	return auth.NewSecretBox(raw)
}

func dataDirKey(dir string) (string, error) {
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	key := newSecretKey()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return dataDirKey(dir) // another process made it first
	}
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(key + "\n"); err != nil {
		return "", err
	}
	return key, f.Sync()
}

func newSecretKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// mailer adapts the SMTP sender to the account service.
type mailer struct{ s *mail.SMTP }

func (m *mailer) Send(ctx context.Context, to, subject, text string) error {
	return m.s.Send(ctx, mail.Message{To: to, Subject: subject, Text: text})
}

// newUsers builds the token issuer and the account service.
func (a *App) newUsers(ctx context.Context) error {
	box, err := secretBox(a.cfg)
	if err != nil {
		return err
	}
	a.tokens = auth.NewTokens(a.store, box, "basalt", nil)
	a.tokens.TTL = a.cfg.AccessTTL
	if err := a.tokens.Load(ctx); err != nil {
		return err
	}
	var m auth.Mailer
	if a.cfg.SMTPURL != "" {
		s, err := mail.NewSMTP(mail.SMTPConfig{URL: a.cfg.SMTPURL, From: a.cfg.SMTPFrom})
		if err != nil {
			return fmt.Errorf("--smtp-url: %w", err)
		}
		a.mailer = &mailer{s}
		m = a.mailer
	}
	a.users, err = auth.NewUsers(a.store, a.tokens, box, m, auth.UsersConfig{
		SignupTenant: a.cfg.SignupTenant, SessionTTL: a.cfg.SessionTTL, PublicURL: a.publicURL(), Issuer: "Basalt",
	}, nil, a.log)
	return err
}

func (a *App) publicURL() string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	return "http://" + a.cfg.HTTP
}

// followKeys reloads signing keys, which other nodes may rotate.
func (a *App) followKeys(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.tokens.Reload(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("auth: reload signing keys", "err", err)
			}
		}
	}
}

// newTenants returns the tenant service, telling this node's users
// service at once of the sessions its changes revoke.
func (a *App) newTenants() *tenants.Service {
	ts := tenants.New(a.store, a.records, a.tenantMailer(), a.publicURL(), nil, a.log)
	ts.SessionsRevoked = a.users.RevocationsChanged
	return ts
}
