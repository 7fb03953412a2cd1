// Package invoicexml checks and normalises invoice XML files exported by legacy ERPs before they are
// registered in KSeF.
//
// KSeF rejects (or, since API 2.4.0, will reject) files with a BOM, a non-UTF-8 prolog, processing
// instructions or discouraged Unicode characters. Those rejections arrive minutes later as terse
// status codes; Prepare finds them immediately, fixes what can be fixed without changing the
// invoice's meaning (byte order mark, legacy Polish code pages), and explains the rest in words a
// bookkeeper understands.
package invoicexml

import (
	"fmt"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/plzone"
	"github.com/ksef-sync/ksef-sync/internal/xsd"
)

// FA3Namespace is the target namespace of the FA(3) logical structure.
const FA3Namespace = "http://crd.gov.pl/wzor/2025/06/25/13775/"

// Default size limits (digest §9): 1 MB per invoice, 3 MB for an invoice with an attachment.
const (
	DefaultMaxSize               = 1_000_000
	DefaultMaxSizeWithAttachment = 3_000_000
)

// Options tunes Prepare.
type Options struct {
	// ContextNIP is the NIP the invoice is sent for; empty skips the seller check.
	ContextNIP string
	// MaxSize limits invoices without an attachment; 0 means DefaultMaxSize.
	MaxSize int
	// MaxSizeWithAttachment limits invoices with a Zalacznik; 0 means DefaultMaxSizeWithAttachment.
	MaxSizeWithAttachment int
	// Now is today's clock for the issue-date check; nil means time.Now.
	Now func() time.Time
	// Lang is the language of Error.Description and Error.Hint; "" is Polish. Error() is English.
	Lang msg.Lang
	// CheckPartyNIPs refuses a party's NIP with a wrong check digit. Only KSeF production checks
	// them ("Dotyczy tylko środowiska produkcyjnego", weryfikacja-faktury.md): TEST and DEMO accept
	// made-up NIPs, so the check is on for production only.
	CheckPartyNIPs bool
}

// Prepared is an invoice ready to be registered.
type Prepared struct {
	Bytes []byte // the exact bytes to register (UTF-8, no BOM, declaration fixed)
	// Conversions says what was changed, in Options.Lang: e.g. "usunięto znacznik kolejności
	// bajtów UTF-8 (BOM)", in English "removed UTF-8 BOM", "converted from windows-1250".
	Conversions   []string
	InvoiceNumber string // Fa/P_2
	IssueDate     string // Fa/P_1 (YYYY-MM-DD)
	SellerNIP     string // Podmiot1/DaneIdentyfikacyjne/NIP
	InvoiceType   string // Fa/RodzajFaktury
	HasAttachment bool   // a Zalacznik element is present

	nips []nipField // the parties' NIPs, for Options.CheckPartyNIPs

	conversions []msg.Message // what Conversions says
}

// ConversionText is Conversions in l, joined by "; " (English for log lines).
func (p *Prepared) ConversionText(l msg.Lang) string {
	texts := make([]string, len(p.conversions))
	for i, c := range p.conversions {
		texts[i] = c.In(l)
	}
	return strings.Join(texts, "; ")
}

// Error explains why an invoice file was rejected.
type Error struct {
	Field       string    // element path when one element is at fault, e.g. "Fa/P_2"
	Code        string    // stable machine code, see the Code* constants
	Description string    // what is wrong, with positions
	Hint        string    // one line telling a bookkeeper what to do
	Details     []string  // further occurrences or context; for CodeSchema "line N: path: message", at most MaxSchemaDetails
	Line        int       // line of the (first) problem, 0 when it concerns the whole file
	Problems    []Problem // CodeSchema: every problem found (up to xsd.MaxErrors)
	// InvoiceNumber is P_2 when the file was read far enough to know it (a wrong seller NIP, a
	// schema error, a future issue date, a missing P_1 …): error/*.error.json carries it, so the
	// ERP can tell which of its invoices was refused without opening the XML.
	InvoiceNumber string

	// The words behind Description, Hint and Details, rendered in Options.Lang by Prepare; from
	// the catalogue in internal/msg.
	desc, hint msg.Message
	details    []msg.Message
	schemaErrs []xsd.Error // CodeSchema: what Problems says
}

// Stable rejection codes.
const (
	CodeEmpty                 = "empty"
	CodeNotXML                = "not-xml"
	CodeNotFA3                = "not-fa3"
	CodeWrongSellerNIP        = "wrong-seller-nip"
	CodeTooLarge              = "too-large"
	CodeProcessingInstruction = "processing-instruction"
	CodeForbiddenCharacter    = "forbidden-character"
	CodeBadEncoding           = "bad-encoding"
	CodeMissingField          = "missing-field"
	CodeDoctype               = "doctype"
	CodeSchema                = "schema"            // the invoice does not match the FA(3) schema
	CodeUnsupportedForm       = "unsupported-form"  // FA_RR(1) or PEF: KSeF forms ksef-sync does not send yet
	CodeFutureIssueDate       = "future-issue-date" // P_1 after today in Warsaw: KSeF refuses it
	CodeInvalidNIP            = "invalid-nip"       // a party's NIP has a wrong check digit: KSeF production refuses it
)

