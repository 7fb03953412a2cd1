package render

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"

	"github.com/ksef-sync/ksef-sync/internal/samples"
)

// checkFastModel: when fastModel reads a file, encoding/xml reads it too, into the same model.
// It reports whether fastModel read it.
func checkFastModel(t *testing.T, name string, data []byte) bool {
	t.Helper()
	fast := fastModel(data)
	if fast == nil {
		return false
	}
	want, err := parseInvoiceXML(data)
	if err != nil {
		t.Errorf("%s: fastModel read a file encoding/xml rejects (%v):\n%q", name, err, data)
		return true
	}
	if d := cmp.Diff(want, fast); d != "" {
		t.Errorf("%s: model differs from encoding/xml's (-xml +fast):\n%s", name, d)
	}
	return true
}

// fastModelInputs are the sample invoices (official, generated, the shared spec's copies) and
// files that try the corners of the XML fastModel reads: namespaces and prefixes, FA(2), entities,
// CDATA, comments, line ends, empty and repeated elements, text between children.
func fastModelInputs(t testing.TB) map[string][]byte {
	in := sampleInvoices()
	shared, _ := filepath.Glob("../../../shared/ksef-spec/sample-invoices/*.xml")
	for _, f := range shared {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in["shared "+filepath.Base(f)] = b
	}
	for _, v := range variants() {
		in["variant "+v.name] = v.xml()
	}
	base := string(variants()[0].xml())
	in["FA(2)"] = []byte(strings.NewReplacer("http://crd.gov.pl/wzor/2025/06/25/13775/", "http://crd.gov.pl/wzor/2023/06/29/12648/",
		`kodSystemowy="FA (3)"`, `kodSystemowy="FA (2)"`, "<WariantFormularza>3<", "<WariantFormularza>2<").Replace(base))
	// every element with a prefix, the default namespace declared nowhere
	prefixed := regexp.MustCompile(`<(/?)([A-Za-z])`).ReplaceAllString(base, "<${1}tns:$2")
	in["prefixed"] = []byte(strings.Replace(prefixed, "<tns:Faktura xmlns=", "<tns:Faktura xmlns:tns=", 1))
	in["CRLF"] = []byte(strings.ReplaceAll(base, "\n", "\r\n"))
	in["CR"] = []byte(strings.ReplaceAll(base, "\n", "\r"))
	in["BOM"] = append([]byte("\uFEFF"), base...)
	in["windows-1250"] = func() []byte {
		cp, err := charmap.Windows1250.NewEncoder().String(strings.Replace(base, `encoding="UTF-8"`, `encoding="windows-1250"`, 1))
		if err != nil {
			t.Fatal(err)
		}
		return []byte(cp)
	}()
	in["corners"] = []byte(`<?xml version='1.0' encoding='utf-8' standalone="yes"?>
<!-- before --><?pi data?>
<a:Faktura xmlns:a="urn:a" xmlns="urn:default" xmlns:b="urn:b">text<Naglowek><KodFormularza b:kodSystemowy="x&amp;y" kodSystemowy='FA&#32;(3)&#x21;'>FA</KodFormularza>
<DataWytworzeniaFa>2026<!-- c -->-02<x>ignored</x>-01<![CDATA[T10:00:00<&>]]>Z&#10;&#x1F600;</DataWytworzeniaFa></Naglowek>
<Podmiot1><DaneIdentyfikacyjne><NIP>1</NIP></DaneIdentyfikacyjne><DaneIdentyfikacyjne><Nazwa>merged &lt;&gt;&quot;&apos;</Nazwa></DaneIdentyfikacyjne><Adres/><Adres><AdresL1>a
b	c</AdresL1></Adres></Podmiot1>
<Podmiot3/><Podmiot3><Rola>2</Rola></Podmiot3>
<Fa><P_2>first</P_2><P_2></P_2><WZ>1</WZ><WZ/><P_13_1>10</P_13_1><b:P_14_1 xmlns:b="urn:other">2.3</b:P_14_1><P_14_1W xmlns="">1</P_14_1W><c:P_13_2 xmlns:c="">5</c:P_13_2><xmlns:P_13_3>7</xmlns:P_13_3><xml:P_13_4>8</xml:P_13_4><d:P_13_5>9</d:P_13_5><P_13_6>1<sub>2</sub>3</P_13_6>
<FaWiersz><P_7>one</P_7></FaWiersz><FaWiersz/><Zamowienie><ZamowienieWiersz><P_7Z>z</P_7Z></ZamowienieWiersz></Zamowienie>
<Platnosc/><WarunkiTransakcji><NrPartiiTowaru>p</NrPartiiTowaru></WarunkiTransakcji></Fa>
<Stopka><Informacje><StopkaFaktury>s1</StopkaFaktury><Other>o</Other><StopkaFaktury>s2</StopkaFaktury></Informacje><Informacje/><Informacje><StopkaFaktury>s3</StopkaFaktury></Informacje></Stopka>
<Zalacznik><BlokDanych><Tekst><Akapit>p1</Akapit></Tekst><Tabela><TWiersz/><TWiersz>x</TWiersz></Tabela></BlokDanych></Zalacznik>
</a:Faktura>trailing <garbage`)
	for i, s := range []string{
		``, `not xml`, `<Faktura/>`, `<Other/>`, `<Faktura>`, `<Faktura></faktura>`, `<a:Faktura></b:Faktura>`,
		`<!DOCTYPE x><Faktura/>`, `<Faktura><Fa><P_2>&nbsp;</P_2></Fa></Faktura>`, `<Faktura><Fa><P_2>&#0;</P_2></Fa></Faktura>`,
		`<Faktura><Fa><P_2>&#xD800;</P_2></Fa></Faktura>`, `<Faktura><Fa><P_2>]]></P_2></Fa></Faktura>`,
		"<Faktura><Fa><P_2>\x01</P_2></Fa></Faktura>", "<Faktura><Fa><P_2>\xff</P_2></Fa></Faktura>",
		`<Faktura><Fa><Żółw>x</Żółw><P_2>2</P_2></Fa></Faktura>`, `<Faktura a=1/>`, `<Faktura a="<"/>`,
		`<?xml version="1.1"?><Faktura/>`, `<Faktura><!-- a -- b --></Faktura>`, `<Faktura><![CDATA[x</Faktura>`,
		`</Faktura>`, `<a:b:Faktura/>`, `<:Faktura/>`, `<Faktura xmlns:="x"/>`, `<Faktura><Fa><P_2 x="1" x="2">v</P_2></Fa></Faktura>`,
	} {
		in["edge "+string(rune('a'+i))] = []byte(s)
	}
	return in
}

