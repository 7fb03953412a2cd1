package xades

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, keyType := range []string{"rsa", "ecdsa"} {
		t.Run(keyType, func(t *testing.T) {
			tc := newTestCreds(t, keyType, testNIP)
			signingTime := time.Date(2026, 11, 22, 6, 30, 15, 0, time.UTC)
			doc := BuildAuthTokenRequest(testChallenge, "Nip", testNIP, SubjectCertificateFingerprint)
			signed, err := Sign(doc, tc.creds, signingTime)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := VerifyAuthTokenRequest(signed, time.Now())
			if err != nil {
				t.Fatalf("VerifyAuthTokenRequest: %v", err)
			}
			if !got.Certificate.Equal(tc.creds.Certificate) {
				t.Error("verified certificate is not the signing certificate")
			}
			got.Certificate = nil
			want := AuthTokenRequest{
				Challenge: testChallenge, ContextType: "Nip", ContextValue: testNIP,
				SubjectIdentifierType: SubjectCertificateFingerprint, SigningTime: signingTime,
			}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("verified request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyAcceptsVariants(t *testing.T) {
	tc := newTestCreds(t, "rsa", testNIP)
	cases := []struct {
		name     string
		doc      string
		ctxType  string
		ctxValue string
	}{
		{
			name:    "namespace 2.1 with authorization policy and pretty printing",
			ctxType: "InternalId", ctxValue: testNIP + "-00001",
			doc: `<?xml version="1.0" encoding="UTF-8"?>
<!-- comment before the root -->
<tns:AuthTokenRequest xmlns:tns="http://ksef.mf.gov.pl/auth/token/2.1">
    <tns:Challenge>` + testChallenge + `</tns:Challenge>
    <tns:ContextIdentifier>
        <tns:InternalId>` + testNIP + `-00001</tns:InternalId>
    </tns:ContextIdentifier>
    <!-- comments are not signed content -->
    <tns:SubjectIdentifierType>certificateSubject</tns:SubjectIdentifierType>
    <tns:AuthorizationPolicy><tns:AllowedIps><tns:Ip4Address>10.0.0.1</tns:Ip4Address></tns:AllowedIps></tns:AuthorizationPolicy>
</tns:AuthTokenRequest>
`,
		},
		{
			name:    "NipVatUe with escaped characters around",
			ctxType: "NipVatUe", ctxValue: testNIP + "-ATU12345678",
			doc: `<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0" xmlns:unused="urn:x"><Challenge> ` + testChallenge + ` </Challenge><ContextIdentifier><NipVatUe>` + testNIP + `-ATU12345678</NipVatUe></ContextIdentifier><SubjectIdentifierType>certificateSubject</SubjectIdentifierType></AuthTokenRequest>`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signed, err := Sign([]byte(c.doc), tc.creds, time.Now())
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			got, err := VerifyAuthTokenRequest(signed, time.Now())
			if err != nil {
				t.Fatalf("VerifyAuthTokenRequest: %v\n%s", err, signed)
			}
			if got.ContextType != c.ctxType || got.ContextValue != c.ctxValue || got.Challenge != testChallenge {
				t.Errorf("got context %s=%s challenge %q", got.ContextType, got.ContextValue, got.Challenge)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	rsaCreds := newTestCreds(t, "rsa", testNIP)
	ecCreds := newTestCreds(t, "ecdsa", testNIP)
	signed := signedRequest(t, rsaCreds.creds)
	ecSigned := signedRequest(t, ecCreds.creds)

	otherKey := testutil.ECKey(t, elliptic.P256())
	// The certificate says key A, the signature is made with key B.
	wrongKey := signedRequest(t, &Credentials{Certificate: ecCreds.creds.Certificate, Key: otherKey})

	sigValue := regexp.MustCompile(`(<ds:SignatureValue[^>]*>)([^<]*)(<)`)
	certValue := regexp.MustCompile(`<ds:X509Certificate>[^<]*<`)
	issuerSerialRe := regexp.MustCompile(`(<ds:X509SerialNumber>)([^<]*)(<)`)

	cases := []struct {
		name     string
		doc      []byte
		code     int
		contains string
	}{
		{"tampered challenge", testutil.ReplaceOnce(t, signed, testChallenge, "20261122-CR-0123456789-ABCDEF0123-AC"), 9105, "document digest mismatch"},
		{"tampered context", testutil.ReplaceOnce(t, ecSigned, "<Nip>"+testNIP, "<Nip>1111111111"), 9105, "document digest mismatch"},
		{"tampered signing time", testutil.ReplaceOnce(t, signed, "2026-11-22T06:00:00Z", "2026-11-22T06:00:01Z"), 9105, "digest mismatch for reference \"#SignedProperties"},
		{"tampered signed info", testutil.ReplaceOnce(t, signed, `<ds:Reference URI="">`, `<ds:Reference URI="" Id="x">`), 9105, "SignatureValue does not verify"},
		{"wrong key", wrongKey, 9105, "SignatureValue does not verify"},
		{"wrong IssuerSerial", issuerSerialRe.ReplaceAll(ecSigned, []byte("${1}12345${3}")), 9105, "digest mismatch for reference \"#SignedProperties"},
		{"foreign QualifyingProperties target", testutil.ReplaceOnce(t, signed, `Target="#Signature-`, `Target="#Other-`), 9105, "does not point to the signature"},
		{"validly signed wrong IssuerSerial", resign(t, ecSigned, ecCreds.creds, func(sig *etree.Element) {
			sig.FindElement(".//ds:X509SerialNumber").SetText("12345")
		}), 9105, "IssuerSerial does not name the signing certificate"},
		{"swapped certificate", certValue.ReplaceAll(signed, []byte("<ds:X509Certificate>"+certBase64(ecCreds.certPEM)+"<")), 9105, "SigningCertificate digest does not match"},
		{"garbage signature value", sigValue.ReplaceAll(signed, []byte("${1}AAAA${3}")), 9105, "SignatureValue does not verify"},
		{"detached reference", testutil.ReplaceOnce(t, signed, `URI=""`, `URI="https://example.com/request.xml"`), 9105, "detached"},
		{"no enveloped reference", testutil.ReplaceOnce(t, signed, `URI=""`, `URI="#SignatureValue-x"`), 9105, ""},
		{"unsigned", BuildAuthTokenRequest(testChallenge, "Nip", testNIP, ""), 9102, ""},
		{"two signatures", twoSignatures(t, signed), 9103, ""},
		{"signature nested in element", nestedSignature(t, signed), 21401, "unexpected element Signature"},
		{"wrong root namespace", testutil.ReplaceOnce(t, signed, NamespaceAuth20, "http://ksef.mf.gov.pl/auth/token/1.0"), 21401, ""},
		{"bad challenge format", testutil.ReplaceOnce(t, signed, testChallenge, "challenge"), 21401, "Challenge"},
		{"elements out of order", BuildOutOfOrder(), 21401, "XSD order"},
		{"unknown subject type", testutil.ReplaceOnce(t, signed, "certificateSubject", "pesel"), 21401, "SubjectIdentifierType"},
		{"DTD with entity", []byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]>` + string(signed[bytes.IndexByte(signed, '\n')+1:])), 9101, "DTD"},
		{"not well-formed", signed[:len(signed)-10], 9101, ""},
		{"latin-2 bytes", append([]byte{0xff}, signed...), 21217, ""},
		{"declared latin-2", testutil.ReplaceOnce(t, signed, `encoding="utf-8"`, `encoding="iso-8859-2"`), 21217, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ve := wantVerifyCode(t, c.doc, c.code)
			if !strings.Contains(ve.Description, c.contains) {
				t.Errorf("description %q does not mention %q", ve.Description, c.contains)
			}
		})
	}
	// The untampered documents pass, so each rejection above is caused by its tampering.
	for _, doc := range [][]byte{signed, ecSigned, resign(t, ecSigned, ecCreds.creds, func(*etree.Element) {})} {
		if _, err := VerifyAuthTokenRequest(doc, time.Now()); err != nil {
			t.Fatalf("untampered document rejected: %v", err)
		}
	}
}

// resign changes a signed document and signs it again with consistent digests, to reach checks that
// sit behind the digest and signature checks.
func resign(t *testing.T, signed []byte, creds *Credentials, mutate func(sig *etree.Element)) []byte {
	t.Helper()
	tree, sig := parseSigned(t, signed)
	mutate(sig)
	if err := fillDigests(tree.Root(), sig); err != nil {
		t.Fatal(err)
	}
	return signAgain(t, tree, sig, func(canonical []byte) ([]byte, error) { return signDigest(creds.Key, canonical) })
}

// parseSigned parses a signed document and finds its ds:Signature.
func parseSigned(t *testing.T, signed []byte) (*etree.Document, *etree.Element) {
	t.Helper()
	tree, err := parseDocument(signed)
	if err != nil {
		t.Fatal(err)
	}
	return tree, tree.Root().SelectElement("ds:Signature")
}

// signAgain puts sign's value over the canonical SignedInfo of sig into its SignatureValue and
// returns the whole document.
func signAgain(t *testing.T, tree *etree.Document, sig *etree.Element, sign func(canonical []byte) ([]byte, error)) []byte {
	t.Helper()
	canonical, err := canonicalize(sig.SelectElement("ds:SignedInfo"), algExcC14N, "")
	if err != nil {
		t.Fatal(err)
	}
	value, err := sign(canonical)
	if err != nil {
		t.Fatal(err)
	}
	sig.SelectElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	out, err := tree.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BuildOutOfOrder is a signed document whose SubjectIdentifierType precedes the ContextIdentifier.
func BuildOutOfOrder() []byte {
	return []byte(`<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0"><Challenge>` + testChallenge +
		`</Challenge><SubjectIdentifierType>certificateSubject</SubjectIdentifierType><ContextIdentifier><Nip>` + testNIP +
		`</Nip></ContextIdentifier></AuthTokenRequest>`)
}

func certBase64(certPEM []byte) string {
	s := string(certPEM)
	s = strings.TrimPrefix(s, "-----BEGIN CERTIFICATE-----\n")
	s = strings.TrimSuffix(s, "-----END CERTIFICATE-----\n")
	return strings.ReplaceAll(s, "\n", "")
}

func signatureXML(t *testing.T, signed []byte) string {
	t.Helper()
	start := bytes.Index(signed, []byte("<ds:Signature "))
	end := bytes.Index(signed, []byte("</ds:Signature>"))
	if start < 0 || end < 0 {
		t.Fatal("no ds:Signature in signed document")
	}
	return string(signed[start : end+len("</ds:Signature>")])
}

func twoSignatures(t *testing.T, signed []byte) []byte {
	sig := signatureXML(t, signed)
	return testutil.ReplaceOnce(t, signed, "</AuthTokenRequest>", sig+"</AuthTokenRequest>")
}

func nestedSignature(t *testing.T, signed []byte) []byte {
	sig := signatureXML(t, signed)
	doc := testutil.ReplaceOnce(t, signed, sig, "")
	return testutil.ReplaceOnce(t, doc, "</SubjectIdentifierType>", "</SubjectIdentifierType><AuthorizationPolicy><AllowedIps>"+sig+"</AllowedIps></AuthorizationPolicy>")
}

func TestSignRejectsWeakKeys(t *testing.T) {
	key := testutil.ECKey(t, elliptic.P224())
	tc := newTestCreds(t, "ecdsa", testNIP)
	_, err := Sign(BuildAuthTokenRequest(testChallenge, "Nip", testNIP, ""), &Credentials{Certificate: tc.creds.Certificate, Key: key}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "P-224") {
		t.Fatalf("Sign with P-224 key: err = %v, want unsupported curve", err)
	}
}

func FuzzVerifyAuthTokenRequest(f *testing.F) {
	certPEM, keyPEM, err := GenerateTestCertificate(TestCertOptions{NIP: testNIP, KeyType: "ecdsa"})
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	creds, err := LoadPEM(writeFile(f, dir, "c.pem", certPEM), writeFile(f, dir, "k.pem", keyPEM), nil)
	if err != nil {
		f.Fatal(err)
	}
	signed, err := Sign(BuildAuthTokenRequest(testChallenge, "Nip", testNIP, ""), creds, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(BuildAuthTokenRequest(testChallenge, "Nip", testNIP, ""))
	f.Fuzz(func(t *testing.T, doc []byte) {
		req, err := VerifyAuthTokenRequest(doc, time.Now())
		if err == nil && (req.Certificate == nil || req.Challenge == "") {
			t.Fatalf("accepted document without certificate or challenge")
		}
		if err != nil {
			if _, ok := err.(*VerifyError); !ok {
				t.Fatalf("error %T is not *VerifyError", err)
			}
		}
	})
}

// TestVerifyRSAPSS re-signs our SignedInfo with RSASSA-PSS (xmlsec1 1.2 cannot produce PSS, so the test
// builds the signature itself with the standard library).
func TestVerifyRSAPSS(t *testing.T) {
	tc := newTestCreds(t, "rsa", testNIP)
	signed := testutil.ReplaceOnce(t, signedRequest(t, tc.creds), algRSASHA256, "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1")
	tree, sig := parseSigned(t, signed)
	pss := signAgain(t, tree, sig, func(canonical []byte) ([]byte, error) {
		digest := sha256.Sum256(canonical)
		return rsa.SignPSS(rand.Reader, tc.creds.Key.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	})
	if _, err := VerifyAuthTokenRequest(pss, time.Now()); err != nil {
		t.Fatalf("RSA-PSS signature rejected: %v", err)
	}
	// The PKCS#1 v1.5 value must not pass as PSS.
	wantVerifyCode(t, signed, 9105)
}

func TestBuildAuthTokenRequest(t *testing.T) {
	got := string(BuildAuthTokenRequest(testChallenge, "InternalId", testNIP+"-00001", ""))
	want := `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0">` +
		`<Challenge>` + testChallenge + `</Challenge>` +
		`<ContextIdentifier><InternalId>` + testNIP + `-00001</InternalId></ContextIdentifier>` +
		`<SubjectIdentifierType>certificateSubject</SubjectIdentifierType>` +
		`</AuthTokenRequest>`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildAuthTokenRequest (-want +got):\n%s", diff)
	}
	// Values are escaped, never interpreted as markup.
	odd := string(BuildAuthTokenRequest("<x>&", "Nip", `"1"`, SubjectCertificateFingerprint))
	if !strings.Contains(odd, "<Challenge>&lt;x&gt;&amp;</Challenge>") || !strings.Contains(odd, "<Nip>&#34;1&#34;</Nip>") {
		t.Errorf("values not escaped: %s", odd)
	}
}
