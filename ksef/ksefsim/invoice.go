package ksefsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	nsFA3 = "http://crd.gov.pl/wzor/2025/06/25/13775/"
	nsFA2 = "http://crd.gov.pl/wzor/2023/06/29/12648/"

	// megabyte is how the simulator reads KSeF's "MB" (limity.md gives the sizes in MB only): the
	// decimal reading is the smaller one, so a client that keeps to it is never refused by a KSeF
	// that counts in MiB.
	megabyte = 1_000_000
	// maxEntrySize is the most a batch archive entry may hold: the largest limit KSeF lets a
	// context be raised to, 10 MB with attachments (open-api.json
	// BatchSessionContextLimitsOverride, "maximum": 10).
	maxEntrySize = 10 * megabyte
)

// invoiceFacts are the fields the simulator reads from an invoice XML.
type invoiceFacts struct {
	Namespace     string
	SystemCode    string // KodFormularza@kodSystemowy
	SchemaVersion string
	SellerNIP     string
	SellerName    string
	BuyerIDType   string // Nip | VatUe | Other | None
	BuyerID       string
	BuyerName     string
	InvoiceNumber string // P_2
	IssueDate     string // P_1
	InvoiceKind   string // RodzajFaktury
	Currency      string
	Gross         float64
	Net           float64
	Vat           float64
	SelfInvoicing bool
	HasAttachment bool
	HasSubject3   bool
}

// invoiceError is a rejected invoice: Code is the invoice status code (430, 450).
type invoiceError struct {
	Code        int
	Description string
	Details     []string
}

func (e *invoiceError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, e.Description, strings.Join(e.Details, "; "))
}

func verificationError(format string, a ...any) *invoiceError {
	return &invoiceError{Code: 430, Description: "Błąd weryfikacji pliku faktury", Details: []string{fmt.Sprintf(format, a...)}}
}

// parseInvoice checks the encoding rules of KSeF and extracts invoiceFacts. It does not run XSD validation.
func parseInvoice(data []byte) (*invoiceFacts, error) {
	if bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) {
		return nil, verificationError("file starts with a byte order mark (BOM)")
	}
	if !utf8.Valid(data) {
		return nil, verificationError("file is not valid UTF-8")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	f := &invoiceFacts{}
	var stack []string
	var netParts, vatParts []float64
	sawRoot := false
	tokens := -1
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, verificationError("XML is not well-formed: %v", err)
		}
		tokens++
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" || tokens > 0 {
				return nil, verificationError("processing instruction <?%s?> is not allowed", t.Target)
			}
			if enc := procInstAttr(string(t.Inst), "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") {
				return nil, verificationError("declared encoding %q is not UTF-8", enc)
			}
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if sawRoot {
					return nil, verificationError("more than one root element")
				}
				sawRoot = true
				if name != "Faktura" {
					return nil, verificationError("root element is %q, expected Faktura", name)
				}
				for _, a := range t.Attr {
					if a.Name.Space == "" && a.Name.Local == "xmlns" {
						f.Namespace = a.Value
					}
				}
				if t.Name.Space != "" {
					f.Namespace = nsForPrefix(t.Attr, t.Name.Space)
				}
			}
			stack = append(stack, name)
			path := strings.Join(stack, "/")
			if path == "Faktura/Naglowek/KodFormularza" {
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "kodSystemowy":
						f.SystemCode = a.Value
					case "wersjaSchemy":
						f.SchemaVersion = a.Value
					}
				}
			}
			if name == "Zalacznik" && len(stack) == 2 {
				f.HasAttachment = true
			}
			if name == "Podmiot3" && len(stack) == 2 {
				f.HasSubject3 = true
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, verificationError("unbalanced end element")
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, verificationError("text outside the root element")
				}
				continue
			}
			v := strings.TrimSpace(string(t))
			switch strings.Join(stack, "/") {
			case "Faktura/Podmiot1/DaneIdentyfikacyjne/NIP":
				f.SellerNIP = v
			case "Faktura/Podmiot1/DaneIdentyfikacyjne/Nazwa":
				f.SellerName = v
			case "Faktura/Podmiot2/DaneIdentyfikacyjne/NIP":
				f.BuyerIDType, f.BuyerID = "Nip", v
			case "Faktura/Podmiot2/DaneIdentyfikacyjne/NrVatUE":
				f.BuyerIDType, f.BuyerID = "VatUe", v
			case "Faktura/Podmiot2/DaneIdentyfikacyjne/NrID":
				f.BuyerIDType, f.BuyerID = "Other", v
			case "Faktura/Podmiot2/DaneIdentyfikacyjne/BrakID":
				f.BuyerIDType = "None"
			case "Faktura/Podmiot2/DaneIdentyfikacyjne/Nazwa":
				f.BuyerName = v
			case "Faktura/Fa/P_2":
				f.InvoiceNumber = v
			case "Faktura/Fa/P_1":
				f.IssueDate = v
			case "Faktura/Fa/RodzajFaktury":
				f.InvoiceKind = v
			case "Faktura/Fa/KodWaluty":
				f.Currency = v
			case "Faktura/Fa/P_15":
				f.Gross, _ = strconv.ParseFloat(v, 64)
			case "Faktura/Fa/Adnotacje/P_17":
				f.SelfInvoicing = v == "1"
			default:
				if len(stack) == 3 && stack[1] == "Fa" {
					if x, err := strconv.ParseFloat(v, 64); err == nil {
						switch {
						case strings.HasPrefix(stack[2], "P_13_"):
							netParts = append(netParts, x)
						case strings.HasPrefix(stack[2], "P_14_") && !strings.HasSuffix(stack[2], "W"):
							vatParts = append(vatParts, x)
						}
					}
				}
			}
		case xml.Directive:
			return nil, verificationError("DOCTYPE/directives are not allowed")
		}
	}
	if !sawRoot {
		return nil, verificationError("document has no root element")
	}
	for _, x := range netParts {
		f.Net += x
	}
	for _, x := range vatParts {
		f.Vat += x
	}
	if err := f.requireFields(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *invoiceFacts) requireFields() error {
	var missing []string
	for name, v := range map[string]string{"Naglowek/KodFormularza@kodSystemowy": f.SystemCode, "Podmiot1/DaneIdentyfikacyjne/NIP": f.SellerNIP, "Fa/P_2": f.InvoiceNumber, "Fa/P_1": f.IssueDate, "Fa/RodzajFaktury": f.InvoiceKind, "Fa/KodWaluty": f.Currency} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return verificationError("missing required elements: %s", strings.Join(missing, ", "))
	}
	if f.BuyerIDType == "" {
		f.BuyerIDType = "None"
	}
	return nil
}

