package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestQRCodesWhileKSeFIsDown: with folders.qr and an Offline certificate, invoices dropped while
// KSeF does not answer get .qr.json, KOD I and KOD II at once; KOD II verifies against the
// certificate with Go's crypto; when KSeF is back every invoice is accepted once.
func TestQRCodesWhileKSeFIsDown(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	qrDir, cert := withQR(t, e) // offline_e2e_test.go

	e.sim.SetFaults(ksefsim.Faults{Outage: true})
	_, lines := e.daemon()
	keepLog(t, lines)
	const n = 5
	e.dropSeries("FV_%d.xml", n, 0, "QR")
	eventually(t, "QR files for every invoice while KSeF is down", 2*time.Minute, func() bool {
		return len(globQuiet(qrDir, "*.qr.json")) == n
	})
	if got := len(glob(t, e.sent, "*.ksef.json")); got != 0 {
		t.Fatalf("%d invoices registered while KSeF was down", got)
	}
	for i := range n {
		stem := filepath.Join(qrDir, fmt.Sprintf("FV_%d", i))
		var links struct{ KodI, KodII, SellerNip, IssueDate, InvoiceHash string }
		if err := json.Unmarshal(testutil.ReadFile(t, stem+".qr.json"), &links); err != nil {
			t.Fatal(err)
		}
		if got := testutil.QRCodes(t, stem+".kod1.png"); !slices.Equal(got, []string{links.KodI}) {
			t.Errorf("kod1.png reads %q, want %q", got, links.KodI)
		}
		if got := testutil.QRCodes(t, stem+".kod2.png"); !slices.Equal(got, []string{links.KodII}) {
			t.Errorf("kod2.png reads %q, want %q", got, links.KodII)
		}
		verifyKODII(t, cert, links.KodII)
	}

	e.sim.SetFaults(ksefsim.Faults{})
	waitForOutputs(t, e, n, 3*time.Minute)
	for name, rec := range e.sentRecords() {
		var links struct{ KodI string }
		stem := strings.TrimSuffix(name, ".ksef.json")
		if err := json.Unmarshal(testutil.ReadFile(t, filepath.Join(qrDir, stem+".qr.json")), &links); err != nil {
			t.Fatal(err)
		}
		if links.KodI != rec.QRCodeI {
			t.Errorf("%s: KOD I printed during the outage %s differs from the registered %s", stem, links.KodI, rec.QRCodeI)
		}
	}
	if st := e.sim.Stats(); st.DuplicateSubmissions != 0 || len(st.Accepted) != n {
		t.Errorf("accepted %d (want %d), duplicate submissions %d", len(st.Accepted), n, st.DuplicateSubmissions)
	}
}

// verifyKODII checks the link's signature with the certificate alone: SHA-256 over the link up to
// the hash without https://, ECDSA P-256 as R||S.
func verifyKODII(t *testing.T, cert *x509.Certificate, link string) {
	t.Helper()
	cut := strings.LastIndex(link, "/")
	sig, err := base64.RawURLEncoding.DecodeString(link[cut+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("KOD II signature %q: %v", link[cut+1:], err)
	}
	digest := sha256.Sum256([]byte(strings.TrimPrefix(link[:cut], "https://")))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(cert.PublicKey.(*ecdsa.PublicKey), digest[:], r, s) {
		t.Errorf("KOD II does not verify against the Offline certificate: %s", link)
	}
}

// offlineCertificate makes a certificate of KSeF's type Offline (key usage nonRepudiation).
func offlineCertificate(t *testing.T) (*x509.Certificate, []byte, []byte) {
	t.Helper()
	key := testutil.ECKey(t, elliptic.P256())
	cert := testutil.SelfSignedCert(t, key, pkix.Name{CommonName: "Offline " + testNIP}, 0x01F20A5D352AE590, testutil.OfflineUsage)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
}

func globQuiet(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	return m
}
