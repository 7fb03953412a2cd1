package xades

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const (
	testNIP       = "5265877635"
	testChallenge = "20261122-CR-0123456789-ABCDEF0123-AB"
)

// testCreds generates a certificate and key, writes them as PEM into a temp dir and loads them back
// through LoadPEM, as the daemon would.
type testCreds struct {
	creds             *Credentials
	certFile, keyFile string
	certPEM, keyPEM   []byte
	dir               string
}

func newTestCreds(t *testing.T, keyType, nip string) testCreds {
	t.Helper()
	certPEM, keyPEM, err := GenerateTestCertificate(TestCertOptions{NIP: nip, KeyType: keyType, CommonName: "Test " + keyType})
	if err != nil {
		t.Fatalf("GenerateTestCertificate: %v", err)
	}
	dir := t.TempDir()
	certFile := writeFile(t, dir, "cert.pem", certPEM)
	keyFile := writeFile(t, dir, "key.pem", keyPEM)
	creds, err := LoadPEM(certFile, keyFile, nil)
	if err != nil {
		t.Fatalf("LoadPEM: %v", err)
	}
	return testCreds{creds: creds, certFile: certFile, keyFile: keyFile, certPEM: certPEM, keyPEM: keyPEM, dir: dir}
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func signedRequest(t *testing.T, creds *Credentials) []byte {
	t.Helper()
	doc := BuildAuthTokenRequest(testChallenge, "Nip", testNIP, "")
	signed, err := Sign(doc, creds, time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return signed
}

func wantVerifyCode(t *testing.T, doc []byte, code int) *VerifyError {
	t.Helper()
	_, err := VerifyAuthTokenRequest(doc, time.Now())
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("VerifyAuthTokenRequest error = %v, want *VerifyError %d", err, code)
	}
	if ve.Code != code {
		t.Fatalf("VerifyAuthTokenRequest code = %d (%s), want %d", ve.Code, ve.Description, code)
	}
	return ve
}

func parseCertPEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
