package invoicexml

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/text/encoding/charmap"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

const (
	sellerNIP = "5265877635"
	buyerNIP  = "3861610227"
)

// sample returns the official FA(3) sample invoice (testdata, MIT, see LICENSE-ksef-client-java.md)
// with its placeholders filled.
func sample(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/invoice-template_v3.xml")
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("#nip#", sellerNIP, "#invoicing_date#", "2026-02-10", "#invoice_number#", "0042").Replace(string(b))
}

func TestPrepareSample(t *testing.T) {
	in := sample(t)
	got, err := Prepare([]byte(in), Options{ContextNIP: sellerNIP})
	if err != nil {
		t.Fatal(err)
	}
	want := &Prepared{
		Bytes:         []byte(in),
		InvoiceNumber: "FA/GRQMB-0042/05/2025",
		IssueDate:     "2026-02-10",
		SellerNIP:     sellerNIP,
		InvoiceType:   "VAT",
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Prepared{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func utf16Bytes(s string, bigEndian bool) []byte {
	out := []byte{0xFF, 0xFE}
	if bigEndian {
		out = []byte{0xFE, 0xFF}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func encode(t *testing.T, cm *charmap.Charmap, s string) []byte {
	t.Helper()
	b, err := cm.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPrepareConversions(t *testing.T) {
	plain := sample(t)
	utf8Decl := testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="UTF-8"`)
	withDecl := func(enc string) string {
		return testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="`+enc+`"`)
	}
	tests := []struct {
		name string
		raw  []byte
		want string
		conv []string
	}{
		{"utf-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, plain...), plain, []string{"removed UTF-8 BOM"}},
		{"utf-16le BOM", utf16Bytes(withDecl("UTF-16"), false), utf8Decl, []string{"converted from UTF-16LE"}},
		{"utf-16be BOM", utf16Bytes(withDecl("utf-16"), true), utf8Decl, []string{"converted from UTF-16BE"}},
		{"windows-1250", encode(t, charmap.Windows1250, withDecl("windows-1250")), utf8Decl, []string{"converted from windows-1250"}},
		{"cp1250 label", encode(t, charmap.Windows1250, withDecl("CP1250")), utf8Decl, []string{"converted from windows-1250"}},
		{"iso-8859-2", encode(t, charmap.ISO8859_2, withDecl("ISO-8859-2")), utf8Decl, []string{"converted from ISO-8859-2"}},
		{"latin2 single quotes", encode(t, charmap.ISO8859_2, testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding='latin2'`)), testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding='UTF-8'`), []string{"converted from ISO-8859-2"}},
		{"ibm852", encode(t, charmap.CodePage852, withDecl("IBM852")), utf8Decl, []string{"converted from CP852"}},
		{"utf-8 BOM and windows-1250 label on UTF-8 content", append([]byte{0xEF, 0xBB, 0xBF}, withDecl("windows-1250")...), utf8Decl,
			[]string{"removed UTF-8 BOM", "changed the declared encoding windows-1250 to UTF-8"}},
		{"utf8 label", []byte(withDecl("utf8")), utf8Decl, []string{"changed the declared encoding utf8 to UTF-8"}},
		{"blank lines before declaration", []byte("\r\n\n  " + plain), plain, []string{"removed blank space before the XML declaration"}},
		{"no declaration", []byte(plain[strings.Index(plain, "?>")+2:]), plain[strings.Index(plain, "?>")+2:], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Prepare(tt.raw, Options{ContextNIP: sellerNIP, Lang: msg.EN})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got.Bytes)); diff != "" {
				t.Errorf("bytes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.conv, got.Conversions); diff != "" {
				t.Errorf("conversions (-want +got):\n%s", diff)
			}
			if en := got.ConversionText(msg.EN); en != strings.Join(tt.conv, "; ") {
				t.Errorf("ConversionText(en) = %q, want the conversions joined", en)
			}
		})
	}
}

// TestConversionsInPolish: what was converted is told in the reader's language, Polish by
// default (sent/*.ksef.json "conversion"), while ConversionText(EN) stays English for the log.
func TestConversionsInPolish(t *testing.T) {
	plain := sample(t)
	got, err := Prepare(append([]byte{0xEF, 0xBB, 0xBF}, testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="windows-1250"`)...), Options{ContextNIP: sellerNIP})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"usunięto znacznik kolejności bajtów UTF-8 (BOM)", "zmieniono deklarowane kodowanie windows-1250 na UTF-8"}
	if diff := cmp.Diff(want, got.Conversions); diff != "" {
		t.Errorf("conversions (-want +got):\n%s", diff)
	}
	if en := got.ConversionText(msg.EN); en != "removed UTF-8 BOM; changed the declared encoding windows-1250 to UTF-8" {
		t.Errorf("ConversionText(en) = %q", en)
	}
	got, err = Prepare(encode(t, charmap.Windows1250, "\n"+testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="windows-1250"`)), Options{ContextNIP: sellerNIP})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"usunięto puste znaki przed deklaracją XML", "przekonwertowano z kodowania windows-1250 na UTF-8"}
	if diff := cmp.Diff(want, got.Conversions); diff != "" {
		t.Errorf("conversions (-want +got):\n%s", diff)
	}
}

func TestWindows1250PolishLetters(t *testing.T) {
	const polish = "Zażółć gęślą jaźń ŻÓŁW Środa Śląska"
	in := testutil.ReplaceOnce(t, testutil.ReplaceOnce(t, sample(t), `encoding="utf-8"`, `encoding="windows-1250"`), "Refined Concrete Pants", polish)
	raw := encode(t, charmap.Windows1250, in)
	if utf8.Valid(raw) {
		t.Fatal("test input should not be valid UTF-8")
	}
	got, err := Prepare(raw, Options{ContextNIP: sellerNIP})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got.Bytes), "<P_7>"+polish+"</P_7>") || !strings.Contains(string(got.Bytes), "87-607 Środa Śląska") {
		t.Errorf("Polish letters were not converted correctly:\n%s", got.Bytes[:600])
	}
	if !bytes.HasPrefix(got.Bytes, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("declaration not rewritten: %q", got.Bytes[:45])
	}
}

