package render

import (
	"fmt"
	"math/big"
	"strings"
)

// buildInvoice turns a parsed FA(3) invoice into the document model, section by section in the
// order of the official visualisation.
func buildInvoice(f *faktura, o Options) *doc {
	lb := o.Lang.labels()
	d := &doc{lang: o.Lang, lb: lb, kicker: lb.system, title: kindTitle(lb, f.Fa.RodzajFaktury),
		created: f.Naglowek.DataWytworzeniaFa}
	d.heading = append(d.heading, pair(lb.invoiceNo, f.Fa.P2))
	if o.KsefNumber != "" {
		d.heading = append(d.heading, pair(lb.ksefNo, o.KsefNumber))
	}
	d.docTitle = join(" ", d.title, f.Fa.P2)
	addCorrection(d, f)
	addParties(d, f)
	addDetails(d, f)
	addLines(d, f)
	addOrder(d, f)
	addSummary(d, f)
	addAnnotations(d, f)
	addExtra(d, f)
	addSettlement(d, f)
	addPayment(d, f)
	addTerms(d, f)
	addFooter(d, f)
	addAttachment(d, f)
	addQRCodes(d, o)
	return d
}

func kindTitle(lb *labels, kind string) string {
	switch kind {
	case "KOR":
		return lb.kindKOR
	case "ZAL":
		return lb.kindZAL
	case "ROZ":
		return lb.kindROZ
	case "UPR":
		return lb.kindUPR
	case "KOR_ZAL":
		return lb.kindKORZAL
	case "KOR_ROZ":
		return lb.kindKORROZ
	}
	return lb.kindVAT
}

func addCorrection(d *doc, f *faktura) {
	lb, fa := d.lb, &f.Fa
	if !strings.HasPrefix(fa.RodzajFaktury, "KOR") {
		return
	}
	pairs := [][2]string{pair(lb.corrReason, fa.PrzyczynaKorekty), pair(lb.corrType, correctionType(d.lang, fa.TypKorekty)),
		pair(lb.corrPeriod, fa.OkresFaKorygowanej)}
	for _, k := range fa.DaneFaKorygowanej {
		ksef := k.NrKSeF
		if ksef == "" && k.PozaKSeF == "1" {
			ksef = lb.corrOutside
		}
		pairs = append(pairs, pair(lb.corrInvNo, k.Nr), pair(lb.corrInvDate, date(k.Data, d.lang)), pair(lb.corrKSeF, ksef))
	}
	d.kv(lb.corrected, pairs...)
}

func correctionType(l Lang, t string) string {
	pl := map[string]string{"1": "w dacie ujęcia faktury pierwotnej", "2": "w dacie wystawienia faktury korygującej", "3": "w dacie innej"}
	en := map[string]string{"1": "on the date of the original invoice", "2": "on the date of the corrective invoice", "3": "on another date"}
	m := pl
	if l == English {
		m = en
	}
	if s, ok := m[t]; ok {
		return s
	}
	return t
}

func addParties(d *doc, f *faktura) {
	lb := d.lb
	d.blocks = append(d.blocks, block{kind: columnsBlock, columns: []column{
		partyColumn(d, lb.seller, &f.Podmiot1), partyColumn(d, lb.buyer, &f.Podmiot2)}})
	var thirds []column
	for i := range f.Podmiot3 {
		p := &f.Podmiot3[i]
		title := lb.third
		if r := lb.roles[p.Rola]; r != "" {
			title += ": " + r
		} else if p.OpisRoli != "" {
			title += ": " + p.OpisRoli
		}
		thirds = append(thirds, partyColumn(d, title, p))
	}
	for len(thirds) > 0 { // two per row, like seller and buyer
		n := min(2, len(thirds))
		d.blocks = append(d.blocks, block{kind: columnsBlock, columns: thirds[:n]})
		thirds = thirds[n:]
	}
}

func partyColumn(d *doc, title string, p *podmiot) column {
	lb, id := d.lb, &p.DaneIdentyfikacyjne
	c := column{title: title}
	add := func(label, v string) {
		if v != "" {
			if label != "" {
				v = label + ": " + v
			}
			c.lines = append(c.lines, v)
		}
	}
	add("", id.Nazwa)
	add(lb.nip, join("", p.PrefiksPodatnika, id.NIP))
	add(lb.vatUE, join("", id.KodUE, id.NrVatUE))
	add(lb.otherID, join(" ", id.KodKraju, id.NrID))
	add(lb.internalID, id.IDWew)
	if id.BrakID == "1" {
		add("", lb.noID)
	}
	add(lb.eori, p.NrEORI)
	for _, a := range []*adres{p.Adres, p.AdresKoresp} {
		if a == nil {
			continue
		}
		if a == p.AdresKoresp {
			add("", lb.corrAddress+":")
		}
		add("", a.AdresL1)
		add("", a.AdresL2)
		if a.KodKraju != "PL" {
			add("", a.KodKraju)
		}
		add("GLN", a.GLN)
	}
	for _, k := range p.DaneKontaktowe {
		add(lb.email, k.Email)
		add(lb.phone, k.Telefon)
	}
	add(lb.customerNo, p.NrKlienta)
	add(lb.buyerID, p.IDNabywcy)
	add(lb.role, p.RolaInna)
	add(lb.share, p.Udzial)
	return c
}