// Error is the English text, for logs and wrapped errors; Description and Hint are the reader's.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invoice rejected (")
	b.WriteString(e.Code)
	b.WriteString("): ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.describe(msg.EN))
	return b.String()
}

// describe is the description in l.
func (e *Error) describe(l msg.Lang) string {
	if e.desc.IsZero() {
		return e.Description
	}
	return e.desc.In(l)
}

// localize renders the description, hint and message details in l.
func (e *Error) localize(l msg.Lang) {
	e.Description = e.describe(l)
	if !e.hint.IsZero() {
		e.Hint = e.hint.In(l)
	}
	if e.details != nil {
		e.Details = make([]string, len(e.details))
		for i, d := range e.details {
			e.Details[i] = d.In(l)
		}
	}
	if e.schemaErrs != nil {
		e.Problems = make([]Problem, len(e.schemaErrs))
		for i, x := range e.schemaErrs {
			e.Problems[i] = Problem{Line: x.Line, Path: x.Path, Message: x.Message(l)}
		}
	}
}

// reject builds a rejection from catalogue messages; Prepare renders them in the reader's language.
func reject(code string, hint msg.Message, desc msg.Key, args ...any) *Error {
	e := &Error{Code: code, hint: hint, desc: msg.M(desc, args...)}
	e.localize(msg.PL)
	return e
}

// Prepare checks raw and returns the bytes to register, or an *Error explaining the rejection: the
// encoding, well-formedness and the fields ksef-sync needs first, then the FA(3) schema.
// When nothing needed converting, Prepared.Bytes is raw itself (not a copy).
func Prepare(raw []byte, opts Options) (*Prepared, error) {
	p, err := prepare(raw, opts)
	if e, ok := err.(*Error); ok {
		e.localize(opts.Lang)
	}
	return p, err
}

func prepare(raw []byte, opts Options) (*Prepared, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxSizeWithAttachment <= 0 {
		opts.MaxSizeWithAttachment = DefaultMaxSizeWithAttachment
	}
	if len(raw) == 0 {
		return nil, reject(CodeEmpty, msg.M(msg.InvEmptyHint), msg.InvEmptyDesc)
	}
	// Conversion can at most double the size (2-byte UTF-8 for Polish letters); anything far beyond
	// the largest limit is rejected before spending time on it.
	if limit := max(opts.MaxSize, opts.MaxSizeWithAttachment); len(raw) > 3*limit {
		return nil, tooLarge(len(raw), limit, false)
	}
	text, conversions, err := normalizeEncoding(raw)
	if err != nil {
		return nil, err
	}
	if err := checkCharacters(text); err != nil {
		return nil, err
	}
	schema, cerr := xsd.FA3()
	if cerr != nil {
		return nil, fmt.Errorf("compile the FA(3) schema: %w", cerr)
	}
	stream := schema.NewStream(text)
	p, err := parse(text, opts.ContextNIP, stream)
	if err != nil {
		return nil, err
	}
	if err := checkParsed(p, text, stream, opts); err != nil {
		err.InvoiceNumber = p.InvoiceNumber
		return nil, err
	}
	p.Bytes = text
	p.conversions = conversions
	for _, c := range conversions {
		p.Conversions = append(p.Conversions, c.In(opts.Lang))
	}
	return p, nil
}

// checkParsed judges what needs the whole file read: its size against the limit that applies, the
// schema, the parties' NIPs and the issue date.
func checkParsed(p *Prepared, text []byte, stream *xsd.Stream, opts Options) *Error {
	limit := opts.MaxSize
	if p.HasAttachment {
		limit = opts.MaxSizeWithAttachment
	}
	if len(text) > limit {
		return tooLarge(len(text), limit, p.HasAttachment)
	}
	if errs := stream.Errors(); len(errs) > 0 {
		return schemaError(errs)
	}
	if opts.CheckPartyNIPs {
		if err := checkPartyNIPs(p.nips); err != nil {
			return err
		}
	}
	return checkIssueDate(p.IssueDate, opts.Now)
}

func tooLarge(size, limit int, withAttachment bool) *Error {
	desc := msg.InvTooLargeDesc
	if withAttachment {
		desc = msg.InvTooLargeAttachDesc
	}
	return reject(CodeTooLarge, msg.M(msg.InvTooLargeHint), desc, size, limit)
}

// warsaw is the zone KSeF dates are counted in.
var warsaw = plzone.Warsaw

// checkIssueDate refuses an issue date (P_1) after today in Warsaw: KSeF rejects such an invoice,
// and during an outage the ERP would only learn it days later.
func checkIssueDate(p1 string, now func() time.Time) *Error {
	if now == nil {
		now = time.Now
	}
	issued, err := time.ParseInLocation("2006-01-02", p1, warsaw)
	if err != nil {
		return nil // the schema has judged the date's form; nothing more to say here
	}
	y, m, d := now().In(warsaw).Date()
	if today := time.Date(y, m, d, 0, 0, 0, 0, warsaw); issued.After(today) {
		e := reject(CodeFutureIssueDate, msg.M(msg.InvFutureDateHint), msg.InvFutureDateDesc, p1, today.Format("2006-01-02"))
		e.Field = "Fa/P_1"
		return e
	}
	return nil
}
