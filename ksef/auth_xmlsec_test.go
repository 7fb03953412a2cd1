package ksef

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

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