func TestPrepareRejections(t *testing.T) {
	plain := sample(t)
	first1250 := encode(t, charmap.Windows1250, plain)
	firstNonASCII := bytes.IndexFunc(first1250, func(r rune) bool { return r >= utf8.RuneSelf || r == utf8.RuneError })
	nonASCIILine := bytes.Count(first1250[:firstNonASCII], []byte("\n")) + 1
	attachment := "<Zalacznik><BlokDanych><ZNaglowek>x</ZNaglowek><MetaDane><ZKlucz>k</ZKlucz><ZWartosc>v</ZWartosc></MetaDane></BlokDanych></Zalacznik></Faktura>"
	tests := []struct {
		name      string
		raw       []byte
		opts      Options
		wantCode  string
		wantField string
		wantDesc  string // regexp
	}{
		{"empty", nil, Options{}, CodeEmpty, "", `^the file is empty \(0 bytes\): the ERP may have failed while exporting; export it again$`},
		{"truncated", []byte(plain[:len(plain)/2]), Options{}, CodeNotXML, "", `^the file is not well-formed XML: line 6\d, column \d+: unexpected EOF$`},
		{"mismatched tag", []byte(testutil.ReplaceOnce(t, plain, "</P_7>", "</P7>")), Options{}, CodeNotXML, "", `line 75, column \d+: element <P_7> closed by </P7>`},
		{"not xml at all", []byte("\n NIP;Kwota\n123;10,00\n"), Options{}, CodeNotXML, "", `line 2, column 2: text outside the root element`},
		{"undefined entity", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz&nbsp;bark")), Options{}, CodeNotXML, "", `invalid character entity &nbsp;`},
		{"second root", []byte(plain + "<Faktura/>"), Options{}, CodeNotXML, "", `a second root element <Faktura>`},
		{"text after root", []byte(plain + "garbage"), Options{}, CodeNotXML, "", `text outside the root element`},
		{"duplicate attribute", []byte(testutil.ReplaceOnce(t, plain, `wersjaSchemy="1-0E"`, `wersjaSchemy="1-0E" wersjaSchemy="2"`)), Options{}, CodeNotXML, "", `attribute wersjaSchemy appears twice`},
		{"FA(2) namespace", []byte(testutil.ReplaceOnce(t, plain, FA3Namespace, "http://crd.gov.pl/wzor/2023/06/29/12648/")), Options{}, CodeNotFA3, "", `this is an FA\(2\) invoice`},
		{"other namespace", []byte(testutil.ReplaceOnce(t, plain, FA3Namespace, "urn:example")), Options{}, CodeNotFA3, "", `namespace "urn:example", not the FA\(3\) namespace`},
		{"other root", []byte(`<?xml version="1.0"?><Faktura2 xmlns="urn:example"/>`), Options{}, CodeNotFA3, "", `root element is <Faktura2>`},
		{"PEF", []byte(`<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>`), Options{}, CodeUnsupportedForm, "", `^this is a PEF \(UBL Invoice\) document .*does not support this form yet$`},
		{"PEF correction", []byte(`<?xml version="1.0"?><CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>`), Options{}, CodeUnsupportedForm, "", `PEF_KOR`},
		{"FA_RR namespace", []byte(testutil.ReplaceOnce(t, plain, FA3Namespace, "http://crd.gov.pl/wzor/2026/03/06/14189/")), Options{}, CodeUnsupportedForm, "", `FA_RR\(1\)`},
		{"FA_RR form code", []byte(testutil.ReplaceOnce(t, plain, `kodSystemowy="FA (3)"`, `kodSystemowy="FA_RR (1)"`)), Options{}, CodeUnsupportedForm, "Naglowek/KodFormularza", `"FA_RR \(1\)": ksef-sync does not support this form yet`},
		{"FA (2) form code", []byte(testutil.ReplaceOnce(t, plain, `kodSystemowy="FA (3)"`, `kodSystemowy="FA (2)"`)), Options{}, CodeNotFA3, "Naglowek/KodFormularza", `kodSystemowy is "FA \(2\)"`},
		{"no form code", []byte(testutil.ReplaceOnce(t, plain, `<KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>`, "")), Options{}, CodeNotFA3, "Naglowek/KodFormularza", `no KodFormularza`},
		{"wrong seller", []byte(plain), Options{ContextNIP: "1111111111"}, CodeWrongSellerNIP, "Podmiot1/DaneIdentyfikacyjne/NIP", `seller's NIP is 5265877635 but ksef-sync sends for NIP 1111111111`},
		{"buyer without self-billing", []byte(plain), Options{ContextNIP: buyerNIP}, CodeWrongSellerNIP, "Podmiot1/DaneIdentyfikacyjne/NIP", `seller's NIP is 5265877635`},
		{"too large", []byte(plain), Options{MaxSize: 1000}, CodeTooLarge, "", `^the invoice has 4\d{3} bytes; KSeF accepts at most 1000 bytes for an invoice$`},
		{"too large with attachment", []byte(testutil.ReplaceOnce(t, plain, "</Faktura>", attachment)), Options{MaxSize: 1000, MaxSizeWithAttachment: 2000}, CodeTooLarge, "", `at most 2000 bytes for an invoice with an attachment \(Zalacznik\)`},
		{"far too large", bytes.Repeat([]byte("x"), 10_000_000), Options{}, CodeTooLarge, "", `has 10000000 bytes; KSeF accepts at most 3000000`},
		{"stylesheet PI", []byte(testutil.ReplaceOnce(t, plain, "?>\n", "?>\n<?xml-stylesheet href=\"fa.xsl\"?>\n")), Options{}, CodeProcessingInstruction, "", `<\?xml-stylesheet \.\.\.\?> at line 2`},
		{"PI inside", []byte(testutil.ReplaceOnce(t, plain, "<Fa>", "<Fa><?erp id=7?>")), Options{}, CodeProcessingInstruction, "", `<\?erp \.\.\.\?> at line 4\d`},
		{"doctype", []byte(testutil.ReplaceOnce(t, plain, "?>\n", "?>\n<!DOCTYPE Faktura [<!ENTITY x \"y\">]>\n")), Options{}, CodeDoctype, "", `<!DOCTYPE \.\.\.> at line 2`},
		{"C0 control", []byte(testutil.ReplaceOnce(t, plain, "Refined Concrete", "Refined\x01Concrete")), Options{}, CodeForbiddenCharacter, "", `^character U\+0001 at line 75, column 25 is not allowed`},
		{"C1 control", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz\u0086bark")), Options{}, CodeForbiddenCharacter, "", `U\+0086 at line 49, column 19`},
		{"DEL", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz\x7fbark")), Options{}, CodeForbiddenCharacter, "", `U\+007F at line 49`},
		{"noncharacter FDD0", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz\uFDD0bark")), Options{}, CodeForbiddenCharacter, "", `U\+FDD0 at line 49`},
		{"noncharacter FFFE", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz\uFFFEbark")), Options{}, CodeForbiddenCharacter, "", `U\+FFFE at line 49`},
		{"noncharacter 1FFFF", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz\U0001FFFFbark")), Options{}, CodeForbiddenCharacter, "", `U\+1FFFF at line 49`},
		{"NUL", []byte(testutil.ReplaceOnce(t, plain, "Lidzbark", "Lidz\x00bark")), Options{}, CodeForbiddenCharacter, "", `U\+0000 at line 49`},
		{"windows-1250 undeclared", first1250, Options{}, CodeBadEncoding, "", `^byte ` + itoa(firstNonASCII) + ` \(line ` + itoa(nonASCIILine) + `\) is 0x[0-9A-F]{2}, which is not valid UTF-8$`},
		{"windows-1250 undeclared after BOM", append([]byte{0xEF, 0xBB, 0xBF}, first1250...), Options{}, CodeBadEncoding, "", `^byte ` + itoa(firstNonASCII+3) + ` `},
		{"UTF-8 labelled windows-1250", []byte(testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="windows-1250"`)), Options{}, CodeBadEncoding, "", `declares encoding="windows-1250" but its content is UTF-8`},
		{"undefined windows-1250 byte", append([]byte(testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="windows-1250"`)[:100]), 0x98), Options{}, CodeBadEncoding, "", `byte 100 \(line 3\) is 0x98, which has no meaning in windows-1250`},
		{"unsupported encoding", []byte(testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="Shift_JIS"`)), Options{}, CodeBadEncoding, "", `encoding="Shift_JIS", which is not supported`},
		{"UTF-16 declared without BOM", []byte(testutil.ReplaceOnce(t, plain, `encoding="utf-8"`, `encoding="UTF-16"`)), Options{}, CodeBadEncoding, "", `no UTF-16 byte order mark`},
		{"UTF-16 odd length", append(utf16Bytes(plain, false), 'x'), Options{}, CodeBadEncoding, "", `odd number of bytes`},
		{"UTF-16 unpaired surrogate", append(utf16Bytes(plain, false), 0x00, 0xD8), Options{}, CodeBadEncoding, "", `broken UTF-16LE character`},
		{"missing P_2", []byte(testutil.ReplaceOnce(t, plain, "<P_2>FA/GRQMB-0042/05/2025</P_2>", "")), Options{}, CodeMissingField, "Fa/P_2", `invoice number \(numer faktury, P_2\) is missing`},
		{"empty P_2", []byte(testutil.ReplaceOnce(t, plain, "<P_2>FA/GRQMB-0042/05/2025</P_2>", "<P_2>  </P_2>")), Options{}, CodeMissingField, "Fa/P_2", `is missing or empty`},
		{"missing P_1", []byte(testutil.ReplaceOnce(t, plain, "<P_1>2026-02-10</P_1>", "")), Options{}, CodeMissingField, "Fa/P_1", `issue date`},
		{"missing seller NIP", []byte(testutil.ReplaceOnce(t, plain, "<NIP>"+sellerNIP+"</NIP>", "")), Options{}, CodeMissingField, "Podmiot1/DaneIdentyfikacyjne/NIP", `seller's NIP`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Lang = msg.EN // the expected descriptions are the English ones
			got, err := Prepare(tt.raw, opts)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Prepare = %v, %v; want *Error %s", got, err, tt.wantCode)
			}
			if e.Code != tt.wantCode || e.Field != tt.wantField {
				t.Errorf("code, field = %q, %q; want %q, %q (%s)", e.Code, e.Field, tt.wantCode, tt.wantField, e.Description)
			}
			if !regexp.MustCompile(tt.wantDesc).MatchString(e.Description) {
				t.Errorf("description = %q, want match %q", e.Description, tt.wantDesc)
			}
			if e.Hint == "" || strings.ContainsAny(e.Hint, "\r\n") {
				t.Errorf("hint %q must be one non-empty line", e.Hint)
			}
			if !strings.Contains(e.Error(), "("+tt.wantCode+")") || !strings.Contains(e.Error(), e.Description) {
				t.Errorf("Error() = %q lacks code or description", e.Error())
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestForbiddenCharacterDetailsAreBounded(t *testing.T) {
	in := testutil.ReplaceOnce(t, sample(t), "Lidzbark", strings.Repeat("\x02", 50))
	_, err := Prepare([]byte(in), Options{Lang: msg.EN})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeForbiddenCharacter {
		t.Fatalf("err = %v, want forbidden-character", err)
	}
	if len(e.Details) != maxReported-1 || e.Details[0] != "character U+0002 at line 49, column 16" {
		t.Errorf("details = %q; want %d entries starting at column 16", e.Details, maxReported-1)
	}
}

func TestAcceptedIssuers(t *testing.T) {
	plain := sample(t)
	selfBilling := testutil.ReplaceOnce(t, plain, "<P_17>2</P_17>", "<P_17>1</P_17>")
	const thirdNIP = "1111111111"
	podmiot3 := func(role string) string {
		return testutil.ReplaceOnce(t, plain, "<Fa>", "<Podmiot3><DaneIdentyfikacyjne><NIP>"+thirdNIP+"</NIP><Nazwa>Biuro</Nazwa></DaneIdentyfikacyjne><Rola>"+role+"</Rola></Podmiot3><Fa>")
	}
	tests := []struct {
		name, in, context string
		ok                bool
	}{
		{"seller", plain, sellerNIP, true},
		{"no context check", plain, "", true},
		{"buyer in self-billing", selfBilling, buyerNIP, true},
		{"podmiot3 issuer", podmiot3("5"), thirdNIP, true},
		{"podmiot3 payer", podmiot3("6"), thirdNIP, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Prepare([]byte(tt.in), Options{ContextNIP: tt.context})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && got.SellerNIP != sellerNIP {
				t.Errorf("SellerNIP = %q, want %q", got.SellerNIP, sellerNIP)
			}
		})
	}
}

func TestAttachmentRaisesLimit(t *testing.T) {
	in := testutil.ReplaceOnce(t, sample(t), "</Faktura>", "<Zalacznik><BlokDanych><ZNaglowek>x</ZNaglowek><MetaDane><ZKlucz>k</ZKlucz><ZWartosc>v</ZWartosc></MetaDane></BlokDanych></Zalacznik></Faktura>")
	got, err := Prepare([]byte(in), Options{MaxSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasAttachment {
		t.Error("HasAttachment = false, want true")
	}
}

func BenchmarkPrepare(b *testing.B) {
	in := []byte(sample(b))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Prepare(in, Options{ContextNIP: sellerNIP}); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzPrepare(f *testing.F) {
	plain := sample(f)
	f.Add([]byte(plain))
	f.Add(append([]byte{0xEF, 0xBB, 0xBF}, plain...))
	f.Add(utf16Bytes(plain, false))
	f.Add([]byte(strings.Replace(plain, `encoding="utf-8"`, `encoding="windows-1250"`, 1)))
	f.Add([]byte(`<?xml version="1.0" encoding="cp852"?><Faktura xmlns="` + FA3Namespace + `"/>`))
	f.Add([]byte{0xFE, 0xFF, 0xD8, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := Prepare(raw, Options{ContextNIP: sellerNIP})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || e.Hint == "" {
				t.Fatalf("error %v is not a complete *Error", err)
			}
			return
		}
		if !utf8.Valid(got.Bytes) || bytes.HasPrefix(got.Bytes, []byte{0xEF, 0xBB, 0xBF}) {
			t.Fatalf("Bytes not UTF-8 without BOM: %q", got.Bytes)
		}
		if got.InvoiceNumber == "" || got.SellerNIP != sellerNIP {
			t.Fatalf("accepted without invoice number or with wrong seller: %+v", got)
		}
		if again, err := Prepare(got.Bytes, Options{ContextNIP: sellerNIP}); err != nil || len(again.Conversions) != 0 || !bytes.Equal(again.Bytes, got.Bytes) {
			t.Fatalf("prepared bytes are not stable: %v, %+v", err, again)
		}
	})
}

// TestIssueDateInTheFuture: KSeF refuses an invoice whose P_1 is after today in Warsaw, so it is
// refused here with a hint, before it can wait days in an outage queue. Today (Warsaw) passes,
// also just after midnight when UTC still says yesterday.
func TestIssueDateInTheFuture(t *testing.T) {
	in := []byte(sample(t)) // P_1 = 2026-02-10
	at := func(s string) func() time.Time {
		return func() time.Time {
			tm, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatal(err)
			}
			return tm
		}
	}
	if _, err := Prepare(in, Options{ContextNIP: sellerNIP, Now: at("2026-02-09T23:30:00Z")}); err != nil {
		t.Errorf("23:30 on 9 February UTC is already 00:30 on 10 February in Warsaw: %v", err)
	}
	_, err := Prepare(in, Options{ContextNIP: sellerNIP, Now: at("2026-02-09T12:00:00Z")})
	var ve *Error
	if !errors.As(err, &ve) || ve.Code != CodeFutureIssueDate || ve.Field != "Fa/P_1" || ve.Hint == "" {
		t.Fatalf("P_1 a day ahead: %v, want code %s on Fa/P_1 with a hint", err, CodeFutureIssueDate)
	}
	if !strings.Contains(ve.Description, "2026-02-10") {
		t.Errorf("the description does not name the date: %s", ve.Description)
	}
}

// TestNextLineCharacterIsAllowed: XML 1.0 §2.2 discourages #x7F–#x84 and #x86–#x9F; U+0085 (NEXT
// LINE) lies between them and KSeF accepts it.
func TestNextLineCharacterIsAllowed(t *testing.T) {
	in := strings.Replace(sample(t), "<P_2>", "<P_2>\u0085", 1)
	if _, err := Prepare([]byte(in), Options{ContextNIP: sellerNIP}); err != nil {
		t.Errorf("U+0085 refused: %v", err)
	}
	for _, r := range []rune{0x7F, 0x84, 0x86, 0x9F} {
		in := strings.Replace(sample(t), "<P_2>", "<P_2>"+string(r), 1)
		if _, err := Prepare([]byte(in), Options{ContextNIP: sellerNIP}); err == nil {
			t.Errorf("U+%04X accepted", r)
		}
	}
}

// TestRejectionsArePolishByDefault: the hint and description a bookkeeper reads are Polish unless
// the configuration says language = "en"; Error(), which goes into logs, stays English for support
// (issue 11 item 4).
func TestRejectionsArePolishByDefault(t *testing.T) {
	plain := sample(t)
	missingP2 := []byte(testutil.ReplaceOnce(t, plain, "<P_2>FA/GRQMB-0042/05/2025</P_2>", ""))
	tests := []struct {
		lang               msg.Lang
		wantDesc, wantHint string
	}{
		{"", "brak wartości: numer faktury (P_2) (pole nie występuje albo jest puste)",
			"uzupełnij w systemie ERP: numer faktury (P_2), i wyeksportuj fakturę ponownie"},
		{msg.PL, "brak wartości: numer faktury (P_2) (pole nie występuje albo jest puste)",
			"uzupełnij w systemie ERP: numer faktury (P_2), i wyeksportuj fakturę ponownie"},
		{msg.EN, "the invoice number (numer faktury, P_2) is missing or empty",
			"fill in the invoice number (numer faktury, P_2) in the ERP and export the invoice again"},
	}
	for _, tt := range tests {
		t.Run(string(tt.lang), func(t *testing.T) {
			_, err := Prepare(missingP2, Options{Lang: tt.lang})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("want *Error, got %v", err)
			}
			got := [3]string{e.Description, e.Hint, e.Error()}
			want := [3]string{tt.wantDesc, tt.wantHint,
				"invoice rejected (missing-field): Fa/P_2: the invoice number (numer faktury, P_2) is missing or empty"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("description, hint, Error() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPartyNIPCheckDigits: production KSeF verifies the check digit of every party's NIP
// (Podmiot2, Podmiot3, PodmiotUpowazniony, and the NIP inside a Podmiot3 IDWew); with
// CheckPartyNIPs a typo is refused at once, naming the field and its line. Without it (TEST and
// DEMO accept made-up NIPs) the same file is accepted.
func TestPartyNIPCheckDigits(t *testing.T) {
	const typo = "3861610228" // buyerNIP with its last digit off by one
	podmiot3 := func(id string) string {
		return "</Podmiot2>\n<Podmiot3><DaneIdentyfikacyjne>" + id + "<Nazwa>Odbiorca</Nazwa></DaneIdentyfikacyjne><Rola>2</Rola></Podmiot3>"
	}
	authorised := func(nip string) string {
		return "</Podmiot2>\n<PodmiotUpowazniony><DaneIdentyfikacyjne><NIP>" + nip + "</NIP><Nazwa>Komornik</Nazwa></DaneIdentyfikacyjne>" +
			"<Adres><KodKraju>PL</KodKraju><AdresL1>ul. Długa 1</AdresL1></Adres><RolaPU>1</RolaPU></PodmiotUpowazniony>"
	}
	for _, tc := range []struct {
		name, old, new, field string
	}{
		{"buyer", "<NIP>" + buyerNIP + "</NIP>", "<NIP>" + typo + "</NIP>", "Podmiot2/DaneIdentyfikacyjne/NIP"},
		{"third party", "</Podmiot2>", podmiot3("<NIP>" + typo + "</NIP>"), "Podmiot3/DaneIdentyfikacyjne/NIP"},
		{"third party's internal id", "</Podmiot2>", podmiot3("<IDWew>" + typo + "-00001</IDWew>"), "Podmiot3/DaneIdentyfikacyjne/IDWew"},
		{"authorised party", "</Podmiot2>", authorised(typo), "PodmiotUpowazniony/DaneIdentyfikacyjne/NIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := testutil.ReplaceOnce(t, sample(t), tc.old, tc.new)
			if _, err := Prepare([]byte(in), Options{ContextNIP: sellerNIP}); err != nil {
				t.Fatalf("without CheckPartyNIPs (TEST, DEMO): %v, want accepted", err)
			}
			_, err := Prepare([]byte(in), Options{ContextNIP: sellerNIP, CheckPartyNIPs: true, Lang: msg.EN})
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidNIP || e.Field != tc.field || !strings.Contains(e.Description, typo) {
				t.Fatalf("got %v, want %s at %s naming %s", err, CodeInvalidNIP, tc.field, typo)
			}
			if want := strings.Count(in[:strings.Index(in, typo)], "\n") + 1; e.Line != want {
				t.Errorf("line %d, want %d", e.Line, want)
			}
		})
	}
	t.Run("valid NIPs pass", func(t *testing.T) {
		in := testutil.ReplaceOnce(t, sample(t), "</Podmiot2>", podmiot3("<IDWew>"+buyerNIP+"-00001</IDWew>")+authorised(buyerNIP)[len("</Podmiot2>"):])
		if _, err := Prepare([]byte(in), Options{ContextNIP: sellerNIP, CheckPartyNIPs: true}); err != nil {
			t.Fatal(err)
		}
	})
}
