package qrfiles

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"software.sslmate.com/src/go-pkcs12"
)

const (
	qrBase = "https://qr-test.ksef.mf.gov.pl"
	nip    = "5265877635"
)

var invoiceXML = []byte(`<?xml version="1.0" encoding="UTF-8"?><Faktura><P_1>2026-12-02</P_1><P_2>FV/1/12/2026</P_2></Faktura>`)

func testInvoice() Invoice {
	return Invoice{Stem: "FV_1_12_2026", XML: invoiceXML, SellerNIP: nip,
		IssueDate: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), QRBase: qrBase, ContextType: "Nip", ContextValue: nip}
}

// newCertSerial is newCert's serial number, 0x0123ABCDEF, as KSeF writes one in KOD II: 16 hex
// digits (open-api.json certificateSerialNumber).
const newCertSerial = "0000000123ABCDEF"

// newCert makes a self-signed certificate with the key usage KSeF uses to mark its type
// (certyfikaty-KSeF.md): Offline = nonRepudiation, Authentication = digitalSignature.
func newCert(t *testing.T, key crypto.Signer, usage x509.KeyUsage) *x509.Certificate {
	return testutil.SelfSignedCert(t, key, pkix.Name{CommonName: "Offline " + nip, SerialNumber: "VATPL-" + nip}, 0x0123ABCDEF, usage)
}

func writePEM(t *testing.T, dir string, cert *x509.Certificate, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "offline.crt"), filepath.Join(dir, "offline.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestWriteWithOfflineCertificate(t *testing.T) {
	rsaKey := testutil.RSAKey(t, 2048)
	ecKey := testutil.ECKey(t, elliptic.P256())
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		p12  bool
	}{{"RSA-PSS, PEM", rsaKey, false}, {"ECDSA P-256, PKCS#12", ecKey, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cert := newCert(t, tc.key, x509.KeyUsageContentCommitment)
			var signer *ksef.OfflineSigner
			var err error
			if tc.p12 {
				p12, err := pkcs12.Modern.Encode(tc.key, cert, nil, "tajne")
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(dir, "offline.p12")
				if err := os.WriteFile(f, p12, 0o600); err != nil {
					t.Fatal(err)
				}
				signer, err = LoadSigner("", "", f, []byte("tajne"))
				if err != nil {
					t.Fatal(err)
				}
			} else {
				cf, kf := writePEM(t, dir, cert, tc.key)
				signer, err = LoadSigner(cf, kf, "", nil)
				if err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(dir, "qr")
			links, err := Write(out, testInvoice(), signer)
			if err != nil {
				t.Fatal(err)
			}
			assertFiles(t, out, "FV_1_12_2026.kod1.png", "FV_1_12_2026.kod2.png", "FV_1_12_2026.qr.json")

			var got Links
			readJSON(t, filepath.Join(out, "FV_1_12_2026.qr.json"), &got)
			if got != links {
				t.Errorf(".qr.json = %+v, want %+v", got, links)
			}
			sum := sha256.Sum256(invoiceXML)
			wantI := qrBase + "/invoice/" + nip + "/02-12-2026/" + base64.RawURLEncoding.EncodeToString(sum[:])
			if got.KodI != wantI || got.SellerNIP != nip || got.IssueDate != "2026-12-02" || got.InvoiceHash != base64.StdEncoding.EncodeToString(sum[:]) {
				t.Errorf(".qr.json = %+v, want kodI %s", got, wantI)
			}
			verifyKodII(t, got.KodII, cert, sum[:])
			assertDecodes(t, filepath.Join(out, "FV_1_12_2026.kod1.png"), got.KodI)
			assertDecodes(t, filepath.Join(out, "FV_1_12_2026.kod2.png"), got.KodII)
		})
	}
}

// verifyKodII checks the link's parts, up to the invoice hash, and then its signature with
// testutil.VerifyKodII.
func verifyKodII(t *testing.T, link string, cert *x509.Certificate, sum []byte) {
	t.Helper()
	unsigned := link[:strings.LastIndex(link, "/")]
	wantPrefix := qrBase + "/certificate/Nip/" + nip + "/" + nip + "/" + newCertSerial + "/" + base64.RawURLEncoding.EncodeToString(sum)
	if unsigned != wantPrefix {
		t.Fatalf("KOD II = %s, want it to start %s", link, wantPrefix)
	}
	testutil.VerifyKodII(t, link, cert)
}

