package invoicexml

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func lineOf(s, sub string) int { return strings.Count(s[:strings.Index(s, sub)], "\n") + 1 }

// TestPrepareSchema checks the contract of a schema rejection: code schema, one detail per problem
// as "line N: <element path>: <message>", and a hint naming the field with its Polish label.
func TestPrepareSchema(t *testing.T) {
	plain := sample(t)
	bad := testutil.ReplaceOnce(t, plain, "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>")
	bad = testutil.ReplaceOnce(t, bad, "<P_12>23</P_12>", "<P_12>24</P_12>")
	_, err := Prepare([]byte(bad), Options{ContextNIP: sellerNIP, Lang: msg.EN})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	l1, l2 := lineOf(bad, "<P_8B>1,5"), lineOf(bad, "<P_12>24")
	want := &Error{
		Code:          CodeSchema,
		Line:          l1,
		InvoiceNumber: "FA/GRQMB-0042/05/2025", // the sample's P_2: error/*.error.json names it
		Description:   fmt.Sprintf("the invoice does not match the FA(3) schema: line %d, Fa/FaWiersz[1]/P_8B: '1,5' is not a decimal number (use digits and a dot, e.g. 1234.50) (and 1 more problem(s), see details)", l1),
		Hint:          "correct P_8B (Ilość (liczba) dostarczonych towarów lub zakres wykonanych usług) in the ERP and export the invoice again; KSeF would reject it as not matching the FA(3) schema (niezgodna ze schematem)",
		Details: []string{
			fmt.Sprintf("line %d: Fa/FaWiersz[1]/P_8B: '1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)", l1),
			fmt.Sprintf("line %d: Fa/FaWiersz[1]/P_12: '24' is not an allowed value (allowed: 23, 22, 8, 7, 5, 4, 3, 0 KR, 0 WDT, 0 EX, zw, oo, … (14 values))", l2),
		},
		Problems: []Problem{
			{l1, "Fa/FaWiersz[1]/P_8B", "'1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)"},
			{l2, "Fa/FaWiersz[1]/P_12", "'24' is not an allowed value (allowed: 23, 22, 8, 7, 5, 4, 3, 0 KR, 0 WDT, 0 EX, zw, oo, … (14 values))"},
		},
	}
	if diff := cmp.Diff(want, e, cmpopts.IgnoreUnexported(Error{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPrepareSchemaDetailsCapped(t *testing.T) {
	plain := sample(t)
	row := plain[strings.Index(plain, "<FaWiersz>") : strings.Index(plain, "</FaWiersz>")+len("</FaWiersz>")]
	bad := testutil.ReplaceOnce(t, plain, row, strings.Repeat(strings.Replace(row, "<P_12>23</P_12>", "<P_12>24</P_12>", 1), 30))
	_, err := Prepare([]byte(bad), Options{})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeSchema {
		t.Fatalf("want a schema error, got %v", err)
	}
	if len(e.Details) != MaxSchemaDetails || len(e.Problems) != 30 {
		t.Errorf("%d details and %d problems, want %d and 30", len(e.Details), len(e.Problems), MaxSchemaDetails)
	}
	// Polish by default: the detail line, the message and the count of the clipped list.
	const want = "Fa/FaWiersz[20]/P_12: wartość '24' nie jest dozwolona (dozwolone: 23, 22, 8, 7, 5, 4, 3, 0 KR, 0 WDT, 0 EX, zw, oo, … (wartości: 14))"
	if !strings.HasPrefix(e.Details[19], "wiersz ") || !strings.HasSuffix(e.Details[19], want) {
		t.Errorf("detail 20: %s", e.Details[19])
	}
	if p := e.Problems[29]; p.Path != "Fa/FaWiersz[30]/P_12" || !strings.HasPrefix(p.Message, "wartość '24' nie jest dozwolona") {
		t.Errorf("problem 30: %+v", p)
	}
	if !strings.HasPrefix(e.Description, "faktura jest niezgodna ze schematem FA(3): wiersz ") || !strings.Contains(e.Description, "wartość '24' nie jest dozwolona") {
		t.Errorf("description: %s", e.Description)
	}
}

func TestShortLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Kod waluty (ISO 4217)": "Kod waluty (ISO 4217)",
		"Ilość (liczba) dostarczonych towarów lub zakres wykonanych usług. Pole opcjonalne dla przypadku": "Ilość (liczba) dostarczonych towarów lub zakres wykonanych usług",
		strings.Repeat("słowo ", 30): "słowo słowo słowo słowo słowo słowo słowo słowo słowo słowo słowo słowo słowo…",
	} {
		if got := shortLabel(in); got != want {
			t.Errorf("shortLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
