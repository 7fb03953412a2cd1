package xsd

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func mustFA3(t testing.TB) *Schema {
	t.Helper()
	s, err := FA3()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// richInvoice is testdata/rich.xml: a correction invoice that uses many optional parts of FA(3),
// prefixed names, CDATA, an xsi:schemaLocation and empty optional-content elements.
func richInvoice(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/rich.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSamplesAreValid(t *testing.T) {
	s := mustFA3(t)
	for i, inv := range append(sampleInvoices(), richInvoice(t)) {
		if errs := s.Validate(inv); len(errs) != 0 {
			t.Errorf("sample %d: %v", i, errs)
		}
	}
}

// v3Sample is the official invoice-template_v3.xml with its placeholders filled.
func v3Sample() []byte { return sampleInvoices()[2] }

func lineOf(s, sub string) int {
	return strings.Count(s[:strings.Index(s, sub)], "\n") + 1
}

// TestErrors checks what the bookkeeper reads: line, element path, the field with its label, and
// the message, for each kind of problem.
func TestErrors(t *testing.T) {
	s := mustFA3(t)
	base := string(v3Sample())
	tests := []struct {
		name, old, new string
		at             string // text marking the reported line in the mutated invoice
		want           problem
	}{
		{"decimal comma", "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>", "<P_8B>1,5",
			problem{Path: "Fa/FaWiersz[1]/P_8B", Element: "P_8B", Label: "Ilość (liczba) dostarczonych towarów lub zakres wykonanych usług. Pole opcjonalne dla przypadku określonego w art. 106e ust. 5 pkt 3 ustawy",
				Message: "'1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)"}},
		{"enumeration", "<KodWaluty>PLN</KodWaluty>", "<KodWaluty>pln</KodWaluty>", "<KodWaluty>",
			problem{Path: "Fa/KodWaluty", Element: "KodWaluty", Label: "Kod waluty (ISO 4217)",
				Message: "'pln' is not an allowed value (allowed: AED, AFN, ALL, AMD, ANG, AOA, ARS, AUD, AWG, AZN, BAM, BBD, … (182 values))"}},
		{"pattern", "<NIP>3861610227</NIP>", "<NIP>386-161-02-27</NIP>", "<NIP>386-",
			problem{Path: "Podmiot2/DaneIdentyfikacyjne/NIP", Element: "NIP", Label: "Identyfikator podatkowy NIP",
				Message: `'386-161-02-27' does not have the required format ([1-9]((\d[1-9])|([1-9]\d))\d{7})`}},
		{"fraction digits", "<P_11>2366.48</P_11>", "<P_11>2366.485</P_11>", "<P_11>2366.485",
			problem{Path: "Fa/FaWiersz[1]/P_11", Element: "P_11", Label: "Wartość dostarczonych towarów lub wykonanych usług, objętych transakcją, bez kwoty podatku (wartość sprzedaży netto). Pole opcjonalne dla przypadków określonych w art. 106e ust. 2 i 3 oraz ust. 5 pkt 3 ustawy",
				Message: `'2366.485' does not have the required format (-?([1-9]\d{0,15}|0)(\.\d{1,2})?)`}},
		{"date out of range", "<P_1>2026-02-03</P_1>", "<P_1>2005-12-31</P_1>", "<P_1>",
			problem{Path: "Fa/P_1", Element: "P_1", Label: "Data wystawienia, z zastrzeżeniem art. 106na ust. 1 ustawy",
				Message: "'2005-12-31' is less than the minimum 2006-01-01"}},
		{"impossible date", "<P_1>2026-02-03</P_1>", "<P_1>2026-02-30</P_1>", "<P_1>",
			problem{Path: "Fa/P_1", Element: "P_1", Label: "Data wystawienia, z zastrzeżeniem art. 106na ust. 1 ustawy",
				Message: "'2026-02-30' is not a valid date (YYYY-MM-DD)"}},
		{"missing element", "<P_15>", "<P_15x>", "</Fa>",
			problem{Path: "Fa/P_15x", Element: "P_15x", Message: "unknown element P_15x is not allowed here; expected P_14_1W, P_13_2, P_13_3, P_13_4, P_13_5, P_13_6_1, P_13_6_2, P_13_6_3 or …"}},
		{"order", "<P_1M>Lidzbark</P_1M>", "", "<P_2>",
			problem{}},
		{"too long", "<P_1M>Lidzbark</P_1M>", "<P_1M>" + strings.Repeat("x", 257) + "</P_1M>", "<P_1M>",
			problem{Path: "Fa/P_1M", Element: "P_1M", Label: "Miejsce wystawienia faktury",
				Message: "'" + strings.Repeat("x", 60) + "…' is too long: 257 characters, at most 256 allowed"}},
		{"empty", "<P_1M>Lidzbark</P_1M>", "<P_1M> </P_1M>", "<P_1M>",
			problem{Path: "Fa/P_1M", Element: "P_1M", Label: "Miejsce wystawienia faktury",
				Message: "the value is empty; at least 1 character(s) required"}},
		{"fixed attribute", `kodSystemowy="FA (3)"`, `kodSystemowy="FA (2)"`, "<KodFormularza",
			problem{Path: "Naglowek/KodFormularza", Element: "KodFormularza", Message: "attribute kodSystemowy must be 'FA (3)', not 'FA (2)'"}},
		{"wrong namespace", "<P_2>", `<P_2 xmlns="urn:x">`, "<P_2 ",
			problem{Path: "Fa/P_2", Element: "P_2", Message: "element P_2 in namespace urn:x (wrong namespace) is not allowed here; expected P_2"}},
		{"text in element content", "<Adnotacje>", "<Adnotacje>tak", "<Adnotacje>",
			problem{Path: "Fa/Adnotacje", Element: "Adnotacje", Label: "Inne adnotacje na fakturze", Message: "text 'tak' is not allowed in Adnotacje, only elements"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := testutil.ReplaceOnce(t, base, tt.old, tt.new)
			errs := s.Validate([]byte(doc))
			if tt.want == (problem{}) {
				if len(errs) != 0 {
					t.Errorf("want valid, got %v", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			want := tt.want
			want.Line = lineOf(doc, tt.at)
			if tt.name == "missing element" {
				want.Line = lineOf(doc, "<P_15x>")
			}
			if diff := cmp.Diff(want, shown(errs[0], msg.EN)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// problem is an Error as a reader sees it in one language.
type problem struct {
	Line                          int
	Path, Element, Label, Message string
}

func shown(e Error, l msg.Lang) problem {
	return problem{Line: e.Line, Path: e.Path, Element: e.Element, Label: e.Label, Message: e.Message(l)}
}

// TestErrorsInPolish: the validator gives a message key with its arguments, and the catalogue
// renders it; Polish is what a bookkeeper reads by default, and the detail line follows the
// language too ("wiersz N: path: message"). String() stays English for logs.
func TestErrorsInPolish(t *testing.T) {
	s := mustFA3(t)
	base := string(v3Sample())
	tests := []struct{ name, old, new, pl, en string }{
		{"decimal comma", "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>",
			"Fa/FaWiersz[1]/P_8B: wartość '1,5' nie jest liczbą (użyj cyfr i kropki, np. 1234.50)",
			"Fa/FaWiersz[1]/P_8B: '1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)"},
		{"enumeration, clipped list", "<KodWaluty>PLN</KodWaluty>", "<KodWaluty>pln</KodWaluty>",
			"Fa/KodWaluty: wartość 'pln' nie jest dozwolona (dozwolone: AED, AFN, ALL, AMD, ANG, AOA, ARS, AUD, AWG, AZN, BAM, BBD, … (wartości: 182))",
			"Fa/KodWaluty: 'pln' is not an allowed value (allowed: AED, AFN, ALL, AMD, ANG, AOA, ARS, AUD, AWG, AZN, BAM, BBD, … (182 values))"},
		{"unknown element, list of alternatives", "<P_15>", "<P_15x>",
			"Fa/P_15x: nieznany element P_15x jest w tym miejscu niedozwolony; oczekiwano P_14_1W, P_13_2, P_13_3, P_13_4, P_13_5, P_13_6_1, P_13_6_2, P_13_6_3 lub …",
			"Fa/P_15x: unknown element P_15x is not allowed here; expected P_14_1W, P_13_2, P_13_3, P_13_4, P_13_5, P_13_6_1, P_13_6_2, P_13_6_3 or …"},
		{"fixed attribute", `kodSystemowy="FA (3)"`, `kodSystemowy="FA (2)"`,
			"Naglowek/KodFormularza: atrybut kodSystemowy musi mieć wartość 'FA (3)', a nie 'FA (2)'",
			"Naglowek/KodFormularza: attribute kodSystemowy must be 'FA (3)', not 'FA (2)'"},
		{"empty", "<P_1M>Lidzbark</P_1M>", "<P_1M> </P_1M>",
			"Fa/P_1M: wartość jest pusta (wymagane znaków: co najmniej 1)",
			"Fa/P_1M: the value is empty; at least 1 character(s) required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := s.Validate([]byte(strings.Replace(base, tt.old, tt.new, 1)))
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			e := errs[0]
			if got, want := e.In(msg.PL), fmt.Sprintf("wiersz %d: %s", e.Line, tt.pl); got != want {
				t.Errorf("pl:\n got %s\nwant %s", got, want)
			}
			if got, want := e.In(msg.EN), fmt.Sprintf("line %d: %s", e.Line, tt.en); got != want || e.String() != want {
				t.Errorf("en:\n got %s\nwant %s (String %s)", got, want, e.String())
			}
		})
	}
}

func TestMissingAndRepeatedElements(t *testing.T) {
	s := mustFA3(t)
	base := string(v3Sample())
	noP15 := strings.Replace(base, "<P_15>", "<!--", 1)
	noP15 = strings.Replace(noP15, "</P_15>", "-->", 1)
	errs := s.Validate([]byte(noP15))
	if len(errs) != 1 || errs[0].Element != "P_15" || errs[0].Message(msg.EN) != "missing element P_15 before Adnotacje" || errs[0].Path != "Fa/Adnotacje" {
		t.Errorf("missing P_15: %v", errs)
	}
	contact := "<DaneKontaktowe>\n            <Email>Lucja17@example.net</Email>\n            <Telefon>86-588-03-53</Telefon>\n        </DaneKontaktowe>"
	four := testutil.ReplaceOnce(t, base, contact, strings.Repeat(contact, 4))
	errs = s.Validate([]byte(four))
	want := "element DaneKontaktowe occurs more than 3 times"
	if len(errs) != 1 || errs[0].Message(msg.EN) != want || errs[0].Path != "Podmiot1/DaneKontaktowe[4]" {
		t.Errorf("four contacts: %v, want %q at Podmiot1/DaneKontaktowe[4]", errs, want)
	}
	noFa := base[:strings.Index(base, "<Fa>")] + base[strings.Index(base, "</Fa>")+len("</Fa>"):]
	errs = s.Validate([]byte(noFa))
	if len(errs) != 1 || errs[0].Element != "Fa" || errs[0].Message(msg.EN) != "missing element Fa after Podmiot2" || errs[0].Path != "Faktura" {
		t.Errorf("no Fa: %v", errs)
	}
}

func TestManyErrorsAreCapped(t *testing.T) {
	s := mustFA3(t)
	base := string(v3Sample())
	row := base[strings.Index(base, "<FaWiersz>") : strings.Index(base, "</FaWiersz>")+len("</FaWiersz>")]
	doc := strings.Replace(base, row, strings.Repeat(strings.ReplaceAll(row, "<P_12>23</P_12>", "<P_12>24</P_12>"), 300), 1)
	errs := s.Validate([]byte(doc))
	if len(errs) != MaxErrors {
		t.Errorf("%d errors, want the cap %d", len(errs), MaxErrors)
	}
}

func TestNotWellFormed(t *testing.T) {
	s := mustFA3(t)
	for _, doc := range []string{"", "<Faktura", "<a></b>", "text", `<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"/><x/>`} {
		errs := s.Validate([]byte(doc))
		if len(errs) == 0 {
			t.Errorf("%q: no error", doc)
		}
	}
}

func TestDeepNestingStops(t *testing.T) {
	doc := `<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">` + strings.Repeat("<Fa>", 100000) + strings.Repeat("</Fa>", 100000) + `</Faktura>`
	errs := mustFA3(t).Validate([]byte(doc))
	if n := len(errs); n == 0 || n > 70 || errs[n-1].Message(msg.EN) != "elements are nested more than 64 levels deep" {
		t.Errorf("got %d errors, last %v", n, errs[len(errs)-1])
	}
}

func TestRegexTranslation(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{`\d{3}`, []string{"123", "١٢٣"}, []string{"12", "1234", "12a"}},
		{`a.c`, []string{"abc", "a c"}, []string{"a\nc", "a\rc", "ac"}},
		{`[^\s?#]+`, []string{"abc"}, []string{"a b", "a?b", "a\tb"}},
		{`\s`, []string{" ", "\t"}, []string{"\u00a0", "\f"}},
		{`^a$`, []string{"^a$"}, []string{"a"}},
		{`P[A-KM-Z]`, []string{"PA", "PZ"}, []string{"PL"}},
		{`(.)+@(.)+`, []string{"a@b"}, []string{"@b", "a@"}},
		{`\p{Lu}\i\c*`, []string{"AB", "Ab-1"}, []string{"a", "A1"}},
	}
	for _, tt := range tests {
		re, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		for _, m := range tt.match {
			if !re.MatchString(m) {
				t.Errorf("%s should match %q", tt.pattern, m)
			}
		}
		for _, m := range tt.noMatch {
			if re.MatchString(m) {
				t.Errorf("%s should not match %q", tt.pattern, m)
			}
		}
	}
	for _, bad := range []string{`[a-z-[aeiou]]`, `\p{IsBasicLatin}`, `[abc`, `\`} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestDateTimeOrder(t *testing.T) {
	p := func(s string) dateTime {
		d, ok := parseDateTime(s)
		if !ok {
			t.Fatalf("parse %s", s)
		}
		return d
	}
	tests := []struct {
		a, b string
		want int
	}{
		{"2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", 0},
		{"2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00Z", 1},
		{"2025-12-31T24:00:00Z", "2026-01-01T00:00:00Z", 0},
		{"2026-01-01T00:00:00", "2026-01-02T00:00:00Z", -1},
		{"2026-01-03T00:00:00", "2026-01-02T00:00:00Z", 1},
		{"2026-01-01T10:00:00Z", "2026-01-01T10:00:00", 0}, // libxml2: days differ at ±14:00, so compared as UTC
		{"2025-09-01T05:00:00", "2025-09-01T00:00:00Z", 1}, // xmllint accepts it as DataWytworzeniaFa
	}
	for _, tt := range tests {
		if got := cmpDateTime(p(tt.a), p(tt.b)); got != tt.want {
			t.Errorf("cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"2026-02-29T00:00:00", "2026-01-01T25:00:00", "2026-01-01T24:00:01", "0000-01-01T00:00:00", "2026-01-01T00:00:00+14:01", "2026-01-01T00:00:00."} {
		if _, ok := parseDateTime(bad); ok {
			t.Errorf("%s should not parse", bad)
		}
	}
}

func TestDecimal(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"1.50", "1.5", 0}, {"-0", "0", 0}, {"+10", "9.99", 1}, {"-1", "-0.5", -1}, {"007", "7.000", 0}, {".5", "0.5", 0}} {
		a, ok1 := parseDecimal(tt.a)
		b, ok2 := parseDecimal(tt.b)
		if !ok1 || !ok2 || a.cmp(b) != tt.want {
			t.Errorf("cmp(%s, %s) = %d (%v %v), want %d", tt.a, tt.b, a.cmp(b), ok1, ok2, tt.want)
		}
	}
	for _, bad := range []string{"", ".", "1e3", "1,5", "--1", "1.2.3", " 1"} {
		if _, ok := parseDecimal(bad); ok {
			t.Errorf("%q should not parse", bad)
		}
	}
}

// A type remembers the texts it found valid; it must never remember an invalid one, never answer
// differently for a remembered text, and never grow past knownLimit.
func TestKnownValidTextsAreBounded(t *testing.T) {
	builtins := builtinTypes()
	byteType := builtins["byte"]
	for range 2 {
		if m := byteType.validate("12"); !m.IsZero() {
			t.Fatalf("12: %s", m.In(msg.EN))
		}
		if m := byteType.validate("300"); m.IsZero() {
			t.Fatal("300 accepted as a byte")
		}
	}
	if _, ok := byteType.known.Load("300"); ok {
		t.Error("an invalid text was remembered")
	}
	str := builtins["string"]
	for i := range 2 * knownLimit {
		if m := str.validate(fmt.Sprintf("text %d", i)); !m.IsZero() {
			t.Fatalf("text %d: %s", i, m.In(msg.EN))
		}
	}
	if n := str.knownN.Load(); n != knownLimit {
		t.Errorf("%d texts remembered, want the limit %d", n, knownLimit)
	}
}
