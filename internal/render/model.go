package render

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"

	"golang.org/x/text/encoding/htmlindex"
)

// faktura is the part of an FA(3) invoice that a reader needs to see. Tags carry no namespace, so
// encoding/xml (and fastModel, which reads the same tags) matches by local name: FA(2) files render
// too, as far as their fields coincide.
type faktura struct {
	Naglowek struct {
		KodFormularza struct {
			KodSystemowy string `xml:"kodSystemowy,attr"`
		} `xml:"KodFormularza"`
		DataWytworzeniaFa string `xml:"DataWytworzeniaFa"`
		SystemInfo        string `xml:"SystemInfo"`
	} `xml:"Naglowek"`
	Podmiot1  podmiot   `xml:"Podmiot1"`
	Podmiot2  podmiot   `xml:"Podmiot2"`
	Podmiot3  []podmiot `xml:"Podmiot3"`
	Fa        fa        `xml:"Fa"`
	Stopka    stopka    `xml:"Stopka"`
	Zalacznik *struct {
		BlokDanych []struct {
			ZNaglowek string `xml:"ZNaglowek"`
			MetaDane  []struct {
				ZKlucz   string `xml:"ZKlucz"`
				ZWartosc string `xml:"ZWartosc"`
			} `xml:"MetaDane"`
			Akapity []string `xml:"Tekst>Akapit"`
			Tabele  []struct {
				Opis    string     `xml:"Opis"`
				Wiersze []struct{} `xml:"TWiersz"`
			} `xml:"Tabela"`
		} `xml:"BlokDanych"`
	} `xml:"Zalacznik"`
}

type podmiot struct {
	NrEORI              string `xml:"NrEORI"`
	PrefiksPodatnika    string `xml:"PrefiksPodatnika"`
	DaneIdentyfikacyjne struct {
		NIP      string `xml:"NIP"`
		KodUE    string `xml:"KodUE"`
		NrVatUE  string `xml:"NrVatUE"`
		KodKraju string `xml:"KodKraju"`
		NrID     string `xml:"NrID"`
		IDWew    string `xml:"IDWew"`
		BrakID   string `xml:"BrakID"`
		Nazwa    string `xml:"Nazwa"`
	} `xml:"DaneIdentyfikacyjne"`
	Adres          *adres `xml:"Adres"`
	AdresKoresp    *adres `xml:"AdresKoresp"`
	DaneKontaktowe []struct {
		Email   string `xml:"Email"`
		Telefon string `xml:"Telefon"`
	} `xml:"DaneKontaktowe"`
	NrKlienta string `xml:"NrKlienta"`
	IDNabywcy string `xml:"IDNabywcy"`
	Rola      string `xml:"Rola"`
	RolaInna  string `xml:"RolaInna"`
	OpisRoli  string `xml:"OpisRoli"`
	Udzial    string `xml:"Udzial"`
}

type adres struct {
	KodKraju string `xml:"KodKraju"`
	AdresL1  string `xml:"AdresL1"`
	AdresL2  string `xml:"AdresL2"`
	GLN      string `xml:"GLN"`
}

