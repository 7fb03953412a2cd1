package xades

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func certWithSubject(t *testing.T, subject pkix.Name) *x509.Certificate {
	t.Helper()
	key := testutil.ECKey(t, elliptic.P256())
	return testutil.SelfSignedCert(t, key, subject, 7, 0)
}

func TestCertificateNIP(t *testing.T) {
	orgID := func(v string) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 97}, Value: v}}
	}
	cases := []struct {
		name    string
		subject pkix.Name
		want    string
		ok      bool
	}{
		{"TINPL personal", pkix.Name{CommonName: "Jan", SerialNumber: "TINPL-5265877635"}, "5265877635", true},
		{"NIP- personal", pkix.Name{SerialNumber: "NIP-5265877635"}, "5265877635", true},
		{"NIP personal", pkix.Name{SerialNumber: "NIP5265877635"}, "5265877635", true},
		{"VATPL seal", pkix.Name{Organization: []string{"Firma"}, ExtraNames: orgID("VATPL-5265877635")}, "5265877635", true},
		{"PESEL only", pkix.Name{SerialNumber: "PNOPL-90010112345"}, "", false},
		{"foreign VAT", pkix.Name{ExtraNames: orgID("VATDE-123456789")}, "", false},
		{"NIP in CN is not enough", pkix.Name{CommonName: "TINPL-5265877635"}, "", false},
		{"invalid NIP shape", pkix.Name{SerialNumber: "TINPL-0265877635"}, "", false},
		{"too long", pkix.Name{SerialNumber: "TINPL-52658776351"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := CertificateNIP(certWithSubject(t, c.subject))
			if got != c.want || ok != c.ok {
				t.Errorf("CertificateNIP = %q, %v; want %q, %v", got, ok, c.want, c.ok)
			}
		})
	}
	if _, ok := CertificateNIP(nil); ok {
		t.Error("CertificateNIP(nil) reported a NIP")
	}
}

func TestIsSelfSigned(t *testing.T) {
	genuine := certWithSubject(t, pkix.Name{CommonName: "genuine"})
	if !IsSelfSigned(genuine) {
		t.Error("IsSelfSigned rejected a self-signed end-entity certificate")
	}
	other := certWithSubject(t, pkix.Name{CommonName: "other"})
	forged := *genuine
	forged.PublicKey = other.PublicKey // the signature no longer verifies with the embedded key
	if IsSelfSigned(&forged) || IsSelfSigned(nil) {
		t.Error("IsSelfSigned accepted a certificate whose signature does not verify")
	}
}

func TestGenerateTestCertificate(t *testing.T) {
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, keyType := range []string{"rsa", "ecdsa"} {
		t.Run(keyType, func(t *testing.T) {
			certPEM, keyPEM, err := GenerateTestCertificate(TestCertOptions{NIP: testNIP, KeyType: keyType, CommonName: "Firma Testowa", NotBefore: notBefore, NotAfter: notBefore.AddDate(1, 0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(keyPEM), "-----BEGIN PRIVATE KEY-----") {
				t.Error("key is not unencrypted PKCS#8 PEM")
			}
			cert := parseCertPEM(t, certPEM)
			if !IsSelfSigned(cert) {
				t.Error("IsSelfSigned = false for a generated certificate")
			}
			if nip, ok := CertificateNIP(cert); !ok || nip != testNIP {
				t.Errorf("CertificateNIP = %q, %v", nip, ok)
			}
			subject := cert.Subject.String()
			for _, want := range []string{"CN=Firma Testowa", "O=Firma Testowa", "C=PL", "SERIALNUMBER=TINPL-" + testNIP} {
				if !strings.Contains(subject, want) {
					t.Errorf("subject %q lacks %q", subject, want)
				}
			}
			var orgID string
			for _, n := range cert.Subject.Names {
				if n.Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 97}) {
					orgID, _ = n.Value.(string)
				}
			}
			if orgID != "VATPL-"+testNIP {
				t.Errorf("organizationIdentifier = %q", orgID)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
				t.Errorf("KeyUsage = %v", cert.KeyUsage)
			}
			if !cert.NotBefore.Equal(notBefore) || !cert.NotAfter.Equal(notBefore.AddDate(1, 0, 0)) {
				t.Errorf("validity %v..%v", cert.NotBefore, cert.NotAfter)
			}
		})
	}
	if _, _, err := GenerateTestCertificate(TestCertOptions{NIP: "123"}); err == nil {
		t.Error("invalid NIP accepted")
	}
	if _, _, err := GenerateTestCertificate(TestCertOptions{NIP: testNIP, KeyType: "dsa"}); err == nil {
		t.Error("unknown key type accepted")
	}
}

func TestFingerprintMatchesOpenSSL(t *testing.T) {
	tc := newTestCreds(t, "rsa", testNIP)
	got := Fingerprint(tc.creds.Certificate)
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "x509", "-in", tc.certFile, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatal(err)
	}
	// "sha256 Fingerprint=AB:CD:..." (the label's case differs between openssl versions)
	_, hexColons, found := strings.Cut(strings.TrimSpace(string(out)), "=")
	if !found {
		t.Fatalf("unexpected openssl output %q", out)
	}
	if want := strings.ReplaceAll(hexColons, ":", ""); got != want {
		t.Errorf("Fingerprint = %s, openssl says %s", got, want)
	}
}
