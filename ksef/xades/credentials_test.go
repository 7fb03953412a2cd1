package xades

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

const testPassword = "S3cret-Pa55!"

func TestLoadCredentials(t *testing.T) {
	rsaTC := newTestCreds(t, "rsa", testNIP)
	ecTC := newTestCreds(t, "ecdsa", testNIP)
	dir := t.TempDir()
	pw := []byte(testPassword)

	rsaKey := rsaTC.creds.Key.(*rsa.PrivateKey)
	ecKey := ecTC.creds.Key.(*ecdsa.PrivateKey)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	encPKCS8, err := EncryptPKCS8PEM(rsaTC.keyPEM, pw)
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // legacy encryption is what we need to read
	legacyBlock, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), pw, x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(ecKey, ecTC.creds.Certificate, nil, testPassword)
	if err != nil {
		t.Fatal(err)
	}

	files := map[string]string{
		"pkcs1":   writeFile(t, dir, "pkcs1.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})),
		"sec1":    writeFile(t, dir, "sec1.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})),
		"pkcs8e":  writeFile(t, dir, "pkcs8-enc.pem", encPKCS8),
		"legacy":  writeFile(t, dir, "legacy.pem", pem.EncodeToMemory(legacyBlock)),
		"p12":     writeFile(t, dir, "cred.p12", p12),
		"both":    writeFile(t, dir, "both.pem", append(append([]byte{}, rsaTC.certPEM...), rsaTC.keyPEM...)),
		"garbage": writeFile(t, dir, "garbage.pem", []byte("not a key")),
	}

	cases := []struct {
		name      string
		load      func() (*Credentials, error)
		wantCert  *x509.Certificate
		wantKind  string
		wantInMsg string
	}{
		{name: "PKCS#8 RSA", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, rsaTC.keyFile, nil) }, wantCert: rsaTC.creds.Certificate},
		{name: "PKCS#8 ECDSA", load: func() (*Credentials, error) { return LoadPEM(ecTC.certFile, ecTC.keyFile, nil) }, wantCert: ecTC.creds.Certificate},
		{name: "PKCS#1", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["pkcs1"], nil) }, wantCert: rsaTC.creds.Certificate},
		{name: "SEC1", load: func() (*Credentials, error) { return LoadPEM(ecTC.certFile, files["sec1"], nil) }, wantCert: ecTC.creds.Certificate},
		{name: "encrypted PKCS#8", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["pkcs8e"], pw) }, wantCert: rsaTC.creds.Certificate},
		{name: "legacy encrypted PEM", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["legacy"], pw) }, wantCert: rsaTC.creds.Certificate},
		{name: "PKCS#12 modern", load: func() (*Credentials, error) { return LoadPKCS12(files["p12"], pw) }, wantCert: ecTC.creds.Certificate},
		{name: "cert and key in one file", load: func() (*Credentials, error) { return LoadPEM(files["both"], "", nil) }, wantCert: rsaTC.creds.Certificate},

		{name: "encrypted PKCS#8 wrong password", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["pkcs8e"], []byte("wrong")) }, wantKind: KindWrongPassword, wantInMsg: "wrong key password for pkcs8-enc.pem"},
		{name: "encrypted PKCS#8 no password", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["pkcs8e"], nil) }, wantKind: KindWrongPassword},
		{name: "legacy wrong password", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["legacy"], []byte("wrong")) }, wantKind: KindWrongPassword, wantInMsg: "legacy.pem"},
		{name: "PKCS#12 wrong password", load: func() (*Credentials, error) { return LoadPKCS12(files["p12"], []byte("wrong")) }, wantKind: KindWrongPassword, wantInMsg: "cred.p12"},
		{name: "key of another certificate", load: func() (*Credentials, error) { return LoadPEM(ecTC.certFile, rsaTC.keyFile, nil) }, wantKind: KindKeyMismatch},
		{name: "missing certificate file", load: func() (*Credentials, error) { return LoadPEM(filepath.Join(dir, "nope.pem"), rsaTC.keyFile, nil) }, wantKind: KindNotFound},
		{name: "missing PKCS#12 file", load: func() (*Credentials, error) { return LoadPKCS12(filepath.Join(dir, "nope.p12"), pw) }, wantKind: KindNotFound},
		{name: "garbage key", load: func() (*Credentials, error) { return LoadPEM(rsaTC.certFile, files["garbage"], nil) }, wantKind: KindBadFile},
		{name: "garbage certificate", load: func() (*Credentials, error) { return LoadPEM(files["garbage"], rsaTC.keyFile, nil) }, wantKind: KindBadFile},
		{name: "garbage PKCS#12", load: func() (*Credentials, error) { return LoadPKCS12(files["garbage"], pw) }, wantKind: KindBadFile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds, err := c.load()
			if c.wantKind != "" {
				var ce *CredentialError
				if !errors.As(err, &ce) {
					t.Fatalf("error = %v, want *CredentialError %s", err, c.wantKind)
				}
				if ce.Kind != c.wantKind {
					t.Errorf("Kind = %q (%s), want %q", ce.Kind, ce.Msg, c.wantKind)
				}
				if !strings.Contains(ce.Error(), c.wantInMsg) {
					t.Errorf("message %q does not contain %q", ce.Error(), c.wantInMsg)
				}
				if strings.Contains(ce.Error(), testPassword) || strings.Contains(ce.Error(), "wrong\"") {
					t.Errorf("message %q leaks the password", ce.Error())
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if !creds.Certificate.Equal(c.wantCert) {
				t.Fatal("loaded the wrong certificate")
			}
			// The loaded key must actually sign something the certificate verifies.
			if _, err := VerifyAuthTokenRequest(signedRequest(t, creds), time.Now()); err != nil {
				t.Fatalf("signature with loaded credentials rejected: %v", err)
			}
		})
	}
}