type fa struct {
	KodWaluty string   `xml:"KodWaluty"`
	P1        string   `xml:"P_1"`
	P1M       string   `xml:"P_1M"`
	P2        string   `xml:"P_2"`
	WZ        []string `xml:"WZ"`
	P6        string   `xml:"P_6"`
	OkresFa   *struct {
		Od string `xml:"P_6_Od"`
		Do string `xml:"P_6_Do"`
	} `xml:"OkresFa"`
	// Amounts by rate group: the key is the suffix of P_13_x / P_14_x / P_14_xW.
	Sums              []amountElem `xml:",any"`
	P15               string       `xml:"P_15"`
	KursWalutyZ       string       `xml:"KursWalutyZ"`
	Adnotacje         adnotacje    `xml:"Adnotacje"`
	RodzajFaktury     string       `xml:"RodzajFaktury"`
	PrzyczynaKorekty  string       `xml:"PrzyczynaKorekty"`
	TypKorekty        string       `xml:"TypKorekty"`
	DaneFaKorygowanej []struct {
		Data     string `xml:"DataWystFaKorygowanej"`
		Nr       string `xml:"NrFaKorygowanej"`
		NrKSeF   string `xml:"NrKSeFFaKorygowanej"`
		PozaKSeF string `xml:"NrKSeFN"`
	} `xml:"DaneFaKorygowanej"`
	OkresFaKorygowanej string `xml:"OkresFaKorygowanej"`
	NrFaKorygowany     string `xml:"NrFaKorygowany"`
	P15ZK              string `xml:"P_15ZK"`
	KursWalutyZK       string `xml:"KursWalutyZK"`
	ZaliczkaCzesciowa  []struct {
		P6Z          string `xml:"P_6Z"`
		P15Z         string `xml:"P_15Z"`
		KursWalutyZW string `xml:"KursWalutyZW"`
	} `xml:"ZaliczkaCzesciowa"`
	FP            string `xml:"FP"`
	TP            string `xml:"TP"`
	DodatkowyOpis []struct {
		NrWiersza string `xml:"NrWiersza"`
		Klucz     string `xml:"Klucz"`
		Wartosc   string `xml:"Wartosc"`
	} `xml:"DodatkowyOpis"`
	FakturaZaliczkowa []struct {
		NrKSeF string `xml:"NrKSeFFaZaliczkowej"`
		NrPoza string `xml:"NrFaZaliczkowej"`
	} `xml:"FakturaZaliczkowa"`
	ZwrotAkcyzy string   `xml:"ZwrotAkcyzy"`
	Wiersze     []wiersz `xml:"FaWiersz"`
	Rozliczenie *struct {
		Obciazenia []struct {
			Kwota string `xml:"Kwota"`
			Powod string `xml:"Powod"`
		} `xml:"Obciazenia"`
		SumaObciazen string `xml:"SumaObciazen"`
		Odliczenia   []struct {
			Kwota string `xml:"Kwota"`
			Powod string `xml:"Powod"`
		} `xml:"Odliczenia"`
		SumaOdliczen  string `xml:"SumaOdliczen"`
		DoZaplaty     string `xml:"DoZaplaty"`
		DoRozliczenia string `xml:"DoRozliczenia"`
	} `xml:"Rozliczenie"`
	Platnosc          *platnosc `xml:"Platnosc"`
	WarunkiTransakcji *struct {
		Umowy []struct {
			Data string `xml:"DataUmowy"`
			Nr   string `xml:"NrUmowy"`
		} `xml:"Umowy"`
		Zamowienia []struct {
			Data string `xml:"DataZamowienia"`
			Nr   string `xml:"NrZamowienia"`
		} `xml:"Zamowienia"`
		NrPartiiTowaru []string `xml:"NrPartiiTowaru"`
		WarunkiDostawy string   `xml:"WarunkiDostawy"`
		Transport      []struct {
			Przewoznik *struct {
				DaneIdentyfikacyjne struct {
					NIP   string `xml:"NIP"`
					NrID  string `xml:"NrID"`
					Nazwa string `xml:"Nazwa"`
				} `xml:"DaneIdentyfikacyjne"`
				Adres *adres `xml:"AdresPrzewoznika"`
			} `xml:"Przewoznik"`
			NrZleceniaTransportu string `xml:"NrZleceniaTransportu"`
			WysylkaZ             *adres `xml:"WysylkaZ"`
			WysylkaDo            *adres `xml:"WysylkaDo"`
		} `xml:"Transport"`
		KursUmowny   string `xml:"KursUmowny"`
		WalutaUmowna string `xml:"WalutaUmowna"`
	} `xml:"WarunkiTransakcji"`
	Zamowienie *struct {
		WartoscZamowienia string   `xml:"WartoscZamowienia"`
		Wiersze           []wiersz `xml:"ZamowienieWiersz"`
	} `xml:"Zamowienie"`
}

// amountElem catches the P_13_x / P_14_x / P_14_xW children of Fa (the ",any" field only sees
// elements no other field claims).
type amountElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

type adnotacje struct {
	P16        string `xml:"P_16"`
	P17        string `xml:"P_17"`
	P18        string `xml:"P_18"`
	P18A       string `xml:"P_18A"`
	Zwolnienie struct {
		P19  string `xml:"P_19"`
		P19A string `xml:"P_19A"`
		P19B string `xml:"P_19B"`
		P19C string `xml:"P_19C"`
	} `xml:"Zwolnienie"`
	NoweSrodkiTransportu struct {
		P22 string `xml:"P_22"`
	} `xml:"NoweSrodkiTransportu"`
	P23    string `xml:"P_23"`
	PMarzy struct {
		P       string `xml:"P_PMarzy"`
		Biura   string `xml:"P_PMarzy_2"`
		Uzywane string `xml:"P_PMarzy_3_1"`
		Sztuka  string `xml:"P_PMarzy_3_2"`
		Antyki  string `xml:"P_PMarzy_3_3"`
	} `xml:"PMarzy"`
}

