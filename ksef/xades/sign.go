package xades

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
)

// Sign adds an enveloped XAdES-BES signature (ds:Signature as the last child of the root element) to
// doc, signed with creds at signingTime. Canonicalisation is exclusive c14n, digests SHA-256, the
// signature RSA PKCS#1 v1.5 SHA-256 or ECDSA SHA-256 (R||S). Sign does not re-check that the key
// belongs to the certificate (LoadPEM and LoadPKCS12 do); a mismatched pair yields a signature that
// verifiers reject.
func Sign(doc []byte, creds *Credentials, signingTime time.Time) ([]byte, error) {
	if creds == nil || creds.Certificate == nil || creds.Key == nil {
		return nil, errors.New("xades: sign: incomplete credentials")
	}
	sigMethod, err := signatureMethodFor(creds.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("xades: sign: %w", err)
	}
	tree, err := parseDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("xades: sign: %w", err)
	}
	root := tree.Root()
	if root == nil {
		return nil, errors.New("xades: sign: document has no root element")
	}
	ids, err := newSignatureIDs()
	if err != nil {
		return nil, err
	}
	sig := buildSignatureSkeleton(root, creds, sigMethod, signingTime, ids)
	if err := fillDigests(root, sig); err != nil {
		return nil, fmt.Errorf("xades: sign: %w", err)
	}
	signedInfo := sig.SelectElement("ds:SignedInfo")
	canonical, err := canonicalize(signedInfo, algExcC14N, "")
	if err != nil {
		return nil, fmt.Errorf("xades: sign: canonicalize SignedInfo: %w", err)
	}
	value, err := signDigest(creds.Key, canonical)
	if err != nil {
		return nil, fmt.Errorf("xades: sign: %w", err)
	}
	sig.SelectElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))

	// Canonical escaping keeps CR, TAB and LF in attribute values and CR in text intact across a re-parse,
	// so that the verifier canonicalises exactly what was signed.
	tree.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	return tree.WriteToBytes()
}

type signatureIDs struct{ signature, signedProps, signatureValue string }

func newSignatureIDs() (signatureIDs, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return signatureIDs{}, err
	}
	suffix := hex.EncodeToString(b)
	return signatureIDs{
		signature:      "Signature-" + suffix,
		signedProps:    "SignedProperties-" + suffix,
		signatureValue: "SignatureValue-" + suffix,
	}, nil
}

func signatureMethodFor(pub crypto.PublicKey) (string, error) {
	if err := checkKeyStrength(pub); err != nil {
		return "", err
	}
	switch pub.(type) {
	case *rsa.PublicKey:
		return algRSASHA256, nil
	case *ecdsa.PublicKey:
		return algECDSASHA256, nil
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

func buildSignatureSkeleton(root *etree.Element, creds *Credentials, sigMethod string, signingTime time.Time, ids signatureIDs) *etree.Element {
	sig := root.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", nsDSig)
	sig.CreateAttr("Id", ids.signature)

	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", sigMethod)

	docRef := si.CreateElement("ds:Reference")
	docRef.CreateAttr("URI", "")
	transforms := docRef.CreateElement("ds:Transforms")
	transforms.CreateElement("ds:Transform").CreateAttr("Algorithm", algEnveloped)
	transforms.CreateElement("ds:Transform").CreateAttr("Algorithm", algExcC14N)
	docRef.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA256)
	docRef.CreateElement("ds:DigestValue")

	propsRef := si.CreateElement("ds:Reference")
	propsRef.CreateAttr("Type", typeSignedProperties)
	propsRef.CreateAttr("URI", "#"+ids.signedProps)
	propsRef.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", algExcC14N)
	propsRef.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA256)
	propsRef.CreateElement("ds:DigestValue")

	sig.CreateElement("ds:SignatureValue").CreateAttr("Id", ids.signatureValue)
	sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(creds.Certificate.Raw))

	qp := sig.CreateElement("ds:Object").CreateElement("xades:QualifyingProperties")
	qp.CreateAttr("xmlns:xades", nsXAdES132)
	qp.CreateAttr("Target", "#"+ids.signature)
	sp := qp.CreateElement("xades:SignedProperties")
	sp.CreateAttr("Id", ids.signedProps)
	ssp := sp.CreateElement("xades:SignedSignatureProperties")
	ssp.CreateElement("xades:SigningTime").SetText(signingTime.UTC().Truncate(time.Second).Format(time.RFC3339))
	cert := ssp.CreateElement("xades:SigningCertificate").CreateElement("xades:Cert")
	certDigest := cert.CreateElement("xades:CertDigest")
	certDigest.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA256)
	sum := sha256.Sum256(creds.Certificate.Raw)
	certDigest.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(sum[:]))
	issuerSerial := cert.CreateElement("xades:IssuerSerial")
	issuerSerial.CreateElement("ds:X509IssuerName").SetText(creds.Certificate.Issuer.String())
	issuerSerial.CreateElement("ds:X509SerialNumber").SetText(creds.Certificate.SerialNumber.String())
	return sig
}

// fillDigests computes the SignedProperties digest and the enveloped document digest.
func fillDigests(root, sig *etree.Element) error {
	refs := sig.SelectElement("ds:SignedInfo").SelectElements("ds:Reference")
	props := sig.FindElement("./ds:Object/xades:QualifyingProperties/xades:SignedProperties")
	propsC14N, err := canonicalize(props, algExcC14N, "")
	if err != nil {
		return fmt.Errorf("canonicalize SignedProperties: %w", err)
	}
	propsSum := sha256.Sum256(propsC14N)
	refs[1].SelectElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(propsSum[:]))

	docC14N, err := canonicalEnveloped(root, sig, algExcC14N, "")
	if err != nil {
		return fmt.Errorf("canonicalize document: %w", err)
	}
	docSum := sha256.Sum256(docC14N)
	refs[0].SelectElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(docSum[:]))
	return nil
}

// canonicalEnveloped applies the enveloped-signature transform (sig must be a child of root) and
// canonicalises the rest of the document without comments, as URI="" demands.
func canonicalEnveloped(root, sig *etree.Element, alg, prefixes string) ([]byte, error) {
	cp := root.Copy()
	cp.RemoveChildAt(sig.Index())
	stripComments(cp)
	return canonicalizeDetached(cp, alg, prefixes)
}

func signDigest(key crypto.Signer, canonicalSignedInfo []byte) ([]byte, error) {
	digest := sha256.Sum256(canonicalSignedInfo)
	raw, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return raw, nil
	}
	// crypto.Signer yields ASN.1 DER for ECDSA; XML-DSig wants the fixed-size R||S concatenation.
	return P1363(raw, pub)
}
