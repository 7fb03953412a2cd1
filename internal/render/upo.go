package render

import (
	"encoding/xml"
	"fmt"
)

// potwierdzenie is a UPO v4-3 (upo-v4-3.xsd): for one invoice or for a whole session.
type potwierdzenie struct {
	XMLName          xml.Name
	PodmiotPrzyjmuje string `xml:"NazwaPodmiotuPrzyjmujacego"`
	NrSesji          string `xml:"NumerReferencyjnySesji"`
	Uwierzytelnienie struct {
		IdKontekstu struct {
			Nip          string `xml:"Nip"`
			IdWewnetrzny string `xml:"IdWewnetrzny"`
			IdZlozony    string `xml:"IdZlozonyVatUE"`
			IdPeppol     string `xml:"IdDostawcyUslugPeppol"`
		} `xml:"IdKontekstu"`
		NrTokena  string `xml:"NumerReferencyjnyTokenaKSeF"`
		SkrotAuth string `xml:"SkrotDokumentuUwierzytelniajacego"`
	} `xml:"Uwierzytelnienie"`
	Opis *struct {
		Strona      string `xml:"Strona"`
		LiczbaStron string `xml:"LiczbaStron"`
		Od          string `xml:"ZakresDokumentowOd"`
		Do          string `xml:"ZakresDokumentowDo"`
		Razem       string `xml:"CalkowitaLiczbaDokumentow"`
	} `xml:"OpisPotwierdzenia"`
	Struktura string `xml:"NazwaStrukturyLogicznej"`
	Kod       string `xml:"KodFormularza"`
	Dokumenty []struct {
		NipSprzedawcy string `xml:"NipSprzedawcy"`
		NrKSeF        string `xml:"NumerKSeFDokumentu"`
		NrFaktury     string `xml:"NumerFaktury"`
		DataWyst      string `xml:"DataWystawieniaFaktury"`
		DataPrzesl    string `xml:"DataPrzeslaniaDokumentu"`
		DataNadania   string `xml:"DataNadaniaNumeruKSeF"`
		Skrot         string `xml:"SkrotDokumentu"`
		Tryb          string `xml:"TrybWysylki"`
	} `xml:"Dokument"`
}

func parseUPO(data []byte) (*potwierdzenie, error) {
	var u potwierdzenie
	if err := newDecoder(data).Decode(&u); err != nil {
		return nil, fmt.Errorf("read UPO XML: %w", err)
	}
	if u.XMLName.Local != "Potwierdzenie" {
		return nil, fmt.Errorf("read UPO XML: root element is <%s>, want <Potwierdzenie>", u.XMLName.Local)
	}
	return &u, nil
}

// buildUPO shows one invoice's UPO as label/value lines and a session UPO as a table of its
// documents.
func buildUPO(u *potwierdzenie, o Options) *doc {
	lb := o.Lang.labels()
	d := &doc{lang: o.Lang, lb: lb, kicker: lb.system, title: lb.upoTitle}
	ctx := u.Uwierzytelnienie.IdKontekstu
	d.heading = append(d.heading, pair(lb.upoSession, u.NrSesji))
	if len(u.Dokumenty) == 1 {
		d.heading = append(d.heading, pair(lb.ksefNo, u.Dokumenty[0].NrKSeF))
		d.created = u.Dokumenty[0].DataNadania
	}
	d.docTitle = join(" ", "UPO", u.NrSesji)
	d.kv("", pair(lb.upoEntity, u.PodmiotPrzyjmuje), pair(lb.upoSession, u.NrSesji),
		pair(lb.upoContext, join(" ", joinNonEmpty("NIP ", ctx.Nip), ctx.IdWewnetrzny, ctx.IdZlozony, ctx.IdPeppol)),
		pair("Token", u.Uwierzytelnienie.NrTokena), pair(lb.upoAuthHash, u.Uwierzytelnienie.SkrotAuth),
		pair(lb.upoStructure, u.Struktura), pair(lb.upoForm, u.Kod))
	if u.Opis != nil {
		d.kv("", pair(lb.upoPage, join(" "+lb.of+" ", u.Opis.Strona, u.Opis.LiczbaStron)),
			pair(lb.upoRange, join(" – ", u.Opis.Od, u.Opis.Do)), pair(lb.upoDocs, u.Opis.Razem))
	}
	// One section per document: hashes and KSeF numbers are too long for table columns, and a
	// reader copies them whole.
	for i, k := range u.Dokumenty {
		title := lb.upoDocs
		if len(u.Dokumenty) > 1 {
			title = fmt.Sprintf("%s: %d / %d", lb.upoDocs, i+1, len(u.Dokumenty))
		}
		d.kv(title, pair(lb.ksefNo, k.NrKSeF), pair(lb.invoiceNo, k.NrFaktury), pair(lb.upoSellerNIP, k.NipSprzedawcy),
			pair(lb.upoIssue, date(k.DataWyst, o.Lang)), pair(lb.upoSent, date(k.DataPrzesl, o.Lang)),
			pair(lb.upoAssigned, date(k.DataNadania, o.Lang)), pair(lb.upoHash, k.Skrot), pair(lb.upoMode, k.Tryb))
	}
	return d
}

// UPOKsefNumber returns the KSeF number a UPO gives the invoice numbered invoiceNumber (P_2), or
// the only document's number when invoiceNumber is "" and the UPO covers exactly one document.
func UPOKsefNumber(upoXML []byte, invoiceNumber string) (string, error) {
	u, err := parseUPO(upoXML)
	if err != nil {
		return "", err
	}
	for _, d := range u.Dokumenty {
		if invoiceNumber != "" && d.NrFaktury == invoiceNumber {
			return d.NrKSeF, nil
		}
	}
	if invoiceNumber == "" && len(u.Dokumenty) == 1 {
		return u.Dokumenty[0].NrKSeF, nil
	}
	return "", fmt.Errorf("the UPO lists no invoice numbered %q", invoiceNumber)
}