func TestLoadPEMChainPicksLeaf(t *testing.T) {
	leaf := newTestCreds(t, "ecdsa", testNIP)
	other := newTestCreds(t, "rsa", "1111111111")
	// CA-ish certificate first: the leaf is the one matching the key, not the first block.
	bundle := writeFile(t, leaf.dir, "bundle.pem", append(append([]byte{}, other.certPEM...), leaf.certPEM...))
	creds, err := LoadPEM(bundle, leaf.keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !creds.Certificate.Equal(leaf.creds.Certificate) || len(creds.Chain) != 1 || !creds.Chain[0].Equal(other.creds.Certificate) {
		t.Fatalf("leaf/chain not separated: leaf %s, chain %d", creds.Certificate.Subject, len(creds.Chain))
	}
}

func TestLoadRejectsWeakKeys(t *testing.T) {
	dir := t.TempDir()
	weakRSA := testutil.RSAKey(t, 1024)
	p224 := testutil.ECKey(t, elliptic.P224())
	for name, key := range map[string]any{"rsa1024": weakRSA, "p224": p224} {
		t.Run(name, func(t *testing.T) {
			certPEM, keyPEM := selfSigned(t, key)
			_, err := LoadPEM(writeFile(t, dir, name+".crt", certPEM), writeFile(t, dir, name+".key", keyPEM), nil)
			var ce *CredentialError
			if !errors.As(err, &ce) || ce.Kind != KindUnsupportedKey {
				t.Fatalf("error = %v, want unsupported-key", err)
			}
		})
	}
}

func selfSigned(t *testing.T, key any) (certPEM, keyPEM []byte) {
	t.Helper()
	pub := key.(crypto.Signer).Public()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// TestOpenSSLCredentialInterop loads what openssl writes (PBES2 PKCS#8, legacy PEM, PKCS#12) and
// checks that openssl reads our encrypted PKCS#8.
func TestOpenSSLCredentialInterop(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	tc := newTestCreds(t, "ecdsa", testNIP)
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	passArg := "pass:" + testPassword
	for _, cipher := range []string{"aes-256-cbc", "aes-128-cbc", "des3"} {
		t.Run("openssl "+cipher, func(t *testing.T) {
			enc := run("pkcs8", "-topk8", "-v2", cipher, "-in", tc.keyFile, "-passout", passArg)
			encFile := writeFile(t, tc.dir, "enc-"+cipher+".pem", enc)
			creds, err := LoadPEM(tc.certFile, encFile, []byte(testPassword))
			if err != nil {
				t.Fatalf("LoadPEM(openssl %s): %v", cipher, err)
			}
			if !creds.Certificate.Equal(tc.creds.Certificate) {
				t.Fatal("wrong certificate")
			}
		})
	}
	t.Run("openssl legacy SEC1", func(t *testing.T) {
		legacy := run("ec", "-in", tc.keyFile, "-aes256", "-passout", passArg)
		if !strings.Contains(string(legacy), "Proc-Type: 4,ENCRYPTED") {
			t.Fatalf("openssl did not write a legacy encrypted key:\n%s", legacy)
		}
		file := writeFile(t, tc.dir, "legacy-ec.pem", legacy)
		if _, err := LoadPEM(tc.certFile, file, []byte(testPassword)); err != nil {
			t.Fatalf("LoadPEM(openssl legacy): %v", err)
		}
	})
	t.Run("openssl PKCS#12", func(t *testing.T) {
		p12 := filepath.Join(tc.dir, "openssl.p12")
		run("pkcs12", "-export", "-in", tc.certFile, "-inkey", tc.keyFile, "-passout", passArg, "-out", p12)
		creds, err := LoadPKCS12(p12, []byte(testPassword))
		if err != nil {
			t.Fatalf("LoadPKCS12(openssl): %v", err)
		}
		if !creds.Certificate.Equal(tc.creds.Certificate) {
			t.Fatal("wrong certificate")
		}
		_, err = LoadPKCS12(p12, []byte("nope"))
		var ce *CredentialError
		if !errors.As(err, &ce) || ce.Kind != KindWrongPassword {
			t.Fatalf("wrong password: %v", err)
		}
	})
	t.Run("openssl reads ours", func(t *testing.T) {
		ours, err := EncryptPKCS8PEM(tc.keyPEM, []byte(testPassword))
		if err != nil {
			t.Fatal(err)
		}
		file := writeFile(t, tc.dir, "ours.pem", ours)
		plain := run("pkcs8", "-in", file, "-passin", passArg, "-nocrypt", "-topk8")
		if string(plain) != string(tc.keyPEM) {
			t.Fatalf("openssl decrypted a different key:\n%s", plain)
		}
	})
}
