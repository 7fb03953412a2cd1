package render

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

const testQRLink = "https://qr-test.ksef.mf.gov.pl/invoice/5265877635/01-02-2026/GZMGNVzs3krF6URKgvaw77OOeG3nJ-WGziT5xguliQ8"

// pdfPages extracts the text of every page, white space folded.
func pdfPages(t *testing.T, pdf []byte) []string { return testutil.PDFPages(t, pdf) }

func pdfText(t *testing.T, pdf []byte) string {
	return strings.Join(pdfPages(t, pdf), " ")
}

func wantAll(t *testing.T, text string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, strings.Join(strings.Fields(w), " ")) {
			t.Errorf("text lacks %q", w)
		}
	}
}

var (
	reNIP    = regexp.MustCompile(`<NIP>([0-9]{10})</NIP>`)
	reName   = regexp.MustCompile(`<(?:Nazwa|P_7)>([^<]+)</`)
	reAmount = regexp.MustCompile(`<(P_1[345](?:_[0-9]+)*W?|P_11|P_15)>([^<]+)</`)
	reNumber = regexp.MustCompile(`<P_2>([^<]+)</P_2>`)
)

// expectedFromXML reads what a reader must find in the PDF straight from the XML with regular
// expressions, independently of the package's own parser.
func expectedFromXML(x []byte, l Lang) []string {
	s := string(x)
	var want []string
	for _, m := range reNIP.FindAllStringSubmatch(s, -1) {
		want = append(want, m[1])
	}
	for _, m := range reName.FindAllStringSubmatch(s, -1) {
		want = append(want, strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(m[1]))
	}
	for _, m := range reAmount.FindAllStringSubmatch(s, -1) {
		want = append(want, amount(m[2], l))
	}
	for _, m := range reNumber.FindAllStringSubmatch(s, -1) {
		want = append(want, m[1])
	}
	return want
}

func langWords(l Lang) []string {
	if l == English {
		return []string{"Seller", "Buyer", "KSeF number", "Tax rate summary", "Total amount due", "Page 1 of"}
	}
	return []string{"Sprzedawca", "Nabywca", "Numer KSeF", "Podsumowanie stawek podatku", "Kwota należności ogółem", "Strona 1 z"}
}

// selfInvoicingSample is left out of samples.Names (sending it needs rights); a reader still has
// to see it right.
const selfInvoicingSample = "invoice_template_v3_self_invoicing.xml"

// sampleInvoices fills every official template, the self-invoicing one too, issued 2026-02-01 by
// genSellerNIP as number 777.
func sampleInvoices() map[string][]byte {
	issue := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	invoices := map[string][]byte{}
	for i, name := range samples.Names() {
		invoices[name] = samples.Invoice(i, genSellerNIP, issue, "777")
	}
	invoices[selfInvoicingSample] = []byte(strings.NewReplacer("#nip#", genSellerNIP, "#invoicing_date#", "2026-02-01",
		"#invoice_number#", "777", "#selfInvocingNip#", samples.BuyerNIP).Replace(string(samples.Template(selfInvoicingSample))))
	return invoices
}

func TestSampleInvoicesText(t *testing.T) {
	for name, x := range sampleInvoices() {
		for _, l := range []Lang{Polish, English} {
			t.Run(name+"/"+string(l), func(t *testing.T) {
				pdf, err := Invoice(x, Options{Lang: l, KsefNumber: genKsefNumber, QRCodeI: testQRLink})
				if err != nil {
					t.Fatal(err)
				}
				text := pdfText(t, pdf)
				wantAll(t, text, expectedFromXML(x, l))
				wantAll(t, text, langWords(l))
				wantAll(t, text, []string{genKsefNumber, date("2026-02-01", l)})
				if name == selfInvoicingSample {
					wantAll(t, text, []string{l.labels().selfBilling})
				}
			})
		}
	}
}

