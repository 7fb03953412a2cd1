package render

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/goregular"
)

// TestTextOutsideCP1250FallsBackToUTF8: a name with Greek and Cyrillic letters takes the UTF-8
// fonts and every character still comes out; an ordinary Polish invoice takes the Windows-1250
// faces (no Identity-H font in the file) with every Polish letter right.
func TestTextOutsideCP1250FallsBackToUTF8(t *testing.T) {
	const foreign = "Ωmega Київ ООО"
	x := variants()[0].xml()
	pl, err := Invoice(x, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pl, []byte("Identity-H")) {
		t.Error("a Polish invoice was rendered with the UTF-8 fonts")
	}
	wantAll(t, pdfText(t, pl), []string{genSellerName, genBuyerName, "Łódzka", "Źdźbło", "Żółć"})
	y := bytes.Replace(x, []byte(genBuyerName), []byte(foreign), 1)
	intl, err := Invoice(y, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(intl, []byte("Identity-H")) {
		t.Error("text outside Windows-1250 did not take the UTF-8 fonts")
	}
	wantAll(t, pdfText(t, intl), []string{foreign, genSellerName})
}

// TestEveryPolishLetterSurvives: every Polish letter and the usual typography stay on the
// Windows-1250 path and come out of pdftotext as they went in.
func TestEveryPolishLetterSurvives(t *testing.T) {
	const letters = "ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ „cytat” – 100 €"
	x := bytes.Replace(variants()[0].xml(), []byte(genBuyerName), []byte(letters), 1)
	pdf, err := Invoice(x, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pdf, []byte("Identity-H")) {
		t.Error("Windows-1250 text took the UTF-8 fonts")
	}
	wantAll(t, pdfText(t, pdf), []string{letters})
}

// TestSplitWidthsMatchesSplitText: our byte wrapping breaks lines where fpdf's SplitText does
// with the UTF-8 font, so the layout looks the same on both paths.
func TestSplitWidthsMatchesSplitText(t *testing.T) {
	fonts, err := cp1250Fonts()
	if err != nil {
		t.Fatal(err)
	}
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes("u", "", goregular.TTF)
	f.SetFont("u", "", bodySize)
	f.AddPage()
	_, size := f.GetFontSize()
	texts := []string{
		genSellerName + " " + genBuyerName,
		"Usługa serwisowa nr 17 – ząb koła, naprawa gwarancyjna „Żółć” z dojazdem do klienta",
		"Bardzodługiesłowobezspacjiktóreniezmieścisięwjednejlinii i dalej",
		"a\nb\n\nc\n",
	}
	for _, text := range texts {
		for _, w := range []float64{20, 45, 90} {
			want := f.SplitText(text, w)
			enc, _ := encodeCP1250(text)
			got := splitWidths(enc, fonts.regular.cw, int((w-2*f.GetCellMargin())*1000/size+0.999999))
			for i := range got {
				got[i] = decodeForTest(got[i])
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("width %v:\n got %q\nwant %q", w, got, want)
			}
		}
	}
}

func decodeForTest(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(cp1250Runes[s[i]])
	}
	return b.String()
}

// TestDeflatePagesMatchesFpdf: pages compressed after the fact give the very bytes fpdf's own
// compression gives, for a document of several pages.
func TestDeflatePagesMatchesFpdf(t *testing.T) {
	doc := func(compress bool) []byte {
		f := fpdf.New("P", "mm", "A4", "")
		f.SetCompression(compress)
		day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // both runs, same bytes: fpdf stamps ModDate with now
		f.SetCreationDate(day)
		f.SetModificationDate(day)
		f.SetFont("Helvetica", "", 12)
		for p := range 3 {
			f.AddPage()
			for i := range 40 {
				f.CellFormat(100, 6, strings.Repeat("page text ", p+i%5), "1", 1, "L", false, 0, "")
			}
		}
		var buf bytes.Buffer
		if err := f.Output(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	got, err := deflatePages(doc(false), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, doc(true)) {
		t.Error("deflatePages differs from fpdf's own compression")
	}
}

// TestFontStandInsGiveFpdfsBytes: a PDF whose font programs deflatePages put in place of fpdf's
// stand-ins is byte for byte the PDF fpdf writes when given the programs themselves, for a
// document of several pages.
func TestFontStandInsGiveFpdfsBytes(t *testing.T) {
	fonts, err := cp1250Fonts()
	if err != nil {
		t.Fatal(err)
	}
	v := variants()
	inv, err := parseInvoice(v[len(v)-1].xml())
	if err != nil {
		t.Fatal(err)
	}
	d := buildInvoice(inv, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	got, _, err := layoutPDF(d, fonts)
	if err != nil {
		t.Fatal(err)
	}
	direct := *fonts
	direct.regular.standIn, direct.bold.standIn = "", ""
	want, _, err := layoutPDF(d, &direct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("with stand-ins %d bytes, with the font programs %d: they differ", len(got), len(want))
	}
	if !bytes.Contains(got, fonts.regular.z) || !bytes.Contains(got, fonts.bold.z) || bytes.Contains(got, []byte(fonts.regular.standIn)) {
		t.Error("the font programs are not embedded in place of the stand-ins")
	}
}
