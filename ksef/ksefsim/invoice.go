package ksefsim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
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
	// OtherNIPs are the NIPs of the third subjects (Podmiot3, by NIP or by the NIP that begins an
	// IDWew) and of the authorized subject (PodmiotUpowazniony), whose check digits KSeF verifies.
	OtherNIPs []partyNIP
}

// partyNIP is a NIP found in an invoice and the element it was found in.
type partyNIP struct {
	Where, NIP string
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
			case "Faktura/Podmiot3/DaneIdentyfikacyjne/NIP", "Faktura/PodmiotUpowazniony/DaneIdentyfikacyjne/NIP":
				f.OtherNIPs = append(f.OtherNIPs, partyNIP{stack[1] + "/DaneIdentyfikacyjne/NIP", v})
			case "Faktura/Podmiot3/DaneIdentyfikacyjne/IDWew":
				// TNIPIdWew: the unit's NIP, a hyphen and five digits ("[1-9]((\d[1-9])|([1-9]\d))\d{7}-\d{5}").
				nip, _, _ := strings.Cut(v, "-")
				f.OtherNIPs = append(f.OtherNIPs, partyNIP{"Podmiot3/DaneIdentyfikacyjne/IDWew", nip})
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
// whose session kind allows invoices of the sizes in limits. attachmentsAllowed says whether the
// invoice may carry a Zalacznik where it is sent (see attachmentsAllowedIn).
func checkInvoice(data []byte, fs formSpec, contextNIP string, attachmentsAllowed bool, limits sessionLimits) (*invoiceFacts, *invoiceError) {
	f, err := parseInvoice(data)
	if err != nil {
		var ie *invoiceError
		if errors.As(err, &ie) {
			return nil, ie
		}
		return nil, verificationError("%v", err)
	}
	if ie := checkForm(f, fs); ie != nil {
		return nil, ie
	}
	// The sizes are the context's, not fixed: KSeF raises them per context on request ("kontekstu -
	// np. zwiększenie maksymalnego rozmiaru faktury", limity.md "Dostosowanie limitów") and tells
	// the context its limits in GET /limits/context.
	limit := limits.MaxInvoiceSizeInMB * megabyte
	if f.HasAttachment {
		if !attachmentsAllowed {
			// The detail is the simulator's own: no production answer to this case is quoted.
			return nil, attachmentRefused("Faktura z załącznikiem może zostać wysłana tylko w sesji wsadowej.")
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
		return nil, notEntitledToIssue(contextNIP, f.SellerNIP) // self_billing.go
	}
	return f, nil
}

// attachmentsAllowedIn says where an invoice may carry a Zalacznik: "Wysyłka faktur z załącznikami
// jest dozwolona tylko w trybie wsadowym. Wyjątek: W przypadku przesyłania korekty technicznej
// faktury offline dopuszczalne jest użycie sesji interaktywnej." (weryfikacja-faktury.md,
// "Ograniczenia dotyczące załączników"). A technical correction is a send with
// hashOfCorrectedInvoice (correction.go).
func attachmentsAllowedIn(batch bool, inv *invoice) bool {
	return batch || inv.CorrectedHash != ""
}

// attachmentRefused is invoice status 415 "Brak możliwości wysyłania faktury z załącznikiem"
// (open-api.json, SessionInvoiceStatusResponse.status) with detail.
func attachmentRefused(detail string) *invoiceError {
	return &invoiceError{Code: 415, Description: "Brak możliwości wysyłania faktury z załącznikiem", Details: []string{detail}}
}

// checkForm refuses an invoice of another form than the session's. The invoice "musi być zgodna z
// zadeklarowanym schematem podanym przy otwarciu sesji" (weryfikacja-faktury.md, "Weryfikacja
// XML"), so another root namespace or KodFormularza@kodSystemowy fails that schema, and KSeF
// answers schema errors with 450 and the .NET validator's message: "Błąd weryfikacji semantyki
// dokumentu faktury The value of the 'kodSystemowy' attribute does not equal its fixed value."
// (CIRFMF/ksef-api #495). The namespace message is .NET's for an element its schema does not
// declare; no production answer quotes it.
func checkForm(f *invoiceFacts, fs formSpec) *invoiceError {
	if f.Namespace != fs.Namespace {
		root := "Faktura"
		if f.Namespace != "" {
			root = f.Namespace + ":Faktura"
		}
		return semanticError("The '%s' element is not declared.", root)
	}
	if f.SystemCode != fs.SystemCode {
		return semanticError("The value of the 'kodSystemowy' attribute does not equal its fixed value.")
	}
	return nil
}

// checkDeclared compares a decrypted online invoice with the invoiceSize and invoiceHash its send
// declared. KSeF checks those only after it took the send (202; the 400 codes 21402 "Długość treści
// nie zgadza się z rozmiarem pliku." and 21403 of open-api.json concern the encrypted content) and
// ends the invoice with 430 "Błąd weryfikacji pliku faktury", in production's words
// "Rozmiar przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: 2965." (the declared
// invoiceSize; CIRFMF/ksef-api #128; #234 quotes an older wording, "Rozmiar faktury nie zgadza się z
// zadeklarowaną wartością: '1798'."). No answer to a wrong invoiceHash is quoted: its words are ours.
func checkDeclared(plain []byte, size int64, hash string) *invoiceError {
	if int64(len(plain)) != size {
		return verificationError("Rozmiar przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: %d.", size)
	}
	if sha256B64(plain) != hash {
		return verificationError("Skrót przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: %s.", hash)
	}
	return nil
}

// checkAtAcceptanceLocked applies the rules that depend on the simulator's state or on when the
// invoice came, after its content passed: the seller's SelfInvoicing grant (self_billing.go), the
// issue date and the attachment consent (attachments.go). Callers hold s.mu.
func (s *Server) checkAtAcceptanceLocked(inv *invoice, f *invoiceFacts) *invoiceError {
	if ie := s.checkSelfBillingLocked(f, inv.ContextNIP); ie != nil {
		return ie
	}
	if ie := checkIssueDate(f, inv.Received); ie != nil {
		return ie
	}
	return s.checkAttachmentConsentLocked(f, inv.ContextNIP, inv.Received)
}

// checkIssueDate refuses an invoice dated after the day KSeF received it: "Data wystawienia
// faktury (P_1) nie może być późniejsza niż data przyjęcia dokumentu do systemu KSeF"
// (weryfikacja-faktury.md, "Walidacja dat"). The day is Poland's, as P_1's is, and received is the
// moment the offline marking (recordInvoiceLocked) compares P_1 with too: the send of an online
// invoice, the opening of a batch session. The text names no status code: 450 "Błąd weryfikacji
// semantyki dokumentu faktury" is assumed, and the detail is the simulator's own.
func checkIssueDate(f *invoiceFacts, received time.Time) *invoiceError {
	day := received.In(plzone.Warsaw).Format(time.DateOnly)
	if f.IssueDate > day {
		return semanticError("Data wystawienia faktury (P_1) %s jest późniejsza niż data przyjęcia dokumentu do systemu KSeF (%s).", f.IssueDate, day)
	}
	return nil
}