func TestWriteWithoutCertificate(t *testing.T) {
	dir := t.TempDir()
	links, err := Write(dir, testInvoice(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if links.KodII != "" {
		t.Errorf("kodII = %q without a certificate", links.KodII)
	}
	assertFiles(t, dir, "FV_1_12_2026.kod1.png", "FV_1_12_2026.qr.json")
	raw, err := os.ReadFile(filepath.Join(dir, "FV_1_12_2026.qr.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("kodII")) {
		t.Errorf(".qr.json names kodII without a certificate: %s", raw)
	}
	assertDecodes(t, filepath.Join(dir, "FV_1_12_2026.kod1.png"), links.KodI)
}

func TestLoadSignerRefusesAuthenticationCertificate(t *testing.T) {
	key := testutil.ECKey(t, elliptic.P256())
	cf, kf := writePEM(t, t.TempDir(), newCert(t, key, x509.KeyUsageDigitalSignature), key)
	_, err := LoadSigner(cf, kf, "", nil)
	if err == nil || !strings.Contains(err.Error(), "Authentication certificate") || !strings.Contains(err.Error(), "auth.offline_cert_file") {
		t.Fatalf("err = %v, want a refusal naming the Authentication certificate and the keys to set", err)
	}
	if s, err := LoadSigner("", "", "", nil); s != nil || err != nil {
		t.Errorf("nothing configured: %v, %v", s, err)
	}
	if _, err := LoadSigner("", kf, "", nil); err == nil {
		t.Error("a key without a certificate was accepted")
	}
}

func TestWriteRefusesBadInput(t *testing.T) {
	for name, mutate := range map[string]func(*Invoice){
		"stem with a folder": func(i *Invoice) { i.Stem = "../x" },
		"empty stem":         func(i *Invoice) { i.Stem = "" },
		"no NIP":             func(i *Invoice) { i.SellerNIP = "" },
		"no issue date":      func(i *Invoice) { i.IssueDate = time.Time{} },
	} {
		inv := testInvoice()
		mutate(&inv)
		dir := t.TempDir()
		if _, err := Write(dir, inv, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
		assertFiles(t, dir)
	}
}

// TestPNGLabel: the label is drawn under the code, inside the picture, and the code still reads.
func TestPNGLabel(t *testing.T) {
	link := qrBase + "/invoice/" + nip + "/02-12-2026/abc"
	plain, err := PNG(link, "")
	if err != nil {
		t.Fatal(err)
	}
	labelled, err := PNG(link, LabelCertificate)
	if err != nil {
		t.Fatal(err)
	}
	a, err := png.Decode(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	b, err := png.Decode(bytes.NewReader(labelled))
	if err != nil {
		t.Fatal(err)
	}
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v vs %v", a.Bounds(), b.Bounds())
	}
	side := a.Bounds().Dx()
	dark := 0
	for y := side; y < b.Bounds().Dy(); y++ {
		for x := 0; x < side; x++ {
			if r, _, _, _ := b.At(x, y).RGBA(); r < 0x8000 {
				dark++
			}
			if r, _, _, _ := a.At(x, y).RGBA(); r < 0x8000 {
				t.Fatalf("unlabelled picture has ink under the code at %d,%d", x, y)
			}
		}
	}
	if dark < 200 {
		t.Errorf("only %d dark pixels under the code: no label drawn", dark)
	}
}

func assertFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	got := testutil.FileNames(t, dir)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("files in %s = %v, want %v", dir, got, want)
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// assertDecodes reads the picture with zbarimg (Debian zbar-tools), a reader independent of the
// library that drew it; testutil.Tool fails the test on CI when zbarimg is missing.
func assertDecodes(t *testing.T, file, want string) {
	t.Helper()
	if got := testutil.QRCodes(t, file); len(got) != 1 || got[0] != want {
		t.Errorf("%s reads %q, want %q", filepath.Base(file), got, want)
	}
}

func TestSignerFromConfig(t *testing.T) {
	key := testutil.ECKey(t, elliptic.P256())
	dir := t.TempDir()
	cert := newCert(t, key, x509.KeyUsageContentCommitment)
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "hasło-offline")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "offline.p12")
	if err := os.WriteFile(f, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KSEF_TEST_OFFLINE_PW", "hasło-offline")
	cfg := &config.Config{}
	if s, err := SignerFromConfig(cfg); s != nil || err != nil {
		t.Fatalf("nothing configured: %v, %v", s, err)
	}
	cfg.Auth.OfflineP12File, cfg.Auth.KeyPasswordEnv = f, "KSEF_TEST_OFFLINE_PW"
	s, err := SignerFromConfig(cfg)
	if err != nil || s == nil || !s.Cert.Equal(cert) {
		t.Fatalf("SignerFromConfig = %v, %v", s, err)
	}
	t.Setenv("KSEF_TEST_OFFLINE_PW", "Zq9-niewlasciwe")
	if _, err := SignerFromConfig(cfg); err == nil || strings.Contains(err.Error(), "Zq9") {
		t.Errorf("wrong password: err = %v (must fail without echoing the password)", err)
	}
}
