package render

import (
	"fmt"
	"strings"
)

// variant describes a generated FA(3) invoice: the official samples cover only the happy path, so
// the tests build corrections, advances, foreign currency, long and exempt invoices themselves.
type variant struct {
	name       string
	kind       string // RodzajFaktury
	currency   string
	rate       string // KursWaluty of every line, for a foreign currency
	lines      []genLine
	sums       [][2]string // element, value: P_13_x, P_14_x, P_14_xW
	total      string      // P_15
	adnotacje  string      // inner XML of Adnotacje
	extra      string      // XML placed after RodzajFaktury (correction data, DodatkowyOpis…)
	after      string      // XML placed after the lines (Platnosc, Zamowienie…)
	zalacznik  string
	podmiot3   bool
	wantTexts  map[Lang][]string // texts that must appear besides the common ones
	wantAbsent []string
}

type genLine struct {
	name, unit, qty, price, net, rate string
	before                            bool
}

const (
	genSellerNIP  = "5265877635"
	genSellerName = "Zakład Usług Śląskich „Żółć” sp. z o.o."
	genBuyerNIP   = "3861610227"
	genBuyerName  = "Łódzka Spółdzielnia Ćwiczeń Źdźbło"
	genNumber     = "FV/2026/02/0042"
	genKsefNumber = "5265877635-20260201-0200A0D6723E-C2"
)

func (v variant) xml() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/" xmlns:etd="http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/">
<Naglowek><KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza><WariantFormularza>3</WariantFormularza><DataWytworzeniaFa>2026-02-01T10:00:00Z</DataWytworzeniaFa></Naglowek>
`)
	fmt.Fprintf(&b, `<Podmiot1><DaneIdentyfikacyjne><NIP>%s</NIP><Nazwa>%s</Nazwa></DaneIdentyfikacyjne><Adres><KodKraju>PL</KodKraju><AdresL1>ul. Źródlana 7</AdresL1><AdresL2>40-001 Katowice</AdresL2></Adres></Podmiot1>
<Podmiot2><DaneIdentyfikacyjne><NIP>%s</NIP><Nazwa>%s</Nazwa></DaneIdentyfikacyjne><Adres><KodKraju>PL</KodKraju><AdresL1>ul. Piotrkowska 1</AdresL1><AdresL2>90-001 Łódź</AdresL2></Adres></Podmiot2>
`, genSellerNIP, xmlEscape(genSellerName), genBuyerNIP, xmlEscape(genBuyerName))
	if v.podmiot3 {
		b.WriteString(`<Podmiot3><DaneIdentyfikacyjne><NIP>7740001454</NIP><Nazwa>Gmina Bzdziszewo</Nazwa></DaneIdentyfikacyjne><Rola>8</Rola></Podmiot3>
`)
	}
	fmt.Fprintf(&b, "<Fa><KodWaluty>%s</KodWaluty><P_1>2026-02-01</P_1><P_1M>Gliwice</P_1M><P_2>%s</P_2><P_6>2026-01-31</P_6>\n", v.currency, genNumber)
	for _, s := range v.sums {
		fmt.Fprintf(&b, "<%s>%s</%s>", s[0], s[1], s[0])
	}
	fmt.Fprintf(&b, "<P_15>%s</P_15>\n<Adnotacje>%s</Adnotacje><RodzajFaktury>%s</RodzajFaktury>\n%s\n", v.total, v.adnotacje, v.kind, v.extra)
	for i, l := range v.lines {
		fmt.Fprintf(&b, "<FaWiersz><NrWierszaFa>%d</NrWierszaFa><P_7>%s</P_7><P_8A>%s</P_8A><P_8B>%s</P_8B><P_9A>%s</P_9A><P_11>%s</P_11><P_12>%s</P_12>",
			i+1, xmlEscape(l.name), l.unit, l.qty, l.price, l.net, l.rate)
		if v.rate != "" {
			fmt.Fprintf(&b, "<KursWaluty>%s</KursWaluty>", v.rate)
		}
		if l.before {
			b.WriteString("<StanPrzed>1</StanPrzed>")
		}
		b.WriteString("</FaWiersz>\n")
	}
	b.WriteString(v.after)
	b.WriteString("</Fa>\n")
	b.WriteString(`<Stopka><Informacje><StopkaFaktury>Kapitał zakładowy 50 000 zł</StopkaFaktury></Informacje><Rejestry><KRS>0000123456</KRS><REGON>123456785</REGON></Rejestry></Stopka>