// wiersz is one FaWiersz (or, for advance invoices, one ZamowienieWiersz: its fields end in Z).
type wiersz struct {
	Nr         string `xml:"NrWierszaFa"`
	NrZ        string `xml:"NrWierszaZam"`
	P6A        string `xml:"P_6A"`
	P7         string `xml:"P_7"`
	P7Z        string `xml:"P_7Z"`
	Indeks     string `xml:"Indeks"`
	GTIN       string `xml:"GTIN"`
	PKWiU      string `xml:"PKWiU"`
	CN         string `xml:"CN"`
	P8A        string `xml:"P_8A"`
	P8AZ       string `xml:"P_8AZ"`
	P8B        string `xml:"P_8B"`
	P8BZ       string `xml:"P_8BZ"`
	P9A        string `xml:"P_9A"`
	P9AZ       string `xml:"P_9AZ"`
	P9B        string `xml:"P_9B"`
	P10        string `xml:"P_10"`
	P11        string `xml:"P_11"`
	P11NZ      string `xml:"P_11NettoZ"`
	P11A       string `xml:"P_11A"`
	P11Vat     string `xml:"P_11Vat"`
	P11VatZ    string `xml:"P_11VatZ"`
	P12        string `xml:"P_12"`
	P12Z       string `xml:"P_12Z"`
	GTU        string `xml:"GTU"`
	KursWaluty string `xml:"KursWaluty"`
	StanPrzed  string `xml:"StanPrzed"`
	StanPrzedZ string `xml:"StanPrzedZ"`
}

type platnosc struct {
	Zaplacono          string `xml:"Zaplacono"`
	DataZaplaty        string `xml:"DataZaplaty"`
	ZnacznikCzesciowej string `xml:"ZnacznikZaplatyCzesciowej"`
	ZaplataCzesciowa   []struct {
		Kwota string `xml:"KwotaZaplatyCzesciowej"`
		Data  string `xml:"DataZaplatyCzesciowej"`
	} `xml:"ZaplataCzesciowa"`
	TerminPlatnosci []struct {
		Termin     string `xml:"Termin"`
		TerminOpis *struct {
			Ilosc     string `xml:"Ilosc"`
			Jednostka string `xml:"Jednostka"`
			Zdarzenie string `xml:"ZdarzeniePoczatkowe"`
		} `xml:"TerminOpis"`
	} `xml:"TerminPlatnosci"`
	FormaPlatnosci         string     `xml:"FormaPlatnosci"`
	OpisPlatnosci          string     `xml:"OpisPlatnosci"`
	RachunekBankowy        []rachunek `xml:"RachunekBankowy"`
	RachunekBankowyFaktora []rachunek `xml:"RachunekBankowyFaktora"`
	Skonto                 *struct {
		Warunki  string `xml:"WarunkiSkonta"`
		Wysokosc string `xml:"WysokoscSkonta"`
	} `xml:"Skonto"`
	LinkDoPlatnosci string `xml:"LinkDoPlatnosci"`
	IPKSeF          string `xml:"IPKSeF"`
}

type rachunek struct {
	NrRB         string `xml:"NrRB"`
	SWIFT        string `xml:"SWIFT"`
	NazwaBanku   string `xml:"NazwaBanku"`
	OpisRachunku string `xml:"OpisRachunku"`
}

type stopka struct {
	Informacje []string `xml:"Informacje>StopkaFaktury"`
	Rejestry   []struct {
		PelnaNazwa string `xml:"PelnaNazwa"`
		KRS        string `xml:"KRS"`
		REGON      string `xml:"REGON"`
		BDO        string `xml:"BDO"`
	} `xml:"Rejestry"`
}

// parseInvoice decodes an FA(3) file. It checks the root element only: validation against the
// schema is KSeF's job, a preview must show whatever the file says.
func parseInvoice(data []byte) (*faktura, error) {
	if f := tryFastModel(data); f != nil {
		return f, nil
	}
	return parseInvoiceXML(data)
}

// tryFastModel is fastModel with a panic taken as "not sure": received invoices come from other
// companies' systems, and a defect in the fast scanner must cost a slower read by encoding/xml,
// not the daemon. (Its tests and fuzz target call fastModel itself, so a panic still fails them.)
func tryFastModel(data []byte) (f *faktura) {
	defer func() {
		if recover() != nil {
			f = nil
		}
	}()
	return fastModel(data)
}

// parseInvoiceXML is parseInvoice by encoding/xml: for the files fastModel leaves to it (other
// charsets, DOCTYPEs, names outside ASCII) and for the exact error of a broken file.
func parseInvoiceXML(data []byte) (*faktura, error) {
	var f struct {
		XMLName xml.Name
		faktura
	}
	if err := newDecoder(data).Decode(&f); err != nil {
		return nil, fmt.Errorf("read invoice XML: %w", err)
	}
	if f.XMLName.Local != "Faktura" {
		return nil, fmt.Errorf("read invoice XML: root element is <%s>, want <Faktura>", f.XMLName.Local)
	}
	return &f.faktura, nil
}

// newDecoder reads UTF-8 and, for a preview of an ERP's export, the legacy code pages such files
// still declare (windows-1250, ISO-8859-2).
func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(label)
		if err != nil {
			return nil, fmt.Errorf("encoding %q: %w", label, err)
		}
		return enc.NewDecoder().Reader(r), nil
	}
	return d
}
