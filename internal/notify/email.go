package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// Email is one message for one recipient.
type Email struct {
	// MessageID identifies the message (without angle brackets). parkd uses
	// the notification's id, so that a message sent twice after a crash
	// between sending and recording it can be recognised as one.
	MessageID   string
	To          string
	Subject     string
	Text        string
	HTML        string
	Date        time.Time
	Unsubscribe string // the one-click unsubscribe URL (List-Unsubscribe)
	Attachments []Attachment
}

// Attachment is a file sent with an email.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Mailer sends email.
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// PermanentError is a failure that retrying cannot fix, such as a mailbox the
// server says does not exist.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// SMTP sends email through an SMTP server with net/smtp: STARTTLS when the
// server offers it, PLAIN authentication when a username is set.
type SMTP struct {
	Addr     string // host:port
	From     string // "parkd <noreply@example.com>" or a bare address
	Username string
	Password string
	// TLS configures STARTTLS; nil means the standard configuration for the
	// server's host name.
	TLS *tls.Config
}

// Send delivers one email within sendTimeout (or ctx's deadline, if sooner).
func (m *SMTP) Send(ctx context.Context, e Email) error {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return &PermanentError{fmt.Errorf("PARKD_SMTP_FROM %q: %w", m.From, err)}
	}
	msg, err := e.Bytes(from.String())
	if err != nil {
		return &PermanentError{err}
	}
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return &PermanentError{fmt.Errorf("PARKD_SMTP_ADDR %q: %w", m.Addr, err)}
	}
	deadline := time.Now().Add(sendTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := net.Dialer{Deadline: deadline}
	conn, err := dialer.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := m.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host}
		}
		if err := c.StartTLS(cfg); err != nil {
			return err
		}
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return classifySMTP(err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return classifySMTP(err)
	}
	if err := c.Rcpt(e.To); err != nil {
		return classifySMTP(err)
	}
	w, err := c.Data()
	if err != nil {
		return classifySMTP(err)
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return classifySMTP(err)
	}
	return c.Quit()
}

// classifySMTP marks 5xx replies permanent: the server refuses for good.
func classifySMTP(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &PermanentError{err}
	}
	return err
}

// Bytes renders e as an RFC 5322 message from from: multipart/alternative
// plain text and HTML, inside multipart/mixed when there are attachments.
func (e Email) Bytes(from string) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from)
	h("To", e.To)
	h("Subject", mime.QEncoding.Encode("utf-8", e.Subject))
	h("Date", e.Date.Format(time.RFC1123Z))
	h("Message-ID", "<"+e.MessageID+">")
	h("MIME-Version", "1.0")
	if e.Unsubscribe != "" {
		h("List-Unsubscribe", "<"+e.Unsubscribe+">")
		h("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	h("Auto-Submitted", "auto-generated")

	outer := multipart.NewWriter(&b)
	if len(e.Attachments) == 0 {
		h("Content-Type", "multipart/alternative; boundary="+outer.Boundary())
		b.WriteString("\r\n")
		if err := writeAlternatives(outer, e); err != nil {
			return nil, err
		}
		if err := outer.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	h("Content-Type", "multipart/mixed; boundary="+outer.Boundary())
	b.WriteString("\r\n")
	var alt bytes.Buffer
	inner := multipart.NewWriter(&alt)
	if err := writeAlternatives(inner, e); err != nil {
		return nil, err
	}
	if err := inner.Close(); err != nil {
		return nil, err
	}
	part, err := outer.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + inner.Boundary()}})
	if err != nil {
		return nil, err
	}
	part.Write(alt.Bytes())
	for _, a := range e.Attachments {
		part, err := outer.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {mime.FormatMediaType(a.ContentType, map[string]string{"name": a.Name})},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, err
		}
		part.Write(base64Lines(a.Data))
	}
	if err := outer.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeAlternatives(w *multipart.Writer, e Email) error {
	for _, p := range []struct{ typ, body string }{{"text/plain; charset=utf-8", e.Text}, {"text/html; charset=utf-8", e.HTML}} {
		part, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {p.typ}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return err
		}
		qp := quotedprintable.NewWriter(part)
		qp.Write([]byte(strings.ReplaceAll(p.body, "\n", "\r\n")))
		if err := qp.Close(); err != nil {
			return err
		}
	}
	return nil
}

// base64Lines encodes data in base64 lines of 76 characters, as MIME requires.
func base64Lines(data []byte) []byte {
	const line = 76
	enc := make([]byte, (len(data)+2)/3*4)
	base64.StdEncoding.Encode(enc, data)
	var out bytes.Buffer
	for len(enc) > line {
		out.Write(enc[:line])
		out.WriteString("\r\n")
		enc = enc[line:]
	}
	out.Write(enc)
	out.WriteString("\r\n")
	return out.Bytes()
}
