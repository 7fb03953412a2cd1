package xades

import (
	"crypto"
	"fmt"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// XML-DSig and XAdES identifiers.
const (
	nsDSig     = "http://www.w3.org/2000/09/xmldsig#"
	nsXAdES132 = "http://uri.etsi.org/01903/v1.3.2#"
	nsXAdES141 = "http://uri.etsi.org/01903/v1.4.1#"
	nsExcC14N  = "http://www.w3.org/2001/10/xml-exc-c14n#"

	algExcC14N         = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algExcC14NComments = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
	algC14N10          = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	algC14N10Comments  = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
	algC14N11          = "http://www.w3.org/2006/12/xml-c14n11"
	algC14N11Comments  = "http://www.w3.org/2006/12/xml-c14n11#WithComments"
	algEnveloped       = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

	algSHA1     = "http://www.w3.org/2000/09/xmldsig#sha1"
	algSHA224   = "http://www.w3.org/2001/04/xmldsig-more#sha224"
	algSHA256   = "http://www.w3.org/2001/04/xmlenc#sha256"
	algSHA384   = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	algSHA512   = "http://www.w3.org/2001/04/xmlenc#sha512"
	algSHA3_256 = "http://www.w3.org/2007/05/xmldsig-more#sha3-256"
	algSHA3_384 = "http://www.w3.org/2007/05/xmldsig-more#sha3-384"
	algSHA3_512 = "http://www.w3.org/2007/05/xmldsig-more#sha3-512"

	algRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

	typeSignedProperties = "http://uri.etsi.org/01903#SignedProperties"
)

var digestAlgorithms = map[string]crypto.Hash{
	algSHA1:     crypto.SHA1,
	algSHA224:   crypto.SHA224,
	algSHA256:   crypto.SHA256,
	algSHA384:   crypto.SHA384,
	algSHA512:   crypto.SHA512,
	algSHA3_256: crypto.SHA3_256,
	algSHA3_384: crypto.SHA3_384,
	algSHA3_512: crypto.SHA3_512,
}

func isC14N(alg string) bool {
	switch alg {
	case algExcC14N, algExcC14NComments, algC14N10, algC14N10Comments, algC14N11, algC14N11Comments:
		return true
	}
	return false
}

// canonicalize serialises el (still attached to its document, so that inherited namespace
// declarations are known) with the c14n algorithm alg. el itself is not modified.
func canonicalize(el *etree.Element, alg, inclusivePrefixes string) ([]byte, error) {
	detached, err := canonicalCopy(el)
	if err != nil {
		return nil, err
	}
	return canonicalizeDetached(detached, alg, inclusivePrefixes)
}

// canonicalizeDetached canonicalises an element that carries all its in-scope namespace declarations
// itself (a root, or the result of NSDetatch). It may modify el.
func canonicalizeDetached(el *etree.Element, alg, inclusivePrefixes string) ([]byte, error) {
	var c dsig.Canonicalizer
	switch alg {
	case algExcC14N:
		c = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(inclusivePrefixes)
	case algExcC14NComments:
		c = dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList(inclusivePrefixes)
	case algC14N10:
		c = dsig.MakeC14N10RecCanonicalizer()
	case algC14N10Comments:
		c = dsig.MakeC14N10WithCommentsCanonicalizer()
	case algC14N11:
		c = dsig.MakeC14N11Canonicalizer()
	case algC14N11Comments:
		c = dsig.MakeC14N11WithCommentsCanonicalizer()
	default:
		return nil, fmt.Errorf("unsupported canonicalization %q", alg)
	}
	return c.Canonicalize(el)
}

// stripComments removes comment nodes: same-document references ("" and "#id") select node-sets
// without comments whatever c14n variant follows.
func stripComments(el *etree.Element) {
	for i := len(el.Child) - 1; i >= 0; i-- {
		switch tok := el.Child[i].(type) {
		case *etree.Comment:
			el.RemoveChildAt(i)
		case *etree.Element:
			stripComments(tok)
		}
	}
}