func TestFastModelMatchesEncodingXML(t *testing.T) {
	for name, data := range fastModelInputs(t) {
		read := checkFastModel(t, name, data)
		// the files fastModel is for must not fall back to encoding/xml
		if !read && !strings.HasPrefix(name, "edge ") && name != "windows-1250" {
			t.Errorf("%s: left to encoding/xml", name)
		}
	}
	for _, name := range []string{"prefixed", "FA(2)", "CRLF"} {
		if f := fastModel(fastModelInputs(t)[name]); f == nil || f.Fa.P2 != genNumber || len(f.Fa.Wiersze) == 0 || len(f.Fa.Sums) == 0 {
			t.Errorf("%s: number, lines or sums missing", name)
		}
	}
}

// FuzzFastModel: for any input, fastModel either leaves it to encoding/xml or reads encoding/xml's
// model of it.
func FuzzFastModel(f *testing.F) {
	for _, data := range fastModelInputs(f) {
		f.Add(data)
	}
	f.Add([]byte(`<Faktura><Fa><P_7>漢字 🧾 ` + "\x00" + `</P_7><FaWiersz><P_7>` + string(make([]byte, 3000)) + `</P_7></FaWiersz></Fa></Faktura>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastModel(t, "input", data)
	})
}

// BenchmarkInvoiceModel: the model of the sample invoice of BenchmarkInvoicePDF, by fastModel and
// by encoding/xml.
func BenchmarkInvoiceModel(b *testing.B) {
	x := samples.Invoice(0, genSellerNIP, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "1")
	for _, c := range []struct {
		name  string
		parse func([]byte) (*faktura, error)
	}{{"fast", parseInvoice}, {"encoding-xml", parseInvoiceXML}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
