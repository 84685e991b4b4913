package notify_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailbox is a real SMTP server, inside the test, that keeps what it receives.
type mailbox struct {
	addr     string
	username string // when set, clients must authenticate with PLAIN
	password string

	mu   sync.Mutex
	msgs []received
	// reject, when set, answers DATA of the nth message (from 1) with an error.
	reject func(n int) error
	tries  int
}

// received is one message as the server got it.
type received struct {
	From, To string
	Raw      []byte
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	b := &mailbox{}
	s := smtp.NewServer(b)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return b
}

func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{box: b}, nil }

func (b *mailbox) tryCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tries
}

func (b *mailbox) setReject(f func(n int) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reject = f
}

// messages returns what arrived so far.
func (b *mailbox) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type session struct {
	box      *mailbox
	authed   bool
	from, to string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.box.username || password != s.box.password {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.box.username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	s.box.tries++
	if s.box.reject != nil {
		if err := s.box.reject(s.box.tries); err != nil {
			return err
		}
	}
	s.box.msgs = append(s.box.msgs, received{From: s.from, To: s.to, Raw: raw})
	return nil
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// parsedMail is a received message taken apart.
type parsedMail struct {
	Header      mail.Header
	Subject     string
	Text, HTML  string
	Attachments map[string][]byte // by file name
	Alternative bool              // the text and HTML are alternatives of one another
}

func parseMail(t *testing.T, m received) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	p := parsedMail{Header: msg.Header, Attachments: map[string][]byte{}}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject: %v", err)
	}
	var walk func(contentType string, body io.Reader)
	walk = func(contentType string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(contentType)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", contentType, err)
		}
		if mt == "multipart/alternative" {
			p.Alternative = true
		}
		if !strings.HasPrefix(mt, "multipart/") {
			t.Fatalf("unexpected single part %s", mt)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("NextPart: %v", err)
			}
			ct := part.Header.Get("Content-Type")
			pt, _, _ := mime.ParseMediaType(ct)
			// multipart.Reader undoes quoted-printable by itself; base64 is ours to undo.
			data, err := io.ReadAll(part)
			if err != nil {
				t.Fatalf("read part: %v", err)
			}
			switch {
			case strings.HasPrefix(pt, "multipart/"):
				walk(ct, bytes.NewReader(data))
			case part.FileName() != "":
				dec, err := decodeBase64(data)
				if err != nil {
					t.Fatalf("attachment %s: %v", part.FileName(), err)
				}
				p.Attachments[part.FileName()] = dec
			case pt == "text/plain":
				p.Text = string(data)
			case pt == "text/html":
				p.HTML = string(data)
			}
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Body)
	return p
}
