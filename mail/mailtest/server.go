// Package mailtest runs a real SMTP server inside a test and records the
// mail it receives, so that a test of a mail flow can read the link it
// sent: mail := srv.Wait(t, "ada@example.com", 5*time.Second).
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as delivered to one recipient.
type Received struct {
	From    string      // the address of the From header
	To      string      // the envelope recipient this copy went to
	Subject string      // decoded
	Text    string      // the text/plain body, decoded, with \n line ends (SMTP ends it with one)
	Header  mail.Header // as sent, for anything else
}

// Option configures a Server.
type Option func(*config)

type config struct {
	user, pass  string
	starttls    bool
	implicitTLS bool
}

// WithAuth makes the server offer AUTH PLAIN and refuse mail from
// clients that have not authenticated as user with password.
func WithAuth(user, password string) Option {
	return func(c *config) { c.user, c.pass = user, password }
}

// WithSTARTTLS makes the server offer STARTTLS, with a self-signed
// certificate that only a client with InsecureSkipVerify accepts.
func WithSTARTTLS() Option {
	return func(c *config) { c.starttls = true }
}

// WithImplicitTLS makes the server speak TLS from the first byte, as
// on port 465, with a self-signed certificate; URL returns smtps://.
func WithImplicitTLS() Option {
	return func(c *config) { c.implicitTLS = true }
}

// Server is an SMTP server on 127.0.0.1 that records what it receives.
type Server struct {
	cfg  config
	addr string

	mu      sync.Mutex
	all     []Received
	pending []Received    // not yet returned by Wait
	arrived chan struct{} // closed, and replaced, when mail arrives
}

// Start starts a server on a free port of 127.0.0.1. The test's cleanup
// stops it.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{arrived: make(chan struct{})}
	for _, o := range opts {
		o(&s.cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	srv := s.newSMTPServer(t)
	if s.cfg.implicitTLS {
		ln = tls.NewListener(ln, srv.TLSConfig)
		srv.TLSConfig = nil // no STARTTLS inside TLS
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) // returns when Close closes ln
	}()
	t.Cleanup(func() {
		srv.Close()
		ln.Close() // in case Serve had not yet registered it for Close
		<-done
	})
	return s
}

func (s *Server) newSMTPServer(t testing.TB) *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{srv: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // PLAIN without TLS: the client is on loopback
	srv.EnableSMTPUTF8 = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0) // t.Log would panic after the test
	if s.cfg.starttls || s.cfg.implicitTLS {
		srv.TLSConfig = selfSigned(t)
	}
	return srv
}

// URL returns the server's URL with its credentials, for mail.SMTPConfig:
// smtp://user:pass@127.0.0.1:port, or smtps:// with WithImplicitTLS.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.cfg.implicitTLS {
		u.Scheme = "smtps"
	}
	if s.cfg.user != "" || s.cfg.pass != "" {
		u.User = url.UserPassword(s.cfg.user, s.cfg.pass)
	}
	return u.String()
}

// Messages returns every message received so far, in order, including
// those Wait returned.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.all...)
}

// Wait returns the next message to the recipient address to that Wait
// has not returned yet, waiting up to timeout for it to arrive, and
// fails the test if none does.
func (s *Server) Wait(t testing.TB, to string, timeout time.Duration) Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r, ok, arrived := s.take(to)
		if ok {
			return r
		}
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatalf("mailtest: no mail to %s within %v; received to: %v", to, timeout, s.recipients())
			return Received{}
		}
	}
}

// take removes and returns the first pending message to to, or returns
// the channel that closes when the next message arrives.
func (s *Server) take(to string) (Received, bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.pending {
		if strings.EqualFold(r.To, to) {
			s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
			return r, true, nil
		}
	}
	return Received{}, false, s.arrived
}

func (s *Server) recipients() []string {
	var to []string
	for _, r := range s.Messages() {
		to = append(to, r.To)
	}
	return to
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, r)
	s.pending = append(s.pending, r)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one SMTP connection. go-smtp calls its methods from the
// connection's goroutine only.
type session struct {
	srv    *Server
	authed bool
	rcpts  []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) needsAuth() bool {
	return (se.srv.cfg.user != "" || se.srv.cfg.pass != "") && !se.authed
}

// AuthMechanisms offers PLAIN only when WithAuth set credentials.
func (se *session) AuthMechanisms() []string {
	if se.srv.cfg.user == "" && se.srv.cfg.pass == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != se.srv.cfg.user || pass != se.srv.cfg.pass {
			return smtp.ErrAuthFailed
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(string, *smtp.MailOptions) error {
	if se.needsAuth() {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.needsAuth() {
		return smtp.ErrAuthRequired
	}
	se.rcpts = append(se.rcpts, to)
	return nil
}

// Data records the message once per recipient. A message it cannot
// parse is refused, so that the sender's test fails rather than hangs.
func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest: " + err.Error()}
	}
	for _, to := range se.rcpts {
		rec.To = to
		se.srv.add(rec)
	}
	return nil
}

func (se *session) Reset()        { se.rcpts = nil }
func (se *session) Logout() error { return nil }

// parse decodes a raw RFC 5322 message.
func parse(raw []byte) (Received, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, fmt.Errorf("read message: %w", err)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 {
		return Received{}, fmt.Errorf("From %q: want one address: %v", m.Header.Get("From"), err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return Received{}, fmt.Errorf("Subject: %w", err)
	}
	text, err := textBody(textproto.MIMEHeader(m.Header), m.Body)
	if err != nil {
		return Received{}, err
	}
	return Received{From: from[0].Address, Subject: subject, Text: text, Header: m.Header}, nil
}

// textBody returns the first text/plain part of a body with header h,
// decoded to UTF-8 with \n line ends.
func textBody(h textproto.MIMEHeader, body io.Reader) (string, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii" // RFC 2045's default
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("Content-Type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		return firstTextPart(multipart.NewReader(body, params["boundary"]))
	}
	if mediaType != "text/plain" {
		return "", fmt.Errorf("body is %s, not text/plain", mediaType)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return "", fmt.Errorf("charset %q: want utf-8", cs)
	}
	r, err := transferDecoder(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("body: %w", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// firstTextPart returns the first part of mr that textBody decodes.
// multipart.Reader itself undoes quoted-printable in parts.
func firstTextPart(mr *multipart.Reader) (string, error) {
	var errs []error
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("no text/plain part (%v)", errs)
		}
		if err != nil {
			return "", fmt.Errorf("multipart: %w", err)
		}
		text, err := textBody(p.Header, p)
		if err == nil {
			return text, nil
		}
		errs = append(errs, err)
	}
}

func transferDecoder(cte string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return r, nil
	case "quoted-printable":
		return quotedprintable.NewReader(r), nil
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r), nil // skips the line breaks
	}
	return nil, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
}

// selfSigned returns a TLS config with a fresh certificate for
// 127.0.0.1 and localhost.
func selfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("mailtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