func nsForPrefix(attrs []xml.Attr, prefix string) string {
	for _, a := range attrs {
		if a.Name.Space == "xmlns" && a.Name.Local == prefix {
			return a.Value
		}
	}
	return ""
}

func procInstAttr(inst, name string) string {
	i := strings.Index(inst, name+"=")
	if i < 0 {
		return ""
	}
	rest := inst[i+len(name)+1:]
	if len(rest) < 2 {
		return ""
	}
	q := rest[0]
	j := strings.IndexByte(rest[1:], q)
	if j < 0 {
		return ""
	}
	return rest[1 : 1+j]
}

// formSpec describes what a session's formCode requires of its invoices.
type formSpec struct {
	SystemCode, SchemaVersion, Value, Namespace, Structure string
}

var supportedForms = []formSpec{
	{"FA (3)", "1-0E", "FA", nsFA3, "Schemat_FA(3)_v1-0E.xsd"},
	{"FA (2)", "1-0E", "FA", nsFA2, "Schemat_FA(2)_v1-0E.xsd"},
}

func lookupForm(systemCode, schemaVersion, value string) (formSpec, bool) {
	for _, f := range supportedForms {
		if f.SystemCode == systemCode && f.SchemaVersion == schemaVersion && f.Value == value {
			return f, true
		}
	}
	return formSpec{}, false
}

// checkInvoice applies the per-invoice content rules for a session of form fs and context NIP,
// whose session kind allows invoices of the sizes in limits.
func checkInvoice(data []byte, fs formSpec, contextNIP string, batch bool, limits sessionLimits) (*invoiceFacts, *invoiceError) {
	f, err := parseInvoice(data)
	if err != nil {
		var ie *invoiceError
		if errors.As(err, &ie) {
			return nil, ie
		}
		return nil, verificationError("%v", err)
	}
	if f.Namespace != fs.Namespace {
		return nil, verificationError("root namespace %q does not match form %s (%s)", f.Namespace, fs.SystemCode, fs.Namespace)
	}
	if f.SystemCode != fs.SystemCode {
		return nil, verificationError("KodFormularza kodSystemowy %q does not match session form %q", f.SystemCode, fs.SystemCode)
	}
	// The sizes are the context's, not fixed: KSeF raises them per context on request ("kontekstu -
	// np. zwiększenie maksymalnego rozmiaru faktury", limity.md "Dostosowanie limitów") and tells
	// the context its limits in GET /limits/context.
	limit := limits.MaxInvoiceSizeInMB * megabyte
	if f.HasAttachment {
		if !batch {
			return nil, &invoiceError{Code: 415, Description: "Brak możliwości wysyłania faktury z załącznikiem", Details: []string{"invoices with Zalacznik may only be sent in a batch session"}}
		}
		limit = limits.MaxInvoiceWithAttachmentSizeInMB * megabyte
	}
	if len(data) > limit {
		return nil, verificationError("invoice size %d exceeds the limit of %d bytes", len(data), limit)
	}
	if ie := checkSchema(data, fs); ie != nil {
		return nil, ie
	}
	if ie := checkRealism(data, f); ie != nil {
		return nil, ie
	}
	if f.SellerNIP != contextNIP && !selfBilledBy(f, contextNIP) {
		return nil, &invoiceError{Code: 450, Description: "Błąd weryfikacji semantyki dokumentu faktury", Details: []string{fmt.Sprintf("semantic error: seller NIP %s differs from context NIP %s", f.SellerNIP, contextNIP)}}
	}
	return f, nil
}