func addDetails(d *doc, f *faktura) {
	lb, fa := d.lb, &f.Fa
	pairs := [][2]string{pair(lb.issueDate, date(fa.P1, d.lang)), pair(lb.issuePlace, fa.P1M), pair(lb.saleDate, date(fa.P6, d.lang))}
	if fa.OkresFa != nil {
		pairs = append(pairs, pair(lb.period, date(fa.OkresFa.Od, d.lang)+" – "+date(fa.OkresFa.Do, d.lang)))
	}
	pairs = append(pairs, pair(lb.currency, fa.KodWaluty))
	if r := commonRate(fa); r != "" {
		pairs = append(pairs, pair(lb.rate, quantity(r, d.lang)))
	}
	pairs = append(pairs, pair(lb.wz, strings.Join(fa.WZ, ", ")))
	for _, z := range fa.FakturaZaliczkowa {
		pairs = append(pairs, pair(lb.advanceInvoices, join(" ", z.NrKSeF, z.NrPoza)))
	}
	if fa.FP == "1" {
		pairs = append(pairs, pair(lb.fp, lb.yes))
	}
	if fa.TP == "1" {
		pairs = append(pairs, pair(lb.tp, lb.yes))
	}
	if fa.ZwrotAkcyzy == "1" {
		pairs = append(pairs, pair(lb.exciseRefund, lb.yes))
	}
	d.kv(lb.details, pairs...)
}

// commonRate is the exchange rate of a foreign-currency invoice when one rate applies to it all:
// the advance rate, or the rate every line carries.
func commonRate(fa *fa) string {
	if fa.KodWaluty == "" || fa.KodWaluty == "PLN" {
		return ""
	}
	for _, r := range []string{fa.KursWalutyZ, fa.KursWalutyZK} {
		if r != "" {
			return r
		}
	}
	rate := ""
	for _, w := range fa.Wiersze {
		if w.KursWaluty == "" || (rate != "" && w.KursWaluty != rate) {
			return ""
		}
		rate = w.KursWaluty
	}
	return rate
}

