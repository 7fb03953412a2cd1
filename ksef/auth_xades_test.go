package ksef

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

const xadesTestNIP = "5265877635"

// xadesClock is the shared simulated time of the simulator and the client: the client's Sleep
// advances it instead of sleeping, and tests move it forward to make challenges stale.
type xadesClock = testutil.Clock

type xadesEnv struct {
	srv   *ksefsim.Server
	clock *xadesClock
}

func startXadesSim(t *testing.T, opts ksefsim.Options) xadesEnv {
	t.Helper()
	clock := testutil.NewClock(time.Now().UTC())
	opts.Now = clock.Now
	opts.DefaultNIP = xadesTestNIP
	srv := simtest.Start(t, opts)
	simtest.CheckSpec(t, srv)
	return xadesEnv{srv: srv, clock: clock}
}

func (e xadesEnv) client(t *testing.T, nip string, auth Authenticator) *Client {
	t.Helper()
	c, err := New(Options{
		BaseURL: e.srv.URL(), Context: ContextIdentifier{Type: "Nip", Value: nip}, Auth: auth,
		Clock: e.clock, AuthPollInterval: 50 * time.Millisecond, MaxRetries: 1,
	})
	if err != nil {
		t.Fatalf("ksef.New: %v", err)
	}
	return c
}

// xadesFiles generates a certificate for nip and writes its credentials in the formats users have.
type xadesFiles struct {
	dir, certFile, keyFile, encKeyFile, legacyKeyFile, p12File string
	cert                                                       *x509.Certificate
}

const xadesTestPassword = "correct horse battery staple"

