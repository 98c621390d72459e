package mail_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"basalt.dev/basalt"
	"basalt.dev/basalt/mail"
	"basalt.dev/basalt/mail/mailtest"
)

const wait = 5 * time.Second

// text has what links in mail need to survive: non-ASCII, a line longer
// than quoted-printable's 76 characters, and "=", "&" and "?" in a URL.
var text = "Bonjour Zoë,\n\nOpen this link to choose a new password:\n\n" +
	"https://basalt.example.com/auth/reset?token=abc&x=y&state=" + strings.Repeat("0123456789", 12) + "\n\n" +
	"— Basalt, 日本語のテキスト\n"

func mustSMTP(t *testing.T, cfg mail.SMTPConfig) *mail.SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Basalt <no-reply@example.com>"
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP(%+v) = %v", cfg, err)
	}
	return s
}

func send(t *testing.T, s *mail.SMTP, m mail.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := s.Send(ctx, m); err != nil {
		t.Fatalf("Send(%q) = %v", m.To, err)
	}
}

// checkReceived checks that got is m as sent by no-reply@example.com.
func checkReceived(t *testing.T, got mailtest.Received, m mail.Message) {
	t.Helper()
	if got.From != "no-reply@example.com" || got.Subject != m.Subject || got.Text != m.Text {
		t.Errorf("received From %q, Subject %q, Text:\n%s\nwant From no-reply@example.com, Subject %q, Text:\n%s",
			got.From, got.Subject, got.Text, m.Subject, m.Text)
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts []mailtest.Option
	}{
		{"plain", nil},
		{"auth", []mailtest.Option{mailtest.WithAuth("basalt", "pa:ss/w@rd")}},
		{"starttls", []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth("basalt", "pa:ss/w@rd")}},
		{"implicit tls", []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth("basalt", "pa:ss/w@rd")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.Start(t, tt.opts...)
			s := mustSMTP(t, mail.SMTPConfig{URL: srv.URL(), InsecureSkipVerify: true})
			m := mail.Message{To: "ada@example.com", Subject: "Réinitialisez votre mot de passe ✓", Text: text}
			send(t, s, m)
			checkReceived(t, srv.Wait(t, "ada@example.com", wait), m)
			if n := len(srv.Messages()); n != 1 {
				t.Errorf("server received %d messages, want 1", n)
			}
		})
	}
}

func TestSendDisplayName(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := mustSMTP(t, mail.SMTPConfig{URL: srv.URL()})
	m := mail.Message{To: "Ada Lovelace <Ada@Example.com>", Subject: "Hello", Text: "Hi\n"}
	send(t, s, m)
	got := srv.Wait(t, "ada@example.com", wait)
	checkReceived(t, got, m)
	if to := got.Header.Get("To"); !strings.Contains(to, "Ada Lovelace") {
		t.Errorf("To header = %q, want the display name", to)
	}
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := mustSMTP(t, mail.SMTPConfig{URL: srv.URL()})
	to := []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"}
	var wg sync.WaitGroup
	for _, addr := range to {
		wg.Go(func() { send(t, s, mail.Message{To: addr, Subject: "To " + addr, Text: "Hi " + addr + "\n"}) })
	}
	wg.Wait()
	for _, addr := range to {
		if got := srv.Wait(t, addr, wait); got.Subject != "To "+addr || got.Text != "Hi "+addr+"\n" {
			t.Errorf("mail to %s: Subject %q, Text %q", addr, got.Subject, got.Text)
		}
	}
}

func TestSendWrongPassword(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithAuth("basalt", "right-password"))
	url := strings.Replace(srv.URL(), "right-password", "Wr0ng-S3cret", 1)
	s := mustSMTP(t, mail.SMTPConfig{URL: url})
	err := s.Send(t.Context(), mail.Message{To: "ada@example.com", Subject: "Hi", Text: "Hi"})
	if err == nil {
		t.Fatal("Send with a wrong password = nil, want an error")
	}
	if msg := err.Error(); strings.Contains(msg, "Wr0ng-S3cret") || !strings.Contains(msg, "basalt:xxxxx@") {
		t.Errorf("Send error = %q, want the URL with its password redacted", msg)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestSendNoCredentials(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.WithAuth("basalt", "right-password"))
	url := strings.Replace(srv.URL(), "basalt:right-password@", "", 1)
	s := mustSMTP(t, mail.SMTPConfig{URL: url})
	if err := s.Send(t.Context(), mail.Message{To: "ada@example.com", Subject: "Hi", Text: "Hi"}); err == nil {
		t.Error("Send without credentials to a server that wants them = nil, want an error")
	}
}

