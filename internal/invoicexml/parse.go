package invoicexml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/nip"
	"github.com/ksef-sync/ksef-sync/internal/xsd"
)

// Element paths below the root Faktura.
const (
	pathKodFormularza = "Naglowek/KodFormularza"
	pathP1            = "Fa/P_1"
	pathP2            = "Fa/P_2"
	pathRodzaj        = "Fa/RodzajFaktury"
	pathP17           = "Fa/Adnotacje/P_17"
	pathSellerNIP     = "Podmiot1/DaneIdentyfikacyjne/NIP"
	pathBuyerNIP      = "Podmiot2/DaneIdentyfikacyjne/NIP"
	pathPodmiot3      = "Podmiot3"
	pathPodmiot3NIP   = "Podmiot3/DaneIdentyfikacyjne/NIP"
	pathPodmiot3Rola  = "Podmiot3/Rola"
	pathPodmiot3IDWew = "Podmiot3/DaneIdentyfikacyjne/IDWew"
	pathAuthorisedNIP = "PodmiotUpowazniony/DaneIdentyfikacyjne/NIP"
	pathZalacznik     = "Zalacznik"
)

var capturedPaths = map[string]bool{
	pathP1: true, pathP2: true, pathRodzaj: true, pathP17: true, pathSellerNIP: true, pathBuyerNIP: true,
	pathPodmiot3NIP: true, pathPodmiot3Rola: true,
}

// nipPaths are the parties' NIPs whose check digit KSeF production verifies
// (weryfikacja-faktury.md, "Walidacja numeru NIP": "Sprawdzenie sumy kontrolnej NIP dla:
// Podmiot1, Podmiot2, Podmiot3 oraz PodmiotUpowazniony", and "w identyfikatorze wewnętrznym
// (InternalId) dla Podmiot3", whose first ten digits are a NIP).
var nipPaths = map[string]bool{
	pathSellerNIP: true, pathBuyerNIP: true, pathPodmiot3NIP: true, pathPodmiot3IDWew: true, pathAuthorisedNIP: true,
}

// nipField is one party's NIP as the file gives it, with the line it ends on.
type nipField struct {
	path, value string
	line        int
}

// Other logical structures a file may be, so the rejection can say what was found.
var knownNamespaces = map[string]string{
	"http://crd.gov.pl/wzor/2023/06/29/12648/": "FA(2)",
	"http://crd.gov.pl/wzor/2021/11/29/11089/": "FA(1)",
}

// unsupportedForms are the other KSeF invoice forms, recognised by the root's namespace so the
// rejection says what the file is and that ksef-sync cannot send it yet. The FA_RR(1) namespace is
// the one its schema (schemat_FA_RR(1)_v1-1E.xsd, CIRFMF/ksef-docs) declares; PEF invoices are
// Peppol UBL 2.1 documents.
var unsupportedForms = map[string]string{
	"http://crd.gov.pl/wzor/2026/03/06/14189/":                  "FA_RR(1) (faktura VAT RR)",
	"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2":    "PEF (UBL Invoice)",
	"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2": "PEF_KOR (UBL CreditNote)",
}

var hintUnsupportedForm = msg.M(msg.InvUnsupportedFormHint)

// podmiot3IssuerRoles are Podmiot3/Rola values of a party issuing the invoice for the seller
// (5 wystawca, 7 JST – wystawca, 9 członek grupy VAT – wystawca).
var podmiot3IssuerRoles = map[string]bool{"5": true, "7": true, "9": true}

type party struct{ nip, role string }

// invoiceScan is the state of one streaming pass over an invoice.
type invoiceScan struct {
	dec      *xml.Decoder
	input    []byte
	tokStart int // offset in input where the current token starts
	path     []string
	joined   []string // joined[i] is current() while path has i+1 elements: joined once per element
	values   map[string]string
	text     strings.Builder
	kod      *string
	rootSeen bool
	rootDone bool
	tokens   int
	attach   bool
	podmiot3 []party
	nips     []nipField
	schema   *xsd.Stream // validates the same tokens against FA(3)
}

// parse reads the invoice once: its own checks, and every token also goes to schema.
func parse(text []byte, contextNIP string, schema *xsd.Stream) (*Prepared, *Error) {
	s := &invoiceScan{dec: xml.NewDecoder(bytes.NewReader(text)), input: text, values: map[string]string{}, schema: schema}
	s.dec.Strict = true
	for {
		s.tokStart = int(s.dec.InputOffset())
		tok, err := s.dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, s.syntaxError(err)
		}
		if e := s.handle(tok); e != nil {
			return nil, e
		}
		s.schema.Token(tok, int64(s.tokStart))
		s.tokens++
	}
	if !s.rootSeen {
		return nil, s.notXML("the file contains no XML element")
	}
	return s.result(contextNIP)
}