`)
	b.WriteString(v.zalacznik)
	b.WriteString("</Faktura>\n")
	return []byte(b.String())
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

const noAnnotations = `<P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A><Zwolnienie><P_19N>1</P_19N></Zwolnienie><NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu><P_23>2</P_23><PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy>`

func variants() []variant {
	payment := `<Platnosc><TerminPlatnosci><Termin>2026-02-15</Termin></TerminPlatnosci><FormaPlatnosci>6</FormaPlatnosci><RachunekBankowy><NrRB>PL61109010140000071219812874</NrRB><SWIFT>WBKPPLPP</SWIFT><NazwaBanku>Santander Bank Polska</NazwaBanku></RachunekBankowy></Platnosc>`
	long := variant{name: "300 lines", kind: "VAT", currency: "PLN", adnotacje: noAnnotations, total: "0"}
	net := 0
	for i := 1; i <= 300; i++ {
		v := 100*i + 1 // grosze
		net += v
		long.lines = append(long.lines, genLine{name: fmt.Sprintf("Usługa serwisowa nr %d – ząb koła", i), unit: "godz.", qty: "1",
			price: cents(v), net: cents(v), rate: "23"})
	}
	vat := net * 23 / 100
	long.sums = [][2]string{{"P_13_1", cents(net)}, {"P_14_1", cents(vat)}}
	long.total = cents(net + vat)
	return []variant{
		{name: "basic with split payment", kind: "VAT", currency: "PLN", podmiot3: true,
			adnotacje: strings.Replace(noAnnotations, "<P_18A>2</P_18A>", "<P_18A>1</P_18A>", 1),
			lines: []genLine{{name: "Węgiel kamienny orzech", unit: "t", qty: "12.5", price: "1480.00", net: "18500.00", rate: "23"},
				{name: "Transport ciężarowy", unit: "km", qty: "240", price: "6.25", net: "1500.00", rate: "8"}},
			sums:  [][2]string{{"P_13_1", "18500.00"}, {"P_14_1", "4255.00"}, {"P_13_2", "1500.00"}, {"P_14_2", "120.00"}},
			total: "24375.00", after: payment,
			extra: `<DodatkowyOpis><Klucz>Numer umowy</Klucz><Wartosc>UM/77/2025</Wartosc></DodatkowyOpis>`,
			wantTexts: map[Lang][]string{
				Polish:  {"Mechanizm podzielonej płatności", "Gmina Bzdziszewo", "7740001454", "przelew", "PL61109010140000071219812874", "UM/77/2025", "Kapitał zakładowy 50 000 zł", "0000123456", "12,5", "18 500,00", "4 255,00", "1 500,00", "120,00", "24 375,00", "22 755,00", "1 620,00"},
				English: {"Split payment mechanism", "bank transfer", "12.5", "18,500.00", "24,375.00", "Third party: Local government unit - recipient"},
			}},
		{name: "correction", kind: "KOR", currency: "PLN", adnotacje: noAnnotations,
			extra: `<PrzyczynaKorekty>Błędna cena jednostkowa</PrzyczynaKorekty><TypKorekty>2</TypKorekty><DaneFaKorygowanej><DataWystFaKorygowanej>2026-01-15</DataWystFaKorygowanej><NrFaKorygowanej>FV/2026/01/0007</NrFaKorygowanej><NrKSeF>1</NrKSeF><NrKSeFFaKorygowanej>5265877635-20260115-010020A2D8C4-1B</NrKSeFFaKorygowanej></DaneFaKorygowanej>`,
			lines: []genLine{{name: "Papier ksero A4", unit: "ryza", qty: "100", price: "20.00", net: "2000.00", rate: "23", before: true},
				{name: "Papier ksero A4", unit: "ryza", qty: "100", price: "18.00", net: "1800.00", rate: "23"}},
			sums: [][2]string{{"P_13_1", "-200.00"}, {"P_14_1", "-46.00"}}, total: "-246.00",
			wantTexts: map[Lang][]string{
				Polish:  {"Faktura korygująca", "Błędna cena jednostkowa", "FV/2026/01/0007", "5265877635-20260115-010020A2D8C4-1B", "15.01.2026", "stan przed korektą", "-200,00", "-46,00", "-246,00", "2 000,00", "1 800,00"},
				English: {"Corrective invoice", "state before correction", "-246.00", "2026-01-15"},
			}},
		{name: "advance", kind: "ZAL", currency: "PLN", adnotacje: noAnnotations,
			sums: [][2]string{{"P_13_1", "8130.08"}, {"P_14_1", "1869.92"}}, total: "10000.00",
			after: `<Zamowienie><WartoscZamowienia>24600.00</WartoscZamowienia><ZamowienieWiersz><NrWierszaZam>1</NrWierszaZam><P_7Z>Kocioł gazowy kondensacyjny</P_7Z><P_8AZ>szt.</P_8AZ><P_8BZ>2</P_8BZ><P_9AZ>10000.00</P_9AZ><P_11NettoZ>20000.00</P_11NettoZ><P_11VatZ>4600.00</P_11VatZ><P_12Z>23</P_12Z></ZamowienieWiersz></Zamowienie>`,
			wantTexts: map[Lang][]string{
				Polish:  {"Faktura zaliczkowa", "Kocioł gazowy kondensacyjny", "24 600,00", "20 000,00", "4 600,00", "Otrzymana kwota zapłaty (zaliczki)", "10 000,00", "8 130,08", "1 869,92"},
				English: {"Advance invoice", "Advance payment received", "24,600.00", "10,000.00"},
			}},
		{name: "foreign currency", kind: "VAT", currency: "EUR", rate: "4.2512", adnotacje: noAnnotations,
			lines: []genLine{{name: "Licencja oprogramowania", unit: "szt.", qty: "3", price: "1250.00", net: "3750.00", rate: "23"}},
			sums:  [][2]string{{"P_13_1", "3750.00"}, {"P_14_1", "862.50"}, {"P_14_1W", "3666.66"}}, total: "4612.50",
			wantTexts: map[Lang][]string{
				Polish:  {"EUR", "Kurs waluty", "4,2512", "3 750,00", "862,50", "3 666,66", "Kwota podatku w PLN", "4 612,50 EUR"},
				English: {"Exchange rate", "4.2512", "Tax amount in PLN", "3,666.66", "4,612.50 EUR"},
			}},
		{name: "reverse charge", kind: "VAT", currency: "PLN",
			adnotacje: strings.Replace(noAnnotations, "<P_18>2</P_18>", "<P_18>1</P_18>", 1),
			lines:     []genLine{{name: "Roboty budowlane – tynki", unit: "m2", qty: "420", price: "35.00", net: "14700.00", rate: "oo"}},
			sums:      [][2]string{{"P_13_10", "14700.00"}}, total: "14700.00",
			wantTexts: map[Lang][]string{
				Polish:  {"Odwrotne obciążenie", "oo (odwrotne obciążenie)", "14 700,00"},
				English: {"Reverse charge", "reverse charge (oo)", "14,700.00"},
			}},
		{name: "exempt rates", kind: "VAT", currency: "PLN",
			adnotacje: `<P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A><Zwolnienie><P_19>1</P_19><P_19A>art. 43 ust. 1 pkt 37 ustawy</P_19A></Zwolnienie><NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu><P_23>2</P_23><PMarzy><P_PMarzy>1</P_PMarzy><P_PMarzy_3_1>1</P_PMarzy_3_1></PMarzy>`,
			lines: []genLine{{name: "Ubezpieczenie OC", unit: "szt.", qty: "1", price: "900.00", net: "900.00", rate: "zw"},
				{name: "Usługa poza krajem", unit: "szt.", qty: "1", price: "300.00", net: "300.00", rate: "np II"},
				{name: "Eksport towaru", unit: "szt.", qty: "1", price: "50.00", net: "50.00", rate: "0 EX"}},
			sums: [][2]string{{"P_13_6_3", "50.00"}, {"P_13_7", "900.00"}, {"P_13_9", "300.00"}}, total: "1250.00",
			after:     `<Platnosc><Zaplacono>1</Zaplacono><DataZaplaty>2026-02-01</DataZaplaty><FormaPlatnosci>1</FormaPlatnosci></Platnosc>`,
			zalacznik: `<Zalacznik><BlokDanych><ZNaglowek>Specyfikacja polisy</ZNaglowek><MetaDane><ZKlucz>Polisa</ZKlucz><ZWartosc>PL-998877</ZWartosc></MetaDane><Tekst><Akapit>Okres ubezpieczenia: 12 miesięcy</Akapit></Tekst></BlokDanych></Zalacznik>`,
			wantTexts: map[Lang][]string{
				Polish:  {"zw (zwolnione)", "np (art. 100 ust. 1 pkt 4)", "0% eksport", "art. 43 ust. 1 pkt 37 ustawy", "Procedura marży: towary używane", "900,00", "300,00", "50,00", "1 250,00", "Zapłacono", "gotówka", "Specyfikacja polisy", "PL-998877", "Okres ubezpieczenia: 12 miesięcy"},
				English: {"exempt (zw)", "0% export", "Margin scheme: used goods", "1,250.00", "cash", "Invoice attachment"},
			}},
		long,
	}
}

func cents(v int) string { return fmt.Sprintf("%d.%02d", v/100, v%100) }
