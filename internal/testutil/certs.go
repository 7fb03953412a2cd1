package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// KSeF's certificate types are told apart by key usage (certyfikaty-KSeF.md).
const (
	OfflineUsage        = x509.KeyUsageContentCommitment // type Offline: signs KOD II
	AuthenticationUsage = x509.KeyUsageDigitalSignature  // type Authentication: logs in
)

// SelfSignedCert makes a certificate for key, valid from an hour ago for a day, with the given
// subject, serial number and key usage, as the tests of KSeF certificates need.
func SelfSignedCert(t testing.TB, key crypto.Signer, subject pkix.Name, serial int64, usage x509.KeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: usage}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// ECKey makes a fresh ECDSA key on curve.
func ECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// RSAKey makes a fresh RSA key of the given size.
func RSAKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