func (s *invoiceScan) handle(tok xml.Token) *Error {
	switch t := tok.(type) {
	case xml.ProcInst:
		if t.Target == "xml" && s.tokens == 0 {
			return nil
		}
		line, col := position(s.input, s.tokStart)
		return reject(CodeProcessingInstruction, msg.M(msg.InvProcInstHint), msg.InvProcInstDesc, t.Target, line, col)
	case xml.Directive:
		line, _ := position(s.input, s.tokStart)
		word, _, _ := strings.Cut(strings.TrimSpace(string(t)), " ")
		return reject(CodeDoctype, msg.M(msg.InvDoctypeHint), msg.InvDoctypeDesc, word, line)
	case xml.StartElement:
		return s.start(t)
	case xml.EndElement:
		s.end()
	case xml.CharData:
		if len(s.path) == 0 {
			if trimmed := bytes.TrimLeft(t, " \t\r\n"); len(trimmed) > 0 {
				line, col := position(s.input, s.tokStart+len(t)-len(trimmed))
				return s.notXMLAt(line, col, "text outside the root element")
			}
		} else if p := s.current(); capturedPaths[p] || nipPaths[p] {
			s.text.Write(t)
		}
	}
	return nil
}

// maxInterestingDepth is the depth of the deepest path we read (root + 3 levels); deeper
// elements are never joined, which keeps deeply nested input linear.
const maxInterestingDepth = 4

// current is the path of the open element below the root ("Fa/P_1"), "" for the root and for
// elements deeper than any path we read. It was joined afresh for every text token (90 MB of
// garbage in a 10,000-invoice burst); now once when the element opens (push).
func (s *invoiceScan) current() string {
	if len(s.joined) == 0 {
		return ""
	}
	return s.joined[len(s.joined)-1]
}

// push opens element name: its path joins the parent's.
func (s *invoiceScan) push(name string) {
	s.path = append(s.path, name)
	var p string
	switch depth := len(s.path); {
	case depth == 2:
		p = name
	case depth > 2 && depth <= maxInterestingDepth:
		p = s.joined[len(s.joined)-1] + "/" + name
	}
	s.joined = append(s.joined, p)
}

// pop closes the open element.
func (s *invoiceScan) pop() {
	s.path = s.path[:len(s.path)-1]
	s.joined = s.joined[:len(s.joined)-1]
}

func (s *invoiceScan) start(t xml.StartElement) *Error {
	if err := s.checkDuplicateAttrs(t); err != nil {
		return err
	}
	if len(s.path) == 0 {
		if s.rootDone {
			return s.notXML("a second root element <" + t.Name.Local + "> after </Faktura>")
		}
		if err := checkRoot(t.Name); err != nil {
			return err
		}
		s.rootSeen = true
	}
	name := t.Name.Local
	if t.Name.Space != FA3Namespace {
		name = "{" + t.Name.Space + "}" + name // never matches a captured path
	}
	s.push(name)
	s.text.Reset()
	switch s.current() {
	case pathKodFormularza:
		kod := attr(t, "kodSystemowy")
		s.kod = &kod
	case pathZalacznik:
		s.attach = true
	case pathPodmiot3:
		s.podmiot3 = append(s.podmiot3, party{})
	}
	return nil
}

func (s *invoiceScan) end() {
	p := s.current()
	if nipPaths[p] {
		line, _ := s.dec.InputPos()
		s.nips = append(s.nips, nipField{path: p, value: strings.TrimSpace(s.text.String()), line: line})
	}
	if capturedPaths[p] {
		v := strings.TrimSpace(s.text.String())
		switch p {
		case pathPodmiot3NIP:
			s.podmiot3[len(s.podmiot3)-1].nip = v
		case pathPodmiot3Rola:
			s.podmiot3[len(s.podmiot3)-1].role = v
		default:
			if _, dup := s.values[p]; !dup {
				s.values[p] = v
			}
		}
	}
	s.pop()
	if len(s.path) == 0 {
		s.rootDone = true
	}
}

func (s *invoiceScan) checkDuplicateAttrs(t xml.StartElement) *Error {
	for i, a := range t.Attr {
		for _, b := range t.Attr[:i] {
			if a.Name == b.Name {
				return s.notXML(fmt.Sprintf("attribute %s appears twice in <%s>", a.Name.Local, t.Name.Local))
			}
		}
	}
	return nil
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

var hintNotFA3 = msg.M(msg.InvNotFA3Hint)

func checkRoot(n xml.Name) *Error {
	if n.Local == "Faktura" && n.Space == FA3Namespace {
		return nil
	}
	if form, ok := unsupportedForms[n.Space]; ok {
		return reject(CodeUnsupportedForm, hintUnsupportedForm, msg.InvUnsupportedFormDesc, form, n.Local, n.Space)
	}
	if n.Local == "Faktura" {
		if name, ok := knownNamespaces[n.Space]; ok {
			return reject(CodeNotFA3, hintNotFA3, msg.InvOtherVersionDesc, name, n.Space)
		}
		return reject(CodeNotFA3, hintNotFA3, msg.InvWrongNamespaceDesc, n.Space, FA3Namespace)
	}
	return reject(CodeNotFA3, msg.M(msg.InvNotInvoiceHint), msg.InvNotInvoiceDesc, n.Local)
}

func (s *invoiceScan) notXML(text string) *Error {
	line, col := s.dec.InputPos()
	return s.notXMLAt(line, col, text)
}

func (s *invoiceScan) notXMLAt(line, col int, text string) *Error {
	e := reject(CodeNotXML, msg.M(msg.InvNotXMLHint), msg.InvNotXMLDesc, line, col, text)
	e.Line = line
	return e
}

func (s *invoiceScan) syntaxError(err error) *Error {
	text := err.Error()
	if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
		text = se.Msg
	}
	return s.notXML(text)
}

