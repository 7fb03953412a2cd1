package xades

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// These tests use xmlsec1 (libxmlsec1, the reference XML-DSig implementation) as an independent
// second implementation: it must accept what we sign, and we must accept what it signs.

func needXmlsec1(t *testing.T) string {
	t.Helper()
	return testutil.Tool(t, "xmlsec1", "xmlsec1")
}

func runXmlsec1(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

var xmlsecIDAttrs = []string{
	"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
	"--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:Signature",
}

func TestXmlsec1VerifiesOurSignature(t *testing.T) {
	bin := needXmlsec1(t)
	for _, keyType := range []string{"rsa", "ecdsa"} {
		t.Run(keyType, func(t *testing.T) {
			tc := newTestCreds(t, keyType, testNIP)
			signed := signedRequest(t, tc.creds)
			verify := func(doc []byte) (string, error) {
				file := writeFile(t, tc.dir, "signed.xml", doc)
				args := append([]string{"--verify", "--enabled-reference-uris", "empty,same-doc", "--trusted-pem", tc.certFile}, xmlsecIDAttrs...)
				return runXmlsec1(t, bin, append(args, file)...)
			}
			if out, err := verify(signed); err != nil {
				t.Fatalf("xmlsec1 rejected our signature: %v\n%s\n%s", err, out, signed)
			}
			// xmlsec1 must also notice a change, otherwise the check above proves nothing.
			tampered := testutil.ReplaceOnce(t, signed, testChallenge, "20261122-CR-0123456789-ABCDEF0123-AC")
			if out, err := verify(tampered); err == nil {
				t.Fatalf("xmlsec1 accepted a tampered document:\n%s", out)
			}
		})
	}
}

// template describes a signature template that xmlsec1 --sign completes.
type template struct {
	name      string
	keyType   string
	dsPrefix  string // "" = default namespace for the Signature element
	c14n      string // SignedInfo canonicalization
	docXforms []string
	propXform string // "" = no transform (implicit inclusive C14N)
	sigMethod string
	pretty    bool
}

func TestXmlsec1SignedAccepted(t *testing.T) {
	bin := needXmlsec1(t)
	templates := []template{
		{name: "exc-c14n ds prefix rsa", keyType: "rsa", dsPrefix: "ds", c14n: algExcC14N,
			docXforms: []string{algEnveloped, algExcC14N}, propXform: algExcC14N, sigMethod: algRSASHA256},
		{name: "inclusive c14n default namespace rsa", keyType: "rsa", c14n: algC14N10,
			docXforms: []string{algEnveloped}, sigMethod: algRSASHA256, pretty: true},
		{name: "c14n 1.1 with comments ecdsa", keyType: "ecdsa", dsPrefix: "dsig", c14n: algC14N11Comments,
			docXforms: []string{algEnveloped, algExcC14NComments}, propXform: algC14N10, sigMethod: algECDSASHA256, pretty: true},
	}
	for _, tpl := range templates {
		t.Run(tpl.name, func(t *testing.T) {
			tc := newTestCreds(t, tpl.keyType, testNIP)
			in := writeFile(t, tc.dir, "template.xml", []byte(tpl.render(tc)))
			out := filepath.Join(tc.dir, "signed.xml")
			args := append([]string{"--sign", "--privkey-pem", tc.keyFile + "," + tc.certFile, "--output", out}, xmlsecIDAttrs...)
			if msg, err := runXmlsec1(t, bin, append(args, in)...); err != nil {
				t.Fatalf("xmlsec1 --sign: %v\n%s", err, msg)
			}
			signed, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyAuthTokenRequest(signed, time.Now())
			if err != nil {
				t.Fatalf("VerifyAuthTokenRequest rejected the xmlsec1 signature: %v\n%s", err, signed)
			}
			if !got.Certificate.Equal(tc.creds.Certificate) || got.Challenge != testChallenge || got.ContextValue != testNIP {
				t.Errorf("unexpected result %+v", got)
			}
			if !got.SigningTime.Equal(time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)) {
				t.Errorf("SigningTime = %v", got.SigningTime)
			}
			wantVerifyCode(t, testutil.ReplaceOnce(t, signed, "<Nip>"+testNIP, "<Nip>1111111111"), 9105)
		})
	}
}

