package invoicexml

import (
	"strings"
	"unicode/utf8"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/xsd"
)

// MaxSchemaDetails is how many schema problems an Error lists in Details.
const MaxSchemaDetails = 20

// Problem is one schema problem with its position, for `ksef-sync validate`.
type Problem struct {
	Line    int
	Path    string // element path below Faktura, e.g. "Fa/FaWiersz[3]/P_8B"
	Message string
}

// schemaError turns the FA(3) schema problems into the rejection. KSeF answers a schema-invalid
// invoice minutes later with status 450 and often only "Nieprawidłowy XML"; here the bookkeeper
// gets the line, the field and what is wrong.
func schemaError(errs []xsd.Error) *Error {
	e := &Error{Code: CodeSchema, schemaErrs: errs}
	for _, x := range errs[:min(len(errs), MaxSchemaDetails)] {
		e.details = append(e.details, msg.M(msg.XsdDetail, x.Line, x.Path, x.Msg))
	}
	first := errs[0]
	var more any = "" // a Message when there are more problems, rendered in the same language
	switch n := len(errs); {
	case n >= xsd.MaxErrors:
		more = msg.M(msg.InvSchemaMoreAtLeast, n-1)
	case n > 1:
		more = msg.M(msg.InvSchemaMore, n-1)
	}
	e.Line = first.Line
	e.desc = msg.M(msg.InvSchemaDesc, first.Line, first.Path, first.Msg, more)
	e.hint = msg.M(msg.InvSchemaHint, fieldName(first))
	e.localize(msg.PL)
	return e
}

// fieldName names the element with its Polish description from the schema, e.g.
// "P_8B (Ilość (liczba) dostarczonych towarów lub zakres wykonanych usług)".
func fieldName(e xsd.Error) string {
	name := e.Element
	if name == "" {
		name = e.Path
	}
	if label := shortLabel(e.Label); label != "" {
		return name + " (" + label + ")"
	}
	return name
}

// shortLabel keeps the first sentence of a schema description, at most about 80 characters.
func shortLabel(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	const max = 80
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > max/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