func (s *invoiceScan) result(contextNIP string) (*Prepared, *Error) {
	switch {
	case s.kod == nil:
		return nil, atField(pathKodFormularza, reject(CodeNotFA3, hintNotFA3, msg.InvNoKodFormularzaDesc))
	case strings.HasPrefix(*s.kod, "FA_RR") || strings.HasPrefix(*s.kod, "PEF"):
		return nil, atField(pathKodFormularza, reject(CodeUnsupportedForm, hintUnsupportedForm, msg.InvKodUnsupportedDesc, *s.kod))
	case *s.kod != "FA (3)":
		return nil, atField(pathKodFormularza, reject(CodeNotFA3, hintNotFA3, msg.InvKodNotFA3Desc, *s.kod))
	}
	for _, f := range []struct {
		path string
		what msg.Key
	}{
		{pathP2, msg.InvFieldP2},
		{pathP1, msg.InvFieldP1},
		{pathSellerNIP, msg.InvFieldSellerNIP},
	} {
		if s.values[f.path] == "" {
			e := atField(f.path, reject(CodeMissingField, msg.M(msg.InvMissingFieldHint, f.what), msg.InvMissingFieldDesc, f.what))
			e.InvoiceNumber = s.values[pathP2] // P_1 or the NIP is missing: P_2 may still be known
			return nil, e
		}
	}
	p := &Prepared{
		InvoiceNumber: s.values[pathP2],
		IssueDate:     s.values[pathP1],
		SellerNIP:     s.values[pathSellerNIP],
		InvoiceType:   s.values[pathRodzaj],
		HasAttachment: s.attach,
		nips:          s.nips,
	}
	if contextNIP != "" && !s.issuedFor(contextNIP) {
		e := atField(pathSellerNIP, reject(CodeWrongSellerNIP, msg.M(msg.InvWrongSellerHint), msg.InvWrongSellerDesc, p.SellerNIP, contextNIP))
		e.InvoiceNumber = p.InvoiceNumber
		e.Line = s.lineOf(pathSellerNIP)
		return nil, e
	}
	return p, nil
}

// issuedFor reports whether the context may issue the invoice: as the seller, as the buyer in
// self-billing (samofakturowanie, P_17 = 1), or as a third party issuing for the seller.
func (s *invoiceScan) issuedFor(nip string) bool {
	if s.values[pathSellerNIP] == nip {
		return true
	}
	if s.values[pathP17] == "1" && s.values[pathBuyerNIP] == nip {
		return true
	}
	for _, p := range s.podmiot3 {
		if p.nip == nip && podmiot3IssuerRoles[p.role] {
			return true
		}
	}
	return false
}

// position returns the 1-based line and column (in characters) of offset in text.
func position(text []byte, offset int) (line, col int) {
	offset = min(offset, len(text))
	lineStart := bytes.LastIndexByte(text[:offset], '\n') + 1
	return bytes.Count(text[:offset], []byte{'\n'}) + 1, utf8.RuneCount(text[lineStart:offset]) + 1
}

// atField names the element at fault.
// lineOf is the line the first NIP at path ends on, or 0.
func (s *invoiceScan) lineOf(path string) int {
	for _, f := range s.nips {
		if f.path == path {
			return f.line
		}
	}
	return 0
}

// checkPartyNIPs refuses the first party NIP with a wrong check digit (for IDWew, its first ten
// digits): KSeF production refuses the invoice, and the ERP's typo is cheaper to fix now.
func checkPartyNIPs(nips []nipField) *Error {
	for _, f := range nips {
		id := f.value
		if f.path == pathPodmiot3IDWew {
			id, _, _ = strings.Cut(id, "-")
		}
		if nip.Valid(id) {
			continue
		}
		e := atField(f.path, reject(CodeInvalidNIP, msg.M(msg.InvInvalidNIPHint, f.path), msg.InvInvalidNIPDesc, f.value, f.path))
		e.Line = f.line
		return e
	}
	return nil
}

func atField(path string, e *Error) *Error {
	e.Field = path
	return e
}