func (tpl template) render(tc testCreds) string {
	p := tpl.dsPrefix
	el := func(name string) string {
		if p == "" {
			return name
		}
		return p + ":" + name
	}
	nsDecl := ` xmlns="` + nsDSig + `"`
	if p != "" {
		nsDecl = ` xmlns:` + p + `="` + nsDSig + `"`
	}
	nl := ""
	if tpl.pretty {
		nl = "\n  "
	}
	transforms := func(algs ...string) string {
		if len(algs) == 0 || algs[0] == "" {
			return ""
		}
		var b strings.Builder
		b.WriteString("<" + el("Transforms") + ">")
		for _, a := range algs {
			b.WriteString("<" + el("Transform") + ` Algorithm="` + a + `"/>`)
		}
		return b.String() + "</" + el("Transforms") + ">"
	}
	digest := sha256.Sum256(tc.creds.Certificate.Raw)
	return `<?xml version="1.0" encoding="UTF-8"?>
<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">` + nl +
		`<Challenge>` + testChallenge + `</Challenge>` + nl +
		`<!-- a comment -->` + nl +
		`<ContextIdentifier><Nip>` + testNIP + `</Nip></ContextIdentifier>` + nl +
		`<SubjectIdentifierType>certificateSubject</SubjectIdentifierType>` + nl +
		`<` + el("Signature") + nsDecl + ` Id="sig-1">` + nl +
		`<` + el("SignedInfo") + `>` + nl +
		`<` + el("CanonicalizationMethod") + ` Algorithm="` + tpl.c14n + `"/>` + nl +
		`<` + el("SignatureMethod") + ` Algorithm="` + tpl.sigMethod + `"/>` + nl +
		`<` + el("Reference") + ` URI="">` + transforms(tpl.docXforms...) +
		`<` + el("DigestMethod") + ` Algorithm="` + algSHA256 + `"/><` + el("DigestValue") + `/></` + el("Reference") + `>` + nl +
		`<` + el("Reference") + ` Type="` + typeSignedProperties + `" URI="#props-1">` + transforms(tpl.propXform) +
		`<` + el("DigestMethod") + ` Algorithm="` + algSHA256 + `"/><` + el("DigestValue") + `/></` + el("Reference") + `>` + nl +
		`</` + el("SignedInfo") + `>` + nl +
		`<` + el("SignatureValue") + `/>` + nl +
		`<` + el("KeyInfo") + `><` + el("X509Data") + `><` + el("X509Certificate") + `/></` + el("X509Data") + `></` + el("KeyInfo") + `>` + nl +
		`<` + el("Object") + `><xades:QualifyingProperties xmlns:xades="` + nsXAdES132 + `" Target="#sig-1">` + nl +
		`<xades:SignedProperties Id="props-1"><xades:SignedSignatureProperties>` +
		`<xades:SigningTime>2026-11-22T08:00:00+01:00</xades:SigningTime>` +
		`<xades:SigningCertificate><xades:Cert><xades:CertDigest>` +
		`<` + el("DigestMethod") + ` Algorithm="` + algSHA256 + `"/>` +
		`<` + el("DigestValue") + `>` + base64.StdEncoding.EncodeToString(digest[:]) + `</` + el("DigestValue") + `>` +
		`</xades:CertDigest><xades:IssuerSerial><` + el("X509IssuerName") + `>` + tc.creds.Certificate.Issuer.String() + `</` + el("X509IssuerName") + `>` +
		`<` + el("X509SerialNumber") + `>` + tc.creds.Certificate.SerialNumber.String() + `</` + el("X509SerialNumber") + `></xades:IssuerSerial>` +
		`</xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties></xades:SignedProperties>` + nl +
		`</xades:QualifyingProperties></` + el("Object") + `>` + nl +
		`</` + el("Signature") + `>` + "\n" +
		`</AuthTokenRequest>` + "\n"
}