func addLines(d *doc, f *faktura) {
	lb, fa := d.lb, &f.Fa
	gross := false
	perLineRate := commonRate(fa) == ""
	anyRate := false
	for _, w := range fa.Wiersze {
		gross = gross || (w.P9A == "" && w.P9B != "") || (w.P11 == "" && w.P11A != "")
		anyRate = anyRate || w.KursWaluty != ""
	}
	priceHead, valueHead := lb.netPrice, lb.netValue
	if gross {
		priceHead, valueHead = lb.grossPr, lb.grossValue
	}
	t := &table{cols: []col{{lb.lp, 6, false}, {lb.name, 44, false}, {lb.qty, 10, true}, {lb.unit, 8, false},
		{priceHead, 14, true}, {valueHead, 15, true}, {lb.vatRate, 9, false}}}
	showRate := perLineRate && anyRate
	if showRate {
		t.cols = append(t.cols, col{lb.rate, 9, true})
	}
	for i, w := range fa.Wiersze {
		nr := w.Nr
		if nr == "" {
			nr = fmt.Sprint(i + 1)
		}
		name := w.P7
		if w.StanPrzed == "1" {
			name += " (" + lb.before + ")"
		}
		unit, value := w.P9A, w.P11
		if gross {
			unit, value = first(w.P9B, w.P9A), first(w.P11A, w.P11)
		}
		r := row{cells: []string{nr, name, quantity(w.P8B, d.lang), w.P8A, price(unit, d.lang), amount(value, d.lang),
			lb.rateLabel(w.P12)}, muted: w.StanPrzed == "1"}
		if showRate {
			r.cells = append(r.cells, quantity(w.KursWaluty, d.lang))
		}
		t.rows = append(t.rows, r)
	}
	title := lb.lines
	if fa.KodWaluty != "" && fa.KodWaluty != "PLN" {
		title += " (" + fa.KodWaluty + ")"
	}
	d.tableBlock(title, t)
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// addOrder shows the ordered goods of an advance invoice (ZAL), which carries them in Zamowienie
// instead of FaWiersz.
func addOrder(d *doc, f *faktura) {
	lb, z := d.lb, f.Fa.Zamowienie
	if z == nil {
		return
	}
	t := &table{cols: []col{{lb.lp, 6, false}, {lb.name, 40, false}, {lb.qty, 10, true}, {lb.unit, 8, false},
		{lb.netPrice, 14, true}, {lb.netValue, 14, true}, {lb.vat, 12, true}, {lb.vatRate, 8, false}}}
	for i, w := range z.Wiersze {
		nr := first(w.NrZ, fmt.Sprint(i+1))
		name := w.P7Z
		if w.StanPrzedZ == "1" {
			name += " (" + lb.before + ")"
		}
		t.rows = append(t.rows, row{cells: []string{nr, name, quantity(w.P8BZ, d.lang), w.P8AZ, price(w.P9AZ, d.lang),
			amount(w.P11NZ, d.lang), amount(w.P11VatZ, d.lang), lb.rateLabel(w.P12Z)}, muted: w.StanPrzedZ == "1"})
	}
	d.tableBlock(lb.orderTitle, t)
	d.kv("", pair(lb.orderValue, withCurrency(amount(z.WartoscZamowienia, d.lang), f.Fa.KodWaluty)))
	d.blocks[len(d.blocks)-1].strong = true
}

func withCurrency(v, cur string) string {
	if v == "" {
		return ""
	}
	return join(" ", v, cur)
}

// rateGroups are the FA(3) summary fields: P_13_x (net), P_14_x (tax), P_14_xW (tax in PLN for a
// foreign-currency invoice).
var rateGroups = []struct{ key, pl, en string }{
	{"1", "23% lub 22%", "23% or 22%"},
	{"2", "8% lub 7%", "8% or 7%"},
	{"3", "5%", "5%"},
	{"4", "4% lub 3% (ryczałt taksówkowy)", "4% or 3% (taxi flat rate)"},
	{"5", "procedura OSS", "OSS procedure"},
	{"6_1", "0% kraj", "0% domestic"},
	{"6_2", "0% WDT", "0% intra-Community supply"},
	{"6_3", "0% eksport", "0% export"},
	{"7", "zw (zwolnione)", "zw (exempt)"},
	{"8", "np (poza art. 100 ust. 1 pkt 4)", "np (excluding Art. 100(1)(4))"},
	{"9", "np (art. 100 ust. 1 pkt 4)", "np (Art. 100(1)(4))"},
	{"10", "oo (odwrotne obciążenie)", "oo (reverse charge)"},
	{"11", "marża", "margin"},
}

func addSummary(d *doc, f *faktura) {
	lb, fa := d.lb, &f.Fa
	vals := map[string]string{}
	for _, e := range fa.Sums {
		vals[e.XMLName.Local] = strings.TrimSpace(e.Value)
	}
	anyW := false
	for k := range vals {
		anyW = anyW || strings.HasSuffix(k, "W")
	}
	t := &table{cols: []col{{lb.vatRate, 30, false}, {lb.net, 17, true}, {lb.vat, 17, true}, {lb.gross, 17, true}}}
	if anyW {
		t.cols = append(t.cols, col{lb.vatPLN, 17, true})
	}
	for _, g := range rateGroups {
		net, ok := vals["P_13_"+g.key]
		if !ok {
			continue
		}
		vat := vals["P_14_"+g.key]
		name := g.pl
		if d.lang == English {
			name = g.en
		}
		r := row{cells: []string{name, amount(net, d.lang), amount(vat, d.lang), amount(sum(net, vat), d.lang)}}
		if anyW {
			r.cells = append(r.cells, amount(vals["P_14_"+g.key+"W"], d.lang))
		}
		t.rows = append(t.rows, r)
	}
	d.tableBlock(lb.summary, t)
	totalLabel := lb.total
	if fa.RodzajFaktury == "ZAL" || fa.RodzajFaktury == "KOR_ZAL" {
		totalLabel = lb.advanceReceived
	}
	d.kv("", pair(totalLabel, withCurrency(amount(fa.P15, d.lang), fa.KodWaluty)))
	d.blocks[len(d.blocks)-1].strong = true
	for _, z := range fa.ZaliczkaCzesciowa {
		d.kv("", pair(lb.advanceReceived+" ("+date(z.P6Z, d.lang)+")", withCurrency(amount(z.P15Z, d.lang), fa.KodWaluty)),
			pair(lb.rate, quantity(z.KursWalutyZW, d.lang)))
	}
}

// sum adds two decimal strings exactly; "" when either is not a number.
func sum(a, b string) string {
	x, ok1 := new(big.Rat).SetString(first(a, "0"))
	y, ok2 := new(big.Rat).SetString(first(b, "0"))
	if !ok1 || !ok2 {
		return ""
	}
	return x.Add(x, y).FloatString(2)
}

func addAnnotations(d *doc, f *faktura) {
	lb, a := d.lb, &f.Fa.Adnotacje
	var lines []string
	on := func(v, label string) {
		if v == "1" {
			lines = append(lines, label)
		}
	}
	on(a.P16, lb.cash)
	on(a.P17, lb.selfBilling)
	on(a.P18, lb.reverse)
	on(a.P18A, lb.splitPay)
	if a.Zwolnienie.P19 == "1" {
		lines = append(lines, join(". ", lb.exempt, joinNonEmpty(lb.exemptBasis+": ", a.Zwolnienie.P19A, a.Zwolnienie.P19B, a.Zwolnienie.P19C)))
	}
	on(a.NoweSrodkiTransportu.P22, lb.newTransport)
	on(a.P23, lb.triangular)
	if a.PMarzy.P == "1" {
		var kinds []string
		for _, k := range []struct{ v, l string }{{a.PMarzy.Biura, lb.marginTravel}, {a.PMarzy.Uzywane, lb.marginUsed},
			{a.PMarzy.Sztuka, lb.marginArt}, {a.PMarzy.Antyki, lb.marginAntique}} {
			if k.v == "1" {
				kinds = append(kinds, k.l)
			}
		}
		lines = append(lines, join(": ", lb.margin, strings.Join(kinds, ", ")))
	}
	d.text(lb.annotations, lines...)
}

// joinNonEmpty prefixes the first non-empty value, or returns "".
func joinNonEmpty(prefix string, vals ...string) string {
	if v := first(vals...); v != "" {
		return prefix + v
	}
	return ""
}

func addExtra(d *doc, f *faktura) {
	lb := d.lb
	t := &table{cols: []col{{lb.rowNo, 8, false}, {lb.key, 30, false}, {lb.value, 62, false}}}
	for _, o := range f.Fa.DodatkowyOpis {
		t.rows = append(t.rows, row{cells: []string{o.NrWiersza, o.Klucz, o.Wartosc}})
	}
	d.tableBlock(lb.extra, t)
}

func addSettlement(d *doc, f *faktura) {
	lb, r, cur := d.lb, f.Fa.Rozliczenie, f.Fa.KodWaluty
	if r == nil {
		return
	}
	var pairs [][2]string
	for _, o := range r.Obciazenia {
		pairs = append(pairs, pair(lb.charges+": "+o.Powod, withCurrency(amount(o.Kwota, d.lang), cur)))
	}
	for _, o := range r.Odliczenia {
		pairs = append(pairs, pair(lb.deducts+": "+o.Powod, withCurrency(amount(o.Kwota, d.lang), cur)))
	}
	pairs = append(pairs, pair(lb.charges, withCurrency(amount(r.SumaObciazen, d.lang), cur)),
		pair(lb.deducts, withCurrency(amount(r.SumaOdliczen, d.lang), cur)),
		pair(lb.toPay, withCurrency(amount(r.DoZaplaty, d.lang), cur)),
		pair(lb.toSettle, withCurrency(amount(r.DoRozliczenia, d.lang), cur)))
	d.kv(lb.settlement, pairs...)
}

func addPayment(d *doc, f *faktura) {
	lb, p, cur := d.lb, f.Fa.Platnosc, f.Fa.KodWaluty
	if p == nil {
		return
	}
	var pairs [][2]string
	if p.Zaplacono == "1" {
		pairs = append(pairs, pair(lb.paid, lb.yes), pair(lb.paidOn, date(p.DataZaplaty, d.lang)))
	}
	for _, z := range p.ZaplataCzesciowa {
		pairs = append(pairs, pair(lb.partPaid, join(", ", withCurrency(amount(z.Kwota, d.lang), cur), date(z.Data, d.lang))))
	}
	for _, t := range p.TerminPlatnosci {
		v := date(t.Termin, d.lang)
		if t.TerminOpis != nil {
			v = join(" ", v, t.TerminOpis.Ilosc, t.TerminOpis.Jednostka, t.TerminOpis.Zdarzenie)
		}
		pairs = append(pairs, pair(lb.dueDate, v))
	}
	method := lb.methods[p.FormaPlatnosci]
	pairs = append(pairs, pair(lb.method, join(": ", first(method, p.FormaPlatnosci), p.OpisPlatnosci)))
	for _, r := range p.RachunekBankowy {
		pairs = append(pairs, pair(lb.account, account(lb, r)))
	}
	for _, r := range p.RachunekBankowyFaktora {
		pairs = append(pairs, pair(lb.factorAccount, account(lb, r)))
	}
	if p.Skonto != nil {
		pairs = append(pairs, pair(lb.skonto, join(": ", p.Skonto.Warunki, p.Skonto.Wysokosc)))
	}
	pairs = append(pairs, pair(lb.payLink, p.LinkDoPlatnosci), pair("IPKSeF", p.IPKSeF))
	d.kv(lb.payment, pairs...)
}

func account(lb *labels, r rachunek) string {
	return join(", ", r.NrRB, joinNonEmpty(lb.swift+" ", r.SWIFT), r.NazwaBanku, r.OpisRachunku)
}

func addTerms(d *doc, f *faktura) {
	lb, w := d.lb, f.Fa.WarunkiTransakcji
	if w == nil {
		return
	}
	var pairs [][2]string
	for _, u := range w.Umowy {
		pairs = append(pairs, pair(lb.contracts, join(", ", u.Nr, date(u.Data, d.lang))))
	}
	for _, z := range w.Zamowienia {
		pairs = append(pairs, pair(lb.orders, join(", ", z.Nr, date(z.Data, d.lang))))
	}
	pairs = append(pairs, pair(lb.batches, strings.Join(w.NrPartiiTowaru, ", ")), pair(lb.delivery, w.WarunkiDostawy),
		pair(lb.agreedRate, join(" ", quantity(w.KursUmowny, d.lang), w.WalutaUmowna)))
	for _, t := range w.Transport {
		if c := t.Przewoznik; c != nil {
			id := c.DaneIdentyfikacyjne
			pairs = append(pairs, pair(lb.carrier, join(", ", id.Nazwa, joinNonEmpty(lb.nip+": ", id.NIP), id.NrID, addressLine(c.Adres))))
		}
		pairs = append(pairs, pair(lb.transportOrder, t.NrZleceniaTransportu), pair(lb.shipFrom, addressLine(t.WysylkaZ)),
			pair(lb.shipTo, addressLine(t.WysylkaDo)))
	}
	d.kv(lb.terms, pairs...)
}

func addressLine(a *adres) string {
	if a == nil {
		return ""
	}
	country := a.KodKraju
	if country == "PL" {
		country = ""
	}
	return join(", ", a.AdresL1, a.AdresL2, country)
}

func addFooter(d *doc, f *faktura) {
	lb := d.lb
	d.text(lb.footer, f.Stopka.Informacje...)
	for _, r := range f.Stopka.Rejestry {
		d.kv(lb.registers, pair(lb.fullName, r.PelnaNazwa), pair(lb.krs, r.KRS), pair(lb.regon, r.REGON), pair(lb.bdo, r.BDO))
	}
}

// addAttachment summarises a Zalacznik: block headers, their key/value metadata and how much text
// and how many tables each holds. The full attachment stays in the XML.
func addAttachment(d *doc, f *faktura) {
	lb, z := d.lb, f.Zalacznik
	if z == nil {
		return
	}
	var lines []string
	for i, b := range z.BlokDanych {
		line := fmt.Sprintf("%d. %s", i+1, b.ZNaglowek)
		var meta []string
		for _, m := range b.MetaDane {
			meta = append(meta, m.ZKlucz+": "+m.ZWartosc)
		}
		line = join(" — ", line, strings.Join(meta, "; "))
		if n := len(b.Tabele); n > 0 {
			line += fmt.Sprintf(" (%s: %d)", lb.attTables, n)
		}
		lines = append(lines, line)
		lines = append(lines, b.Akapity...)
	}
	d.text(fmt.Sprintf("%s (%d %s)", lb.attachment, len(z.BlokDanych), lb.attBlocks), lines...)
}

func addQRCodes(d *doc, o Options) {
	lb := d.lb
	if o.QRCodeI != "" {
		label := o.KsefNumber
		if label == "" {
			label = lb.offline
		}
		d.qrs = append(d.qrs, qrBlock{title: lb.qr1, link: o.QRCodeI, label: label, caption: lb.verify})
	}
	if o.QRCodeII != "" {
		d.qrs = append(d.qrs, qrBlock{title: lb.qr2, link: o.QRCodeII, label: lb.cert, caption: lb.verify})
	}
}
