package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
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

// VerifyKodII checks the signature that ends a KOD II link with Go's crypto and the certificate
// alone, independently of ksef.OfflineSigner: RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) or ECDSA
// P-256 as R||S, over the link without "https://" up to its last "/" (kody-qr.md).
func VerifyKodII(t testing.TB, link string, cert *x509.Certificate) {
	t.Helper()
	cut := strings.LastIndex(link, "/")
	sig, err := base64.RawURLEncoding.DecodeString(link[cut+1:])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(strings.TrimPrefix(link[:cut], "https://")))
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}); err != nil {
			t.Errorf("KOD II RSA-PSS signature does not verify: %v", err)
		}
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			t.Errorf("KOD II ECDSA signature is %d bytes, want 64 (R||S)", len(sig))
		} else if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Error("KOD II ECDSA signature does not verify")
		}
	default:
		t.Fatalf("KOD II signed with a %T key", pub)
	}
}
