package testutil

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server (emersion/go-smtp) on loopback that requires a PLAIN login with one
// user and password and keeps what it receives.
type Mailbox struct {
	user, pass string

	mu    sync.Mutex
	mails []string
	tls   []bool
}

// StartSMTP starts a Mailbox on a free loopback port until the test ends and returns it with the
// port. With tlsCfg it offers STARTTLS; without, it takes the login in plain text (loopback only).
func StartSMTP(t testing.TB, user, pass string, tlsCfg *tls.Config) (*Mailbox, int) {
	t.Helper()
	box := &Mailbox{user: user, pass: pass}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.TLSConfig = tlsCfg
	srv.AllowInsecureAuth = tlsCfg == nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return box, ln.Addr().(*net.TCPAddr).Port
}

// Messages returns the messages received so far.
func (m *Mailbox) Messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.mails...)
}

// TLS tells for each message received so far whether it came over TLS.
func (m *Mailbox) TLS() []bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]bool(nil), m.tls...)
}

func (m *Mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{box: m, conn: c}, nil
}

type mailSession struct {
	box    *Mailbox
	conn   *smtp.Conn
	authed bool
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.box.user || pass != s.box.pass {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *mailSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.box.mu.Lock()
	s.box.mails = append(s.box.mails, string(b))
	s.box.tls = append(s.box.tls, isTLS)
	s.box.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }
