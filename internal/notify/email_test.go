package notify

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key := testutil.ECKey(t, elliptic.P256())
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
	box, port := testutil.StartSMTP(t, "bot", "pw", &tls.Config{Certificates: []tls.Certificate{cert}})
	e := &Email{Host: "127.0.0.1", Port: port, User: "bot", Password: "pw", StartTLS: true,
		From: "ksef@example.pl", To: []string{"a@example.pl", "b@example.pl"},
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	m := Compose("", []Event{{Kind: Rejected, File: "FV_Łódź.xml", Code: "not-xml"}}, 1)
	if err := e.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	mails, isTLS := box.Messages(), box.TLS()
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
	box, port := testutil.StartSMTP(t, "bot", "pw", nil)
	e := &Email{Host: "127.0.0.1", Port: port, User: "bot", Password: "pw", StartTLS: true, From: "k@example.pl", To: []string{"a@example.pl"}}
	err := e.Send(context.Background(), Compose("", []Event{{Kind: Stalled}}, 1))
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("err = %v", err)
	}
	e.StartTLS = false
	if err := e.Send(context.Background(), Compose("", []Event{{Kind: Stalled}}, 1)); err != nil {
		t.Fatal(err)
	}
	if mails := box.Messages(); len(mails) != 1 {
		t.Errorf("%d mails", len(mails))
	}
}
