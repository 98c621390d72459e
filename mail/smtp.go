package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"basalt.dev/basalt"
	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	// URL names the server and its credentials. smtp://user:pass@host:587
	// upgrades to TLS with STARTTLS when the server offers it, and
	// smtps://user:pass@host:465 speaks TLS from the first byte; the
	// ports shown are the defaults. Escape special characters of the user
	// and password as %XX. The password never appears in errors.
	URL string
	// From is the sender, such as "Basalt <no-reply@example.com>".
	From string
	// InsecureSkipVerify accepts any TLS certificate. For tests only.
	InsecureSkipVerify bool
}

// SMTP is a Sender that opens one SMTP connection per message, which
// suits the rare mail of account flows and holds nothing between them.
// It is safe for concurrent use.
type SMTP struct {
	host       string
	port       int
	implicit   bool // smtps: TLS from the first byte, not STARTTLS
	user, pass string
	from       string      // formatted by net/mail
	tls        *tls.Config // never mutated: cloned per connection
	url        string      // the URL with its password redacted, for errors
}

var _ Sender = (*SMTP)(nil)

// NewSMTP validates cfg and returns a Sender for it. It does not
// connect: a wrong password shows in the first Send.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	s, err := parseSMTPURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: From %q is not an e-mail address: %w", cfg.From, err)
	}
	s.from = from.String()
	s.tls = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	return s, nil
}

func parseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, and its cause may quote part of it:
		// either can hold the password, so neither is wrapped.
		return nil, errors.New("mail: the SMTP URL does not parse; escape special characters of the user and password as %XX")
	}
	s := &SMTP{host: u.Hostname(), url: u.Redacted()}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("mail: SMTP URL %s: the scheme must be smtp or smtps", s.url)
	}
	if s.host == "" {
		return nil, fmt.Errorf("mail: SMTP URL %s: no host", s.url)
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("mail: SMTP URL %s: bad port %q", s.url, p)
		}
	}
	s.user = u.User.Username()
	s.pass, _ = u.User.Password()
	return s, nil
}

// Send sends m. It fails with a validation *basalt.Error, before
// connecting, when m.To is not an address or m.Subject is not one line.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mail: send to %s: %w", m.To, err)
	}
	var stop func() bool
	c, err := gomail.NewClient(s.host, s.options(ctx, &stop)...)
	if err == nil {
		err = c.DialAndSendWithContext(ctx, msg)
	}
	if stop != nil {
		stop()
	}
	if err != nil && ctx.Err() != nil {
		// The connection was closed under go-mail because ctx is done.
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil {
		return s.redact(fmt.Errorf("mail: send to %s via %s: %w", m.To, s.url, err))
	}
	return nil
}

// message validates m and builds it: plain text in UTF-8, which go-mail
// encodes quoted-printable so that long lines and URLs survive relays.
func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, &basalt.Error{Code: basalt.CodeValidation, Err: err,
			Message: fmt.Sprintf("The recipient %q is not an e-mail address such as ada@example.com.", m.To)}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		// A line break would end the header and let text inject others.
		return nil, basalt.Errorf(basalt.CodeValidation, "The subject of a mail must be one line; it contains a CR or LF.")
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("mail: From %s: %w", s.from, err)
	}
	// to.String() re-encodes the display name, so nothing of m.To but
	// the parsed address and name reaches the header.
	if err := msg.To(to.String()); err != nil {
		return nil, fmt.Errorf("mail: To %s: %w", to, err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	return msg, nil
}

// options configures a go-mail client for one message. The client is
// not reused: it keeps state between sends (the chosen auth mechanism),
// and its dial function must capture this Send's ctx.
func (s *SMTP) options(ctx context.Context, stop *func() bool) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTLSConfig(s.tls.Clone()),
		gomail.WithDialContextFunc(s.dialer(ctx, stop)),
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" || s.pass != "" {
		// PLAIN and LOGIN refuse to send the password unencrypted, except
		// to localhost, so a server that hides STARTTLS cannot read it.
		opts = append(opts, gomail.WithUsername(s.user), gomail.WithPassword(s.pass),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	return opts
}

// dialer connects to the server, with TLS from the start for smtps.
// go-mail bounds the dial by ctx but not the conversation after it, and
// a set dial function replaces its own TLS dialing; closing the
// connection when ctx is done makes every step respect ctx.
func (s *SMTP) dialer(ctx context.Context, stop *func() bool) gomail.DialContextFunc {
	return func(dctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		// go-mail's address is host:port, wrong for IPv6 literals.
		conn, err := d.DialContext(dctx, network, net.JoinHostPort(s.host, strconv.Itoa(s.port)))
		if err != nil {
			return nil, err
		}
		if s.implicit {
			tc := tls.Client(conn, s.tls.Clone())
			if err := tc.HandshakeContext(dctx); err != nil {
				conn.Close()
				return nil, err
			}
			conn = tc // a *tls.Conn, by which go-mail knows it is encrypted
		}
		*stop = context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

// redact hides the password should a server or library ever echo it:
// errors are logged, and the password must never reach a log.
func (s *SMTP) redact(err error) error {
	if s.pass == "" {
		return err
	}
	return &redactedError{err: err, secret: s.pass}
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx") }
func (e *redactedError) Unwrap() error { return e.err }
