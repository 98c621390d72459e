// Package mail sends e-mail: the links of sign-up, password reset and
// unlock flows. SMTP sends through any SMTP server; the subpackage
// mailtest runs a real one in tests.
package mail

import "context"

// Message is one plain-text e-mail to one recipient.
type Message struct {
	To      string // an address such as "ada@example.com" or "Ada <ada@example.com>"
	Subject string
	Text    string // UTF-8; long lines and any characters are safe
}

// Sender sends mail.
type Sender interface {
	// Send sends m, or fails with a validation *basalt.Error when m is
	// malformed, before any connection is made. It returns when the
	// server has accepted m for delivery, or when ctx is done.
	Send(ctx context.Context, m Message) error
}