func TestVariantsText(t *testing.T) {
	for _, v := range variants() {
		for _, l := range []Lang{Polish, English} {
			t.Run(v.name+"/"+string(l), func(t *testing.T) {
				x := v.xml()
				pdf, err := Invoice(x, Options{Lang: l, KsefNumber: genKsefNumber, QRCodeI: testQRLink})
				if err != nil {
					t.Fatal(err)
				}
				text := pdfText(t, pdf)
				wantAll(t, text, []string{genNumber, genSellerNIP, genSellerName, genBuyerNIP, genBuyerName, genKsefNumber})
				wantAll(t, text, expectedFromXML(x, l))
				for _, ln := range v.lines {
					wantAll(t, text, []string{ln.name, quantity(ln.qty, l), price(ln.price, l), amount(ln.net, l)})
				}
				wantAll(t, text, v.wantTexts[l])
			})
		}
	}
}

// TestLongInvoiceFlowsOverPages: 300 lines take several pages; every page is numbered "N of
// total" and every page the table continues on repeats the column heads.
func TestLongInvoiceFlowsOverPages(t *testing.T) {
	var long variant
	for _, v := range variants() {
		if len(v.lines) == 300 {
			long = v
		}
	}
	pdf, err := Invoice(long.xml(), Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	pages := pdfPages(t, pdf)
	if len(pages) < 5 {
		t.Fatalf("300 lines on %d pages, want at least 5", len(pages))
	}
	n := len(pages)
	for i, p := range pages {
		if want := "Strona " + itoa(i+1) + " z " + itoa(n); !strings.Contains(p, want) {
			t.Errorf("page %d lacks %q", i+1, want)
		}
		if strings.Contains(p, "ząb koła") && !strings.Contains(p, "Nazwa towaru lub usługi") {
			t.Errorf("page %d continues the lines without the column heads", i+1)
		}
	}
	// Every line appears exactly once, in order.
	all := strings.Join(pages, " ")
	last := -1
	for i := 1; i <= 300; i++ {
		name := "Usługa serwisowa nr " + itoa(i) + " – ząb koła"
		at := strings.Index(all, name)
		if at < 0 || strings.Count(all, name) != 1 || at < last {
			t.Fatalf("line %d: found at %d (previous at %d), %d times", i, at, last, strings.Count(all, name))
		}
		last = at
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestQRCodesDecode renders the page with the codes to PNG and decodes it: KOD I must carry
// exactly the qrCodeI link, KOD II the certificate link.
func TestQRCodesDecode(t *testing.T) {
	kod2 := "https://qr-test.ksef.mf.gov.pl/certificate/Nip/5265877635/5265877635/01F20A5D352AE590/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefghij"
	cases := []struct {
		name string
		opts Options
		want []string
	}{
		{"online", Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink}, []string{testQRLink}},
		{"offline", Options{QRCodeI: testQRLink, QRCodeII: kod2}, []string{testQRLink, kod2}},
	}
	x := samples.Invoice(0, genSellerNIP, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "1")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pdf, err := Invoice(x, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := testutil.PDFQRCodes(t, pdf)
			sort.Strings(got)
			want := append([]string(nil), c.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("decoded %q, want %q", got, want)
			}
			text := pdfText(t, pdf)
			label := genKsefNumber
			if c.opts.KsefNumber == "" {
				label = "OFFLINE"
			}
			wantAll(t, text, []string{label})
			if c.opts.QRCodeII != "" {
				wantAll(t, text, []string{"CERTYFIKAT"})
			}
		})
	}
}

func TestUPOText(t *testing.T) {
	// The official examples (CIRFMF/ksef-docs, MIT: testdata/LICENSE-ksef-docs.txt).
	files, _ := filepath.Glob("testdata/upo-*.xml")
	if len(files) == 0 {
		t.Fatal("no UPO examples")
	}
	reKSeF := regexp.MustCompile(`<(NumerKSeFDokumentu|NumerFaktury|NipSprzedawcy|NumerReferencyjnySesji|SkrotDokumentu)>([^<]+)</`)
	for _, f := range files {
		x, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []Lang{Polish, English} {
			t.Run(filepath.Base(f)+"/"+string(l), func(t *testing.T) {
				pdf, err := UPO(x, Options{Lang: l})
				if err != nil {
					t.Fatal(err)
				}
				text := pdfText(t, pdf)
				var want []string
				for _, m := range reKSeF.FindAllStringSubmatch(string(x), -1) {
					want = append(want, m[2])
				}
				if len(want) < 5 {
					t.Fatalf("example has only %d identifiers", len(want))
				}
				wantAll(t, text, want)
				wantAll(t, text, []string{map[Lang]string{Polish: "Urzędowe poświadczenie odbioru", English: "Official acknowledgement of receipt"}[l]})
			})
		}
	}
}

