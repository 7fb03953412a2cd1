package ksef

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// offlineCert makes a certificate like the ones KSeF issues: type Offline carries nonRepudiation,
// type Authentication digitalSignature.
func offlineCert(t *testing.T, key crypto.Signer, usage x509.KeyUsage) *x509.Certificate {
	return testutil.SelfSignedCert(t, key, pkix.Name{CommonName: "Offline 5265877635"}, 0x01F20A5D352AE590, usage)
}

// TestKODIIVerifiesIndependently checks the link with Go's crypto and the certificate alone, not
// with our signing code: the signed string, PSS with salt 32 for RSA, P1363 R||S for ECDSA.
func TestKODIIVerifiesIndependently(t *testing.T) {
	hash := sha256.Sum256([]byte("<Faktura/>"))
	rsaKey := testutil.RSAKey(t, 2048)
	ecKey := testutil.ECKey(t, elliptic.P256())
	for name, key := range map[string]crypto.Signer{"rsa-pss": rsaKey, "ecdsa-p256": ecKey} {
		t.Run(name, func(t *testing.T) {
			cert := offlineCert(t, key, x509.KeyUsageContentCommitment)
			s, err := NewOfflineSigner(cert, key)
			if err != nil {
				t.Fatal(err)
			}
			link, err := s.QRCodeII("https://qr-test.ksef.mf.gov.pl/", "Nip", "5265877635", "5265877635", hash[:])
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := "https://qr-test.ksef.mf.gov.pl/certificate/Nip/5265877635/5265877635/01F20A5D352AE590/" + base64.RawURLEncoding.EncodeToString(hash[:]) + "/"
			if !strings.HasPrefix(link, wantPrefix) {
				t.Fatalf("link %s\nwant prefix %s", link, wantPrefix)
			}
			testutil.VerifyKodII(t, link, cert)
		})
	}
}

// TestKODIISerialKeepsItsLeadingZeros: KSeF writes a certificate's serial number as 16 hex digits
// (open-api.json certificateSerialNumber, "^[0-9A-F]{16}$"); one whose first byte is 0 must not lose
// it, or the link names no certificate KSeF knows.
func TestKODIISerialKeepsItsLeadingZeros(t *testing.T) {
	key := testutil.ECKey(t, elliptic.P256())
	cert := testutil.SelfSignedCert(t, key, pkix.Name{CommonName: "Offline 5265877635"}, 0x00F20A5D352AE590, x509.KeyUsageContentCommitment)
	s, err := NewOfflineSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256([]byte("<Faktura/>"))
	link, err := s.QRCodeII("https://qr-test.ksef.mf.gov.pl", "Nip", "5265877635", "5265877635", hash[:])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(link, "/5265877635/00F20A5D352AE590/") {
		t.Fatalf("link %s: want the serial as 16 hex digits, 00F20A5D352AE590", link)
	}
	testutil.VerifyKodII(t, link, cert)
}

func TestKODIIRefusesAuthenticationCertificates(t *testing.T) {
	key := testutil.ECKey(t, elliptic.P256())
	auth := offlineCert(t, key, x509.KeyUsageDigitalSignature)
	if _, err := NewOfflineSigner(auth, key); !errors.Is(err, ErrNotOfflineCertificate) {
		t.Errorf("an Authentication certificate: err %v, want ErrNotOfflineCertificate", err)
	}
	other := testutil.ECKey(t, elliptic.P256())
	if _, err := NewOfflineSigner(offlineCert(t, key, x509.KeyUsageContentCommitment), other); err == nil {
		t.Error("a key that does not belong to the certificate was accepted")
	}
	p384 := testutil.ECKey(t, elliptic.P384())
	if _, err := NewOfflineSigner(offlineCert(t, p384, x509.KeyUsageContentCommitment), p384); err == nil {
		t.Error("a P-384 key was accepted")
	}
}
