package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server (emersion/go-smtp) requiring login, optionally with STARTTLS.
type smtpServer struct {
	mu    sync.Mutex
	mails []string
	tls   []bool
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	ok   bool
}

func (s *smtpServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{srv: s, conn: c}, nil
}
func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, u, p string) error {
		if u != "bot" || p != "pw" {
			return errors.New("invalid")
		}
		s.ok = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	if !s.ok {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, string(b))
	s.srv.tls = append(s.srv.tls, isTLS)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func (s *smtpServer) got() ([]string, []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mails...), append([]bool(nil), s.tls...)
}

func startSMTP(t *testing.T, tlsCfg *tls.Config) (*smtpServer, int) {
	t.Helper()
	box := &smtpServer{}
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

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// STARTTLS is the default: the message and the password travel only inside TLS.
func TestEmailStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	box, port := startSMTP(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	e := &Email{Host: "127.0.0.1", Port: port, User: "bot", Password: "pw", StartTLS: true,
		From: "ksef@example.pl", To: []string{"a@example.pl", "b@example.pl"},
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	m := Compose("", []Event{{Kind: Rejected, File: "FV_Łódź.xml", Code: "not-xml"}}, 1)
	if err := e.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mails, isTLS := box.got()
	if len(mails) != 1 || !isTLS[0] {
		t.Fatalf("%d mails, tls %v", len(mails), isTLS)
	}
	for _, want := range []string{"Subject: ksef-sync: 1 rejected\r\n", "To: a@example.pl, b@example.pl",
		"\r\n\r\nrejected: FV_Łódź.xml [not-xml]\r\n"} {
		if !strings.Contains(mails[0], want) {
			t.Errorf("mail lacks %q:\n%s", want, mails[0])
		}
	}
}

// A server without STARTTLS is refused unless smtp_starttls = false: the password is not sent in clear.
func TestEmailRefusesPlainServerByDefault(t *testing.T) {
	box, port := startSMTP(t, nil)
	e := &Email{Host: "127.0.0.1", Port: port, User: "bot", Password: "pw", StartTLS: true, From: "k@example.pl", To: []string{"a@example.pl"}}
	err := e.Send(context.Background(), Compose("", []Event{{Kind: Stalled}}, 1))
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("err = %v", err)
	}
	e.StartTLS = false
	if err := e.Send(context.Background(), Compose("", []Event{{Kind: Stalled}}, 1)); err != nil {
		t.Fatal(err)
	}
	if mails, _ := box.got(); len(mails) != 1 {
		t.Errorf("%d mails", len(mails))
	}
}
