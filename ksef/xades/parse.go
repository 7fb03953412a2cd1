package xades

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// maxDocumentSize bounds what we parse; a real AuthTokenRequest with a certificate chain is a few KB.
const maxDocumentSize = 1 << 20

var (
	errEncoding    = errors.New("document is not valid UTF-8")
	challengeRegex = regexp.MustCompile(`^\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}$`)
	contextRegex   = map[string]*regexp.Regexp{
		"Nip":        nipPattern,
		"InternalId": regexp.MustCompile(`^[1-9]((\d[1-9])|([1-9]\d))\d{7}-\d{5}$`),
		// The XSD enumerates every EU VAT number format; the shape is enough here.
		"NipVatUe": regexp.MustCompile(`^[1-9]((\d[1-9])|([1-9]\d))\d{7}-[A-Z]{2}[A-Z0-9+*]{2,12}$`),
		"PeppolId": regexp.MustCompile(`^P[A-Z]{2}[0-9]{6}$`),
	}
)

// parseDocument parses an XML document, refusing anything a hostile sender could use against the
// parser or the signature: DTDs (and with them entity declarations), unknown entities, non-UTF-8
// input, several top-level elements and oversized input.
func parseDocument(data []byte) (*etree.Document, error) {
	if len(data) > maxDocumentSize {
		return nil, fmt.Errorf("document larger than %d bytes", maxDocumentSize)
	}
	if !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, errEncoding
	}
	if err := scanDocument(data); err != nil {
		return nil, err
	}
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("not well-formed XML: %w", err)
	}
	if tree.Root() == nil {
		return nil, errors.New("document has no root element")
	}
	return tree, nil
}

func scanDocument(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var badCharset string
	dec.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "utf8") {
			return input, nil
		}
		badCharset = charset
		return nil, errEncoding
	}
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if badCharset != "" {
				return fmt.Errorf("%w: declared encoding %q", errEncoding, badCharset)
			}
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("DTDs and entity declarations are not allowed")
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text outside the root element")
			}
		}
	}
	if roots != 1 {
		return fmt.Errorf("document has %d root elements", roots)
	}
	return nil
}

func isElement(el *etree.Element, namespace, tag string) bool {
	return el != nil && el.Tag == tag && el.NamespaceURI() == namespace
}

// childElements returns the element children of el in namespace ns with local name tag.
func childElements(el *etree.Element, namespace, tag string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if isElement(c, namespace, tag) {
			out = append(out, c)
		}
	}
	return out
}

func oneChild(el *etree.Element, namespace, tag string) (*etree.Element, error) {
	cs := childElements(el, namespace, tag)
	if len(cs) != 1 {
		return nil, fmt.Errorf("%s must have exactly one %s, has %d", el.Tag, tag, len(cs))
	}
	return cs[0], nil
}

func tokenText(el *etree.Element) string { return strings.TrimSpace(el.Text()) }

// readRequest checks the AuthTokenRequest against the 2.0/2.1 XSD structure (the ds:Signature child is
// skipped: KSeF accepts it there although the XSD does not list it) and extracts its values.
func readRequest(root *etree.Element) (*AuthTokenRequest, error) {
	ns := root.NamespaceURI()
	if root.Tag != "AuthTokenRequest" || (ns != NamespaceAuth20 && ns != NamespaceAuth21) {
		return nil, fmt.Errorf("root element must be AuthTokenRequest in %s or %s, got {%s}%s", NamespaceAuth20, NamespaceAuth21, ns, root.Tag)
	}
	for _, tok := range root.Child {
		if cd, ok := tok.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return nil, errors.New("unexpected text in AuthTokenRequest")
		}
	}
	var children []*etree.Element
	for _, c := range root.ChildElements() {
		if !isElement(c, nsDSig, "Signature") {
			children = append(children, c)
		}
	}
	expected := []struct {
		tag      string
		optional bool
	}{{"Challenge", false}, {"ContextIdentifier", false}, {"SubjectIdentifierType", false}, {"AuthorizationPolicy", true}}
	byTag := map[string]*etree.Element{}
	i := 0
	for _, e := range expected {
		if i < len(children) && isElement(children[i], ns, e.tag) {
			byTag[e.tag] = children[i]
			i++
			continue
		}
		if !e.optional {
			return nil, fmt.Errorf("missing element %s (elements must follow the XSD order)", e.tag)
		}
	}
	if i < len(children) {
		return nil, fmt.Errorf("unexpected element %s", children[i].Tag)
	}

	req := &AuthTokenRequest{Challenge: tokenText(byTag["Challenge"])}
	if !challengeRegex.MatchString(req.Challenge) {
		return nil, fmt.Errorf("Challenge %q does not match the required pattern", req.Challenge)
	}
	ctxChildren := byTag["ContextIdentifier"].ChildElements()
	if len(ctxChildren) != 1 || ctxChildren[0].NamespaceURI() != ns || contextRegex[ctxChildren[0].Tag] == nil {
		return nil, errors.New("ContextIdentifier must hold exactly one of Nip, InternalId, NipVatUe, PeppolId")
	}
	req.ContextType, req.ContextValue = ctxChildren[0].Tag, tokenText(ctxChildren[0])
	if !contextRegex[req.ContextType].MatchString(req.ContextValue) {
		return nil, fmt.Errorf("%s %q has an invalid format", req.ContextType, req.ContextValue)
	}
	req.SubjectIdentifierType = tokenText(byTag["SubjectIdentifierType"])
	if req.SubjectIdentifierType != SubjectCertificateSubject && req.SubjectIdentifierType != SubjectCertificateFingerprint {
		return nil, fmt.Errorf("SubjectIdentifierType %q is not certificateSubject or certificateFingerprint", req.SubjectIdentifierType)
	}
	if policy := byTag["AuthorizationPolicy"]; policy != nil {
		if err := checkAuthorizationPolicy(policy, ns); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func checkAuthorizationPolicy(policy *etree.Element, ns string) error {
	kids := policy.ChildElements()
	if len(kids) != 1 || !isElement(kids[0], ns, "AllowedIps") {
		return errors.New("AuthorizationPolicy must hold exactly one AllowedIps")
	}
	counts := map[string]int{}
	for _, ip := range kids[0].ChildElements() {
		switch {
		case isElement(ip, ns, "Ip4Address"), isElement(ip, ns, "Ip4Range"), isElement(ip, ns, "Ip4Mask"):
			counts[ip.Tag]++
			if counts[ip.Tag] > 10 {
				return fmt.Errorf("more than 10 %s elements", ip.Tag)
			}
		default:
			return fmt.Errorf("unexpected element %s in AllowedIps", ip.Tag)
		}
	}
	return nil
}