// TestSendVerifiesTLS checks that a certificate is verified unless
// InsecureSkipVerify says otherwise, so the password goes to no impostor.
func TestSendVerifiesTLS(t *testing.T) {
	t.Parallel()
	for _, opt := range []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithImplicitTLS()} {
		srv := mailtest.Start(t, opt, mailtest.WithAuth("basalt", "Secret-Pass"))
		s := mustSMTP(t, mail.SMTPConfig{URL: srv.URL()})
		err := s.Send(t.Context(), mail.Message{To: "ada@example.com", Subject: "Hi", Text: "Hi"})
		if err == nil || strings.Contains(err.Error(), "Secret-Pass") {
			t.Errorf("Send to %s with a self-signed certificate = %v, want a redacted error", srv.URL(), err)
		}
	}
}

// listen returns the address of a listener that accepts nothing, and a
// function that reports whether anyone connected to it.
func listen(t *testing.T) (addr string, dialed func() bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), func() bool {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		return err == nil
	}
}

func TestSendInvalid(t *testing.T) {
	t.Parallel()
	addr, dialed := listen(t)
	s := mustSMTP(t, mail.SMTPConfig{URL: "smtp://basalt:Secret-Pass@" + addr})
	for _, m := range []mail.Message{
		{To: "", Subject: "Hi"},
		{To: "ada", Subject: "Hi"},
		{To: "ada@", Subject: "Hi"},
		{To: "ada@example.com, eve@example.com", Subject: "Hi"},
		{To: "ada@example.com\r\nBcc: eve@example.com", Subject: "Hi"},
		{To: "ada@example.com", Subject: "Hi\r\nBcc: eve@example.com"},
		{To: "ada@example.com", Subject: "Hi\nBcc: eve@example.com"},
		{To: "ada@example.com", Subject: "Hi\rthere"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		err := s.Send(ctx, m)
		cancel()
		var e *basalt.Error
		if !errors.As(err, &e) || e.Code != basalt.CodeValidation || e.Message == "" {
			t.Errorf("Send(%q, %q) = %v, want a validation *basalt.Error", m.To, m.Subject, err)
		}
	}
	if dialed() {
		t.Error("Send dialed the server for an invalid message")
	}
}

func TestSendCancelled(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t)
	s := mustSMTP(t, mail.SMTPConfig{URL: srv.URL()})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	err := s.Send(ctx, mail.Message{To: "ada@example.com", Subject: "Hi", Text: "Hi"})
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("Send(cancelled) = %v after %v, want context.Canceled at once", err, time.Since(start))
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

// TestSendDeadline checks that ctx bounds the whole conversation, not
// only the dial: this server accepts the connection and never greets.
func TestSendDeadline(t *testing.T) {
	t.Parallel()
	addr, _ := listen(t)
	s := mustSMTP(t, mail.SMTPConfig{URL: "smtp://" + addr})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, mail.Message{To: "ada@example.com", Subject: "Hi", Text: "Hi"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Send(silent server) = %v after %v, want context.DeadlineExceeded after 200ms", err, time.Since(start))
	}
}

func TestNewSMTPInvalid(t *testing.T) {
	t.Parallel()
	const from = "no-reply@example.com"
	for _, cfg := range []mail.SMTPConfig{
		{URL: "", From: from},
		{URL: "mail.example.com:587", From: from},
		{URL: "http://mail.example.com", From: from},
		{URL: "smtp://", From: from},
		{URL: "smtp://:587", From: from},
		{URL: "smtp://mail.example.com:0", From: from},
		{URL: "smtp://mail.example.com:65536", From: from},
		{URL: "smtp://user:Secret-Pass@mail.example.com:x", From: from},
		{URL: "http://user:Secret-Pass@mail.example.com", From: from},
		{URL: "smtp://user:Sec/ret@mail.example.com", From: from}, // the / ends the host: url.Parse quotes "Sec"
		{URL: "smtp://user:Secret%zz@mail.example.com", From: from},
		{URL: "smtp://user:Secret-Pass@mail.example.com", From: ""},
		{URL: "smtp://user:Secret-Pass@mail.example.com", From: "no-reply"},
		{URL: "smtp://user:Secret-Pass@mail.example.com", From: "a@example.com, b@example.com"},
	} {
		_, err := mail.NewSMTP(cfg)
		if err == nil {
			t.Errorf("NewSMTP(%+v) = nil, want an error", cfg)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "Sec") {
			t.Errorf("NewSMTP(%+v) = %q, which reveals the password", cfg, msg)
		}
	}
}

func TestNewSMTPValid(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"smtp://mail.example.com",
		"smtp://mail.example.com:25",
		"smtps://mail.example.com",
		"smtp://user%40example.com:p%40ss%2Fword@mail.example.com:587",
		"smtp://[::1]:2525",
	} {
		if _, err := mail.NewSMTP(mail.SMTPConfig{URL: url, From: "Basalt <no-reply@example.com>"}); err != nil {
			t.Errorf("NewSMTP(%q) = %v, want nil", url, err)
		}
	}
}