func writeXadesFiles(t *testing.T, opts xades.TestCertOptions) xadesFiles {
	t.Helper()
	certPEM, keyPEM, err := xades.GenerateTestCertificate(opts)
	if err != nil {
		t.Fatalf("GenerateTestCertificate: %v", err)
	}
	dir := t.TempDir()
	f := xadesFiles{dir: dir}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.certFile = write("cert.pem", certPEM)
	f.keyFile = write("key.pem", keyPEM)
	enc, err := xades.EncryptPKCS8PEM(keyPEM, []byte(xadesTestPassword))
	if err != nil {
		t.Fatal(err)
	}
	f.encKeyFile = write("key-enc.pem", enc)

	creds, err := xades.LoadPEM(f.certFile, f.keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.cert = creds.Certificate
	keyDER, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(keyDER.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(key, creds.Certificate, nil, xadesTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	f.p12File = write("cred.p12", p12)
	return f
}

func loadXades(t *testing.T, f xadesFiles, format string) *xades.Credentials {
	t.Helper()
	var creds *xades.Credentials
	var err error
	switch format {
	case "pem":
		creds, err = xades.LoadPEM(f.certFile, f.keyFile, nil)
	case "pem-encrypted":
		creds, err = xades.LoadPEM(f.certFile, f.encKeyFile, []byte(xadesTestPassword))
	case "pkcs12":
		creds, err = xades.LoadPKCS12(f.p12File, []byte(xadesTestPassword))
	default:
		t.Fatalf("unknown format %s", format)
	}
	if err != nil {
		t.Fatalf("load %s: %v", format, err)
	}
	return creds
}

func TestXadesLogin(t *testing.T) {
	env := startXadesSim(t, ksefsim.Options{})
	for _, keyType := range []string{"rsa", "ecdsa"} {
		files := writeXadesFiles(t, xades.TestCertOptions{NIP: xadesTestNIP, KeyType: keyType})
		for _, format := range []string{"pem", "pem-encrypted", "pkcs12"} {
			t.Run(keyType+"/"+format, func(t *testing.T) {
				auth := XadesAuth{Credentials: loadXades(t, files, format), Now: env.clock.Now}
				c := env.client(t, xadesTestNIP, auth)
				ctx := context.Background()
				if err := c.Login(ctx); err != nil {
					t.Fatalf("Login: %v", err)
				}
				access, refresh := c.TokenExpiry()
				if !access.After(env.clock.Now()) || !refresh.After(access) {
					t.Errorf("token expiry access=%v refresh=%v", access, refresh)
				}
				// The access token must be accepted by a protected endpoint.
				if err := c.Logout(ctx); err != nil {
					t.Fatalf("Logout with the certificate session: %v", err)
				}
				if got := auth.CertificateExpiry(); !got.Equal(files.cert.NotAfter) {
					t.Errorf("CertificateExpiry = %v, want %v", got, files.cert.NotAfter)
				}
			})
		}
	}
}

func TestXadesLoginFingerprint(t *testing.T) {
	files := writeXadesFiles(t, xades.TestCertOptions{NIP: "1111111111", KeyType: "ecdsa"})
	env := startXadesSim(t, ksefsim.Options{TrustedCerts: map[string][]*x509.Certificate{xadesTestNIP: {files.cert}}})
	auth := XadesAuth{Credentials: loadXades(t, files, "pem"), SubjectIdentifierType: xades.SubjectCertificateFingerprint, Now: env.clock.Now}
	// The certificate carries another NIP: with certificateFingerprint only the registration counts.
	if err := env.client(t, xadesTestNIP, auth).Login(context.Background()); err != nil {
		t.Fatalf("fingerprint login: %v", err)
	}
}

// scriptedAuth signs like XadesAuth and then lets the test change the document or the clock before
// posting it, to produce the failures KSeF must reject.
type scriptedAuth struct {
	XadesAuth
	beforePost func(ch Challenge, signed []byte) []byte
	posted     *[]byte
}

func (a scriptedAuth) Init(ctx context.Context, c *Client, ch Challenge) (*AuthInit, error) {
	id := c.Context()
	signed, err := xades.Sign(xades.BuildAuthTokenRequest(ch.Challenge, id.Type, id.Value, a.SubjectIdentifierType), a.Credentials, a.Now())
	if err != nil {
		return nil, err
	}
	if a.beforePost != nil {
		signed = a.beforePost(ch, signed)
	}
	if a.posted != nil {
		*a.posted = signed
	}
	var out AuthInit
	if err := c.PostXML(ctx, "/auth/xades-signature", signed, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func TestXadesLoginFailures(t *testing.T) {
	env := startXadesSim(t, ksefsim.Options{})
	good := writeXadesFiles(t, xades.TestCertOptions{NIP: xadesTestNIP, KeyType: "rsa"})
	other := writeXadesFiles(t, xades.TestCertOptions{NIP: xadesTestNIP, KeyType: "ecdsa"})
	foreign := writeXadesFiles(t, xades.TestCertOptions{NIP: "1111111111", KeyType: "ecdsa"})
	now := env.clock.Now()
	expired := writeXadesFiles(t, xades.TestCertOptions{NIP: xadesTestNIP, KeyType: "ecdsa",
		NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(0, 0, -1)})

	goodCreds := loadXades(t, good, "pem")
	otherCreds := loadXades(t, other, "pem")
	cases := []struct {
		name string
		auth scriptedAuth
		code int
	}{
		{"tampered document", scriptedAuth{XadesAuth: XadesAuth{Credentials: goodCreds, Now: env.clock.Now},
			beforePost: func(ch Challenge, b []byte) []byte {
				return bytes.Replace(b, []byte("certificateSubject"), []byte("certificateFingerprint"), 1)
			}}, 9105},
		{"wrong key", scriptedAuth{XadesAuth: XadesAuth{
			Credentials: &xades.Credentials{Certificate: goodCreds.Certificate, Key: otherCreds.Key}, Now: env.clock.Now}}, 9105},
		{"unsigned document", scriptedAuth{XadesAuth: XadesAuth{Credentials: goodCreds, Now: env.clock.Now},
			beforePost: func(ch Challenge, b []byte) []byte {
				return xades.BuildAuthTokenRequest(ch.Challenge, "Nip", xadesTestNIP, "")
			}}, 9102},
		{"expired certificate", scriptedAuth{XadesAuth: XadesAuth{Credentials: loadXades(t, expired, "pem"), Now: env.clock.Now}}, 21115},
		{"stale challenge", scriptedAuth{XadesAuth: XadesAuth{Credentials: goodCreds, Now: env.clock.Now},
			beforePost: func(ch Challenge, b []byte) []byte {
				env.clock.Advance(10*time.Minute + time.Second)
				return b
			}}, 21111},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := env.client(t, xadesTestNIP, c.auth).Login(context.Background())
			requireKSeFCode(t, err, c.code)
		})
	}

	t.Run("NIP without permissions", func(t *testing.T) {
		// Another NIP's certificate that holds no permission in the context: KSeF takes the
		// signature and ends the login with 415 "Brak przypisanych uprawnień".
		err := env.client(t, xadesTestNIP, XadesAuth{Credentials: loadXades(t, foreign, "pkcs12"), Now: env.clock.Now}).Login(context.Background())
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Code != 415 || !IsCredentialsProblem(err) {
			t.Fatalf("error = %v, want authentication status 415, a credentials problem", err)
		}
	})

	t.Run("replayed challenge", func(t *testing.T) {
		var posted []byte
		c := env.client(t, xadesTestNIP, scriptedAuth{XadesAuth: XadesAuth{Credentials: goodCreds, Now: env.clock.Now}, posted: &posted})
		if err := c.Login(context.Background()); err != nil {
			t.Fatalf("first login: %v", err)
		}
		var out AuthInit
		err := c.PostXML(context.Background(), "/auth/xades-signature", posted, &out)
		requireKSeFCode(t, err, 21111)
	})
}

func requireKSeFCode(t *testing.T, err error, code int) {
	t.Helper()
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v (%T), want *APIError with code %d", err, err, code)
	}
	if apiErr.HTTPStatus != 400 || !apiErr.HasCode(code) {
		t.Fatalf("error = %v, want HTTP 400 with code %d", apiErr, code)
	}
}

func TestXadesAuthWithoutCredentials(t *testing.T) {
	env := startXadesSim(t, ksefsim.Options{})
	err := env.client(t, xadesTestNIP, XadesAuth{}).Login(context.Background())
	if err == nil {
		t.Fatal("login without credentials succeeded")
	}
	if (XadesAuth{}).Method() != "certificate" || !(XadesAuth{}).CertificateExpiry().IsZero() {
		t.Error("Method/CertificateExpiry of empty XadesAuth")
	}
}

// xmlsec1Auth logs in with an AuthTokenRequest signed by xmlsec1, a signer we did not write: the
// simulator must accept what the reference implementation produces.
type xmlsec1Auth struct {
	bin   string
	files xadesFiles
	t     *testing.T
}

func (xmlsec1Auth) Method() string { return "certificate" }

func (a xmlsec1Auth) Init(ctx context.Context, c *Client, ch Challenge) (*AuthInit, error) {
	tpl := filepath.Join(a.files.dir, "template.xml")
	if err := os.WriteFile(tpl, []byte(xmlsecTemplate(ch.Challenge, c.Context().Value, a.files)), 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(a.files.dir, "signed.xml")
	cmd := exec.CommandContext(ctx, a.bin, "--sign", "--privkey-pem", a.files.keyFile+","+a.files.certFile,
		"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
		"--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:Signature", "--output", out, tpl)
	if msg, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("xmlsec1 --sign: %v\n%s", err, msg)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var init AuthInit
	if err := c.PostXML(ctx, "/auth/xades-signature", signed, &init); err != nil {
		return nil, err
	}
	return &init, nil
}

// xmlsecTemplate is an AuthTokenRequest with an empty enveloped XAdES-BES signature for xmlsec1 to
// complete: exclusive c14n, RSA-SHA256, SignedProperties with the signing certificate's digest.
func xmlsecTemplate(challenge, nip string, f xadesFiles) string {
	digest := sha256.Sum256(f.cert.Raw)
	const ds = "http://www.w3.org/2000/09/xmldsig#"
	const exc = "http://www.w3.org/2001/10/xml-exc-c14n#"
	const sha = "http://www.w3.org/2001/04/xmlenc#sha256"
	return `<?xml version="1.0" encoding="UTF-8"?>
<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">
<Challenge>` + challenge + `</Challenge>
<ContextIdentifier><Nip>` + nip + `</Nip></ContextIdentifier>
<SubjectIdentifierType>certificateSubject</SubjectIdentifierType>
<ds:Signature xmlns:ds="` + ds + `" Id="sig-1"><ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="` + exc + `"/>
<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="` + exc + `"/></ds:Transforms><ds:DigestMethod Algorithm="` + sha + `"/><ds:DigestValue/></ds:Reference>
<ds:Reference Type="http://uri.etsi.org/01903#SignedProperties" URI="#props-1"><ds:Transforms><ds:Transform Algorithm="` + exc + `"/></ds:Transforms><ds:DigestMethod Algorithm="` + sha + `"/><ds:DigestValue/></ds:Reference>
</ds:SignedInfo><ds:SignatureValue/>
<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
<ds:Object><xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#sig-1"><xades:SignedProperties Id="props-1"><xades:SignedSignatureProperties>
<xades:SigningTime>` + time.Now().UTC().Format(time.RFC3339) + `</xades:SigningTime>
<xades:SigningCertificate><xades:Cert><xades:CertDigest><ds:DigestMethod Algorithm="` + sha + `"/><ds:DigestValue>` + base64.StdEncoding.EncodeToString(digest[:]) + `</ds:DigestValue></xades:CertDigest>
<xades:IssuerSerial><ds:X509IssuerName>` + f.cert.Issuer.String() + `</ds:X509IssuerName><ds:X509SerialNumber>` + f.cert.SerialNumber.String() + `</ds:X509SerialNumber></xades:IssuerSerial></xades:Cert></xades:SigningCertificate>
</xades:SignedSignatureProperties></xades:SignedProperties></xades:QualifyingProperties></ds:Object>
</ds:Signature>
</AuthTokenRequest>
`
}

// TestSimulatorAcceptsXmlsec1Signature runs a full login (challenge, xmlsec1-signed request, poll,
// redeem) against the simulator over HTTP.
func TestSimulatorAcceptsXmlsec1Signature(t *testing.T) {
	bin := testutil.Tool(t, "xmlsec1", "xmlsec1")
	e := startXadesSim(t, ksefsim.Options{})
	files := writeXadesFiles(t, xades.TestCertOptions{NIP: xadesTestNIP, KeyType: "rsa",
		NotBefore: e.clock.Now().Add(-time.Hour), NotAfter: e.clock.Now().AddDate(1, 0, 0)})
	c := e.client(t, xadesTestNIP, xmlsec1Auth{bin: bin, files: files, t: t})
	if err := c.Login(context.Background()); err != nil {
		t.Fatalf("login with an xmlsec1 signature: %v", err)
	}
	if access, _ := c.TokenExpiry(); access.IsZero() {
		t.Fatal("no access token after login")
	}
	if _, err := c.OpenOnlineSession(context.Background(), FormFA3); err != nil {
		t.Fatalf("the access token does not work: %v", err)
	}
}
