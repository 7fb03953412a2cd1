package xades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// KSeF error codes for rejected AuthTokenRequest documents.
const (
	CodeInvalidDocument   = 9101
	CodeNoSignature       = 9102
	CodeTooManySignatures = 9103
	CodeInvalidSignature  = 9105
	CodeInvalidEncoding   = 21217
	CodeSchema            = 21401
)

type signatureMethod struct {
	hash crypto.Hash
	kind string // rsa | rsa-pss | ecdsa
}

var signatureMethods = map[string]signatureMethod{
	"http://www.w3.org/2000/09/xmldsig#rsa-sha1":        {crypto.SHA1, "rsa"},
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha224": {crypto.SHA224, "rsa"},
	algRSASHA256: {crypto.SHA256, "rsa"},
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha384":        {crypto.SHA384, "rsa"},
	"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512":        {crypto.SHA512, "rsa"},
	"http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1":   {crypto.SHA256, "rsa-pss"},
	"http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1":   {crypto.SHA384, "rsa-pss"},
	"http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1":   {crypto.SHA512, "rsa-pss"},
	"http://www.w3.org/2007/05/xmldsig-more#sha3-256-rsa-MGF1": {crypto.SHA3_256, "rsa-pss"},
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1":        {crypto.SHA1, "ecdsa"},
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224":      {crypto.SHA224, "ecdsa"},
	algECDSASHA256: {crypto.SHA256, "ecdsa"},
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384":   {crypto.SHA384, "ecdsa"},
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512":   {crypto.SHA512, "ecdsa"},
	"http://www.w3.org/2007/05/xmldsig-more#ecdsa-sha3-256": {crypto.SHA3_256, "ecdsa"},
}

func verifyErr(code int, format string, args ...any) *VerifyError {
	return &VerifyError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// VerifyAuthTokenRequest checks a signed AuthTokenRequest the way KSeF does before looking at the
// certificate's trust and validity: document well-formed and without DTD (9101), UTF-8 (21217), XSD
// structure (21401), exactly one ds:Signature (9102/9103), enveloped in the root, every reference
// digest, the SignatureValue and the XAdES SigningCertificate (9105). Validity dates and trust are the
// caller's decision (it owns the clock); now is accepted for that symmetry and not used here.
func VerifyAuthTokenRequest(doc []byte, now time.Time) (*AuthTokenRequest, error) {
	_ = now
	tree, err := parseDocument(doc)
	if err != nil {
		if errors.Is(err, errEncoding) {
			return nil, verifyErr(CodeInvalidEncoding, "invalid encoding: %v", err)
		}
		return nil, verifyErr(CodeInvalidDocument, "invalid document: %v", err)
	}
	root := tree.Root()
	req, err := readRequest(root)
	if err != nil {
		return nil, verifyErr(CodeSchema, "document does not match the AuthTokenRequest schema: %v", err)
	}
	var sigs []*etree.Element
	collectSignatures(root, &sigs)
	switch {
	case len(sigs) == 0:
		return nil, verifyErr(CodeNoSignature, "document is not signed")
	case len(sigs) > 1:
		return nil, verifyErr(CodeTooManySignatures, "document has %d signatures, exactly one is allowed", len(sigs))
	}
	if sigs[0].Parent() != root {
		return nil, verifyErr(CodeInvalidSignature, "invalid signature: ds:Signature must be a child of AuthTokenRequest")
	}
	cert, signingTime, err := verifySignature(root, sigs[0])
	if err != nil {
		return nil, verifyErr(CodeInvalidSignature, "invalid signature: %v", err)
	}
	req.Certificate, req.SigningTime = cert, signingTime
	return req, nil
}

func collectSignatures(el *etree.Element, out *[]*etree.Element) {
	if isElement(el, nsDSig, "Signature") {
		*out = append(*out, el)
	}
	for _, c := range el.ChildElements() {
		collectSignatures(c, out)
	}
}

type reference struct {
	uri, refType string
	transforms   []transform
	digest       crypto.Hash
	digestValue  []byte
}

type transform struct{ algorithm, prefixes string }

func verifySignature(root, sig *etree.Element) (*x509.Certificate, time.Time, error) {
	signedInfo, err := oneChild(sig, nsDSig, "SignedInfo")
	if err != nil {
		return nil, time.Time{}, err
	}
	c14nEl, err := oneChild(signedInfo, nsDSig, "CanonicalizationMethod")
	if err != nil {
		return nil, time.Time{}, err
	}
	c14nAlg := c14nEl.SelectAttrValue("Algorithm", "")
	if !isC14N(c14nAlg) {
		return nil, time.Time{}, fmt.Errorf("unsupported canonicalization method %q", c14nAlg)
	}
	methodEl, err := oneChild(signedInfo, nsDSig, "SignatureMethod")
	if err != nil {
		return nil, time.Time{}, err
	}
	method, ok := signatureMethods[methodEl.SelectAttrValue("Algorithm", "")]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("unsupported signature method %q", methodEl.SelectAttrValue("Algorithm", ""))
	}
	refs, err := parseReferences(signedInfo)
	if err != nil {
		return nil, time.Time{}, err
	}
	props, err := checkReferences(root, sig, refs)
	if err != nil {
		return nil, time.Time{}, err
	}
	keyInfoCerts, err := keyInfoCertificates(sig)
	if err != nil {
		return nil, time.Time{}, err
	}
	cert, signingTime, err := checkSignedProperties(props, keyInfoCerts)
	if err != nil {
		return nil, time.Time{}, err
	}
	canonical, err := canonicalize(signedInfo, c14nAlg, inclusivePrefixes(c14nEl))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("canonicalize SignedInfo: %w", err)
	}
	valueEl, err := oneChild(sig, nsDSig, "SignatureValue")
	if err != nil {
		return nil, time.Time{}, err
	}
	value, err := decodeBase64(valueEl.Text())
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("SignatureValue: %w", err)
	}
	if err := checkSignatureValue(cert.PublicKey, method, canonical, value); err != nil {
		return nil, time.Time{}, err
	}
	return cert, signingTime, nil
}