func TestHTML(t *testing.T) {
	for _, v := range variants()[:2] {
		x := v.xml()
		h, err := Invoice(x, Options{Format: HTML, Lang: English, KsefNumber: genKsefNumber, QRCodeI: testQRLink})
		if err != nil {
			t.Fatal(err)
		}
		s := string(h)
		for _, w := range []string{"<!DOCTYPE html>", "<svg", genKsefNumber, genBuyerNIP, "Łódzka Spółdzielnia Ćwiczeń Źdźbło", "Corrective invoice", amount(v.total, English)} {
			if w == "Corrective invoice" && v.kind != "KOR" {
				continue
			}
			if !strings.Contains(s, w) {
				t.Errorf("%s: HTML lacks %q", v.name, w)
			}
		}
		if strings.Contains(s, "„Żółć”") == false {
			t.Errorf("%s: HTML lacks the seller's quotes", v.name)
		}
	}
}

// TestLegacyEncoding: an ERP export in windows-1250 previews with its Polish letters intact.
func TestLegacyEncoding(t *testing.T) {
	utf := strings.Replace(string(variants()[0].xml()), `encoding="UTF-8"`, `encoding="windows-1250"`, 1)
	cp, err := charmap.Windows1250.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := Invoice([]byte(cp), Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantAll(t, pdfText(t, pdf), []string{genSellerName, genBuyerName, "Węgiel kamienny orzech"})
}

func TestRejectsOtherXML(t *testing.T) {
	upo, err := os.ReadFile("testdata/upo-faktura-kontekst-id-nip.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   []byte
	}{{"garbage", []byte("not xml")}, {"empty", nil}, {"upo as invoice", upo}} {
		if _, err := Invoice(c.in, Options{}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := UPO([]byte("<Faktura/>"), Options{}); err == nil {
		t.Error("invoice as UPO: no error")
	}
}

// TestDeterministic: the same XML gives the same bytes, so re-rendering never rewrites a file
// with a different one.
func TestDeterministic(t *testing.T) {
	x := variants()[0].xml()
	a, err := Invoice(x, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Invoice(x, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if string(a) != string(b) {
		t.Error("two renderings differ")
	}
}

func TestFormatting(t *testing.T) {
	cases := []struct {
		in           string
		l            Lang
		amt, qty, pr string
	}{
		{"13102.43", Polish, "13 102,43", "13 102,43", "13 102,43"},
		{"13102.43", English, "13,102.43", "13,102.43", "13,102.43"},
		{"1000", Polish, "1 000,00", "1 000", "1 000,00"},
		{"-246", Polish, "-246,00", "-246", "-246,00"},
		{"0.12345678", English, "0.12345678", "0.12345678", "0.12345678"},
		{"1234567.5", Polish, "1 234 567,50", "1 234 567,5", "1 234 567,50"},
		{"abc", Polish, "abc", "abc", "abc"},
	}
	for _, c := range cases {
		if got := amount(c.in, c.l); got != c.amt {
			t.Errorf("amount(%q, %s) = %q, want %q", c.in, c.l, got, c.amt)
		}
		if got := quantity(c.in, c.l); got != c.qty {
			t.Errorf("quantity(%q, %s) = %q, want %q", c.in, c.l, got, c.qty)
		}
		if got := price(c.in, c.l); got != c.pr {
			t.Errorf("price(%q, %s) = %q, want %q", c.in, c.l, got, c.pr)
		}
	}
}