func inclusivePrefixes(parent *etree.Element) string {
	for _, c := range parent.ChildElements() {
		if isElement(c, nsExcC14N, "InclusiveNamespaces") {
			return c.SelectAttrValue("PrefixList", "")
		}
	}
	return ""
}

func parseReferences(signedInfo *etree.Element) ([]reference, error) {
	els := childElements(signedInfo, nsDSig, "Reference")
	if len(els) == 0 {
		return nil, errors.New("SignedInfo has no Reference")
	}
	refs := make([]reference, 0, len(els))
	for _, el := range els {
		uriAttr := el.SelectAttr("URI")
		if uriAttr == nil {
			return nil, errors.New("Reference without URI (detached signatures are not accepted)")
		}
		ref := reference{uri: uriAttr.Value, refType: el.SelectAttrValue("Type", "")}
		if ts := childElements(el, nsDSig, "Transforms"); len(ts) == 1 {
			for _, t := range childElements(ts[0], nsDSig, "Transform") {
				ref.transforms = append(ref.transforms, transform{t.SelectAttrValue("Algorithm", ""), inclusivePrefixes(t)})
			}
		} else if len(ts) > 1 {
			return nil, errors.New("Reference has several Transforms")
		}
		var err error
		if ref.digest, ref.digestValue, err = readDigest(el, "DigestValue"); err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// readDigest reads the ds:DigestMethod and ds:DigestValue children of el: a ds:Reference, or a
// XAdES CertDigest (whose digest elements are in the XML-DSig namespace too). what names the value
// in the error when it is not base64.
func readDigest(el *etree.Element, what string) (crypto.Hash, []byte, error) {
	dm, err := oneChild(el, nsDSig, "DigestMethod")
	if err != nil {
		return 0, nil, err
	}
	h, err := digestAlgorithm(dm.SelectAttrValue("Algorithm", ""))
	if err != nil {
		return 0, nil, err
	}
	dv, err := oneChild(el, nsDSig, "DigestValue")
	if err != nil {
		return 0, nil, err
	}
	value, err := decodeBase64(dv.Text())
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	return h, value, nil
}

func digestAlgorithm(uri string) (crypto.Hash, error) {
	h, ok := digestAlgorithms[uri]
	if !ok || !h.Available() {
		return 0, fmt.Errorf("unsupported digest method %q", uri)
	}
	return h, nil
}

// checkReferences verifies every reference digest and returns the XAdES SignedProperties element. It
// insists on one reference to the whole document (URI="") and one to the SignedProperties.
func checkReferences(root, sig *etree.Element, refs []reference) (*etree.Element, error) {
	var wholeDoc int
	var props *etree.Element
	for _, ref := range refs {
		var target *etree.Element
		switch {
		case ref.uri == "":
			wholeDoc++
			target = root
		case strings.HasPrefix(ref.uri, "#") && !strings.HasPrefix(ref.uri, "#xpointer("):
			var err error
			if target, err = elementByID(root, ref.uri[1:]); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("reference %q points outside the document (detached signatures are not accepted)", ref.uri)
		}
		if err := checkDigest(target, sig, ref); err != nil {
			return nil, err
		}
		if ref.refType == typeSignedProperties || isSignedProperties(target) {
			if !isSignedProperties(target) {
				return nil, fmt.Errorf("reference %q of type SignedProperties points to %s", ref.uri, target.Tag)
			}
			if props != nil && props != target {
				return nil, errors.New("several SignedProperties references")
			}
			props = target
		}
	}
	if wholeDoc != 1 {
		return nil, fmt.Errorf("expected exactly one Reference with URI=\"\" (enveloped), found %d", wholeDoc)
	}
	if props == nil {
		return nil, errors.New("no Reference to XAdES SignedProperties (not a XAdES signature)")
	}
	if !isDescendant(props, sig) {
		return nil, errors.New("SignedProperties are not inside the signature")
	}
	if qp := props.Parent(); qp != nil && qp.Tag == "QualifyingProperties" {
		target, sigID := qp.SelectAttrValue("Target", ""), sig.SelectAttrValue("Id", "")
		if target != "" && sigID != "" && target != "#"+sigID {
			return nil, fmt.Errorf("QualifyingProperties Target %q does not point to the signature", target)
		}
	}
	return props, nil
}

func isSignedProperties(el *etree.Element) bool {
	return isElement(el, nsXAdES132, "SignedProperties") || isElement(el, nsXAdES141, "SignedProperties")
}

func isDescendant(el, ancestor *etree.Element) bool {
	for p := el; p != nil; p = p.Parent() {
		if p == ancestor {
			return true
		}
	}
	return false
}

// elementByID finds the single element whose Id (or ID/id) attribute is id. Duplicates are refused:
// they are the classic signature-wrapping trick.
func elementByID(root *etree.Element, id string) (*etree.Element, error) {
	var found []*etree.Element
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		for _, a := range el.Attr {
			if a.Space == "" && (a.Key == "Id" || a.Key == "ID" || a.Key == "id") && a.Value == id {
				found = append(found, el)
				break
			}
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("reference target #%s not found", id)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("Id %q is not unique", id)
}

// pathFrom lists the child indexes leading from ancestor down to el, or nil if el is not below it.
func pathFrom(ancestor, el *etree.Element) []int {
	var path []int
	for p := el; p != ancestor; p = p.Parent() {
		if p == nil {
			return nil
		}
		path = append([]int{p.Index()}, path...)
	}
	return path
}

func checkDigest(target, sig *etree.Element, ref reference) error {
	ctxCopy, err := canonicalCopy(target)
	if err != nil {
		return err
	}
	var out []byte
	for i, t := range ref.transforms {
		switch {
		case t.algorithm == algEnveloped:
			if path := pathFrom(target, sig); len(path) > 0 {
				removeAtPath(ctxCopy, path)
			}
		case isC14N(t.algorithm):
			if i != len(ref.transforms)-1 {
				return fmt.Errorf("reference %q: canonicalization must be the last transform", ref.uri)
			}
			stripComments(ctxCopy)
			if out, err = canonicalizeDetached(ctxCopy, t.algorithm, t.prefixes); err != nil {
				return fmt.Errorf("reference %q: %w", ref.uri, err)
			}
		default:
			return fmt.Errorf("reference %q: unsupported transform %q", ref.uri, t.algorithm)
		}
	}
	if out == nil {
		// A node-set left at the end is serialised with inclusive C14N 1.0 (XML-DSig §4.3.3.2).
		stripComments(ctxCopy)
		if out, err = canonicalizeDetached(ctxCopy, algC14N10, ""); err != nil {
			return fmt.Errorf("reference %q: %w", ref.uri, err)
		}
	}
	h := ref.digest.New()
	h.Write(out)
	if subtle.ConstantTimeCompare(h.Sum(nil), ref.digestValue) != 1 {
		if ref.uri == "" {
			return errors.New("document digest mismatch (the signed content was changed)")
		}
		return fmt.Errorf("digest mismatch for reference %q", ref.uri)
	}
	return nil
}

// canonicalCopy detaches a copy of el carrying every namespace declaration in scope at el.
func canonicalCopy(el *etree.Element) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	return etreeutils.NSDetatch(ctx, el)
}

func removeAtPath(el *etree.Element, path []int) {
	for _, i := range path[:len(path)-1] {
		el = el.Child[i].(*etree.Element)
	}
	el.RemoveChildAt(path[len(path)-1])
}

func keyInfoCertificates(sig *etree.Element) ([]*x509.Certificate, error) {
	keyInfo, err := oneChild(sig, nsDSig, "KeyInfo")
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, data := range childElements(keyInfo, nsDSig, "X509Data") {
		for _, c := range childElements(data, nsDSig, "X509Certificate") {
			der, err := decodeBase64(c.Text())
			if err != nil {
				return nil, fmt.Errorf("X509Certificate: %w", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("X509Certificate: %w", err)
			}
			certs = append(certs, cert)
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("KeyInfo has no X509Certificate")
	}
	return certs, nil
}

// checkSignedProperties returns the KeyInfo certificate that the XAdES SigningCertificate(V2) names
// by digest, and the SigningTime.
func checkSignedProperties(props *etree.Element, certs []*x509.Certificate) (*x509.Certificate, time.Time, error) {
	ns := props.NamespaceURI()
	ssp, err := oneChild(props, ns, "SignedSignatureProperties")
	if err != nil {
		return nil, time.Time{}, err
	}
	var signingTime time.Time
	if st := childElements(ssp, ns, "SigningTime"); len(st) == 1 {
		if signingTime, err = parseDateTime(tokenText(st[0])); err != nil {
			return nil, time.Time{}, fmt.Errorf("SigningTime: %w", err)
		}
	}
	sc := append(childElements(ssp, ns, "SigningCertificate"), childElements(ssp, ns, "SigningCertificateV2")...)
	if len(sc) != 1 {
		return nil, time.Time{}, errors.New("SignedSignatureProperties must hold one SigningCertificate")
	}
	for _, certEl := range childElements(sc[0], ns, "Cert") {
		digestEl, err := oneChild(certEl, ns, "CertDigest")
		if err != nil {
			return nil, time.Time{}, err
		}
		h, want, err := readDigest(digestEl, "CertDigest")
		if err != nil {
			return nil, time.Time{}, err
		}
		for _, c := range certs {
			hh := h.New()
			hh.Write(c.Raw)
			if !bytes.Equal(hh.Sum(nil), want) {
				continue
			}
			if err := checkIssuerSerial(certEl, ns, c); err != nil {
				return nil, time.Time{}, err
			}
			return c, signingTime, nil
		}
	}
	return nil, time.Time{}, errors.New("SigningCertificate digest does not match the KeyInfo certificate")
}

// checkIssuerSerial compares the optional IssuerSerial serial number with the certificate. Issuer
// names are not compared: DN string forms differ between tools, and the digest already binds the
// certificate.
func checkIssuerSerial(certEl *etree.Element, ns string, cert *x509.Certificate) error {
	issuerSerial := childElements(certEl, ns, "IssuerSerial")
	if len(issuerSerial) != 1 {
		return nil
	}
	serialEl := childElements(issuerSerial[0], nsDSig, "X509SerialNumber")
	if len(serialEl) != 1 {
		return nil
	}
	serial, ok := new(big.Int).SetString(tokenText(serialEl[0]), 10)
	if !ok || serial.Cmp(cert.SerialNumber) != 0 {
		return errors.New("IssuerSerial does not name the signing certificate")
	}
	return nil
}

func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an xsd:dateTime", s)
}

func checkSignatureValue(pub crypto.PublicKey, m signatureMethod, signed, value []byte) error {
	if !m.hash.Available() {
		return errors.New("signature hash not available")
	}
	h := m.hash.New()
	h.Write(signed)
	digest := h.Sum(nil)
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too short", key.N.BitLen())
		}
		switch m.kind {
		case "rsa":
			if rsa.VerifyPKCS1v15(key, m.hash, digest, value) != nil {
				return errors.New("SignatureValue does not verify with the KeyInfo certificate")
			}
			return nil
		case "rsa-pss":
			if rsa.VerifyPSS(key, m.hash, digest, value, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) != nil {
				return errors.New("SignatureValue does not verify with the KeyInfo certificate")
			}
			return nil
		}
	case *ecdsa.PublicKey:
		if m.kind != "ecdsa" {
			break
		}
		size := (key.Curve.Params().BitSize + 7) / 8
		if key.Curve.Params().BitSize < 256 || len(value) != 2*size {
			return errors.New("ECDSA SignatureValue must be R||S for a curve of at least 256 bits")
		}
		r, s := new(big.Int).SetBytes(value[:size]), new(big.Int).SetBytes(value[size:])
		if !ecdsa.Verify(key, digest, r, s) {
			return errors.New("SignatureValue does not verify with the KeyInfo certificate")
		}
		return nil
	}
	return fmt.Errorf("signature method %s does not fit the certificate key %T", m.kind, pub)
}

func decodeBase64(s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(clean)
}
