package ksefsim

import (
	"fmt"
	"strings"
	"time"
)

// SeedInvoice describes an invoice placed directly into the repository for retrieval tests.
type SeedInvoice struct {
	SellerNIP, BuyerNIP  string
	PermanentStorageDate time.Time // acquisitionDate = PS - 3 s; invoicingDate = acquisition - 1 s
	InvoiceNumber        string    // "" → generated
	IssueDate            time.Time // zero → PS date
	GrossAmount          string    // optional, e.g. "123.00"
	Subject3NIP          string    // optional third subject (Podmiot3), for Subject3 exports
	AuthorizedNIP        string    // optional authorized subject (PodmiotUpowazniony), for SubjectAuthorized exports
}

// SeedsBetween describes one invoice sold by seller to buyer at each PermanentStorage date, the
// most common seeding of the retrieval tests.
func SeedsBetween(seller, buyer string, dates ...time.Time) []SeedInvoice {
	invs := make([]SeedInvoice, len(dates))
	for i, d := range dates {
		invs[i] = SeedInvoice{SellerNIP: seller, BuyerNIP: buyer, PermanentStorageDate: d}
	}
	return invs
}

// SeededInvoice is what Seed created.
type SeededInvoice struct {
	KsefNumber, InvoiceHash string
	XML                     []byte
}

// Seed stores received/issued invoices as if they had been accepted by KSeF.
func (s *Server) Seed(invs ...SeedInvoice) ([]SeededInvoice, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SeededInvoice, 0, len(invs))
	for i, si := range invs {
		if si.SellerNIP == "" || si.PermanentStorageDate.IsZero() {
			return out, fmt.Errorf("seed %d: SellerNIP and PermanentStorageDate are required", i)
		}
		if si.InvoiceNumber == "" {
			si.InvoiceNumber = "SEED/" + strings.ToLower(randomHex(6))
		}
		if si.IssueDate.IsZero() {
			si.IssueDate = si.PermanentStorageDate
		}
		if si.GrossAmount == "" {
			si.GrossAmount = "123.00"
		}
		xmlData := []byte(seedXML(si))
		facts, err := parseInvoice(xmlData)
		if err != nil {
			return out, fmt.Errorf("seed %d: %w", i, err)
		}
		acq := si.PermanentStorageDate.Add(-3 * time.Second)
		inv := &invoice{Ref: newReferenceNumber(acq, "EE"), Ordinal: 1, InvoiceHash: sha256B64(xmlData), Size: len(xmlData), Mode: "online", Seeded: true,
			InvoiceNumber: facts.InvoiceNumber, Received: acq.Add(-time.Second), Acquisition: acq, Storage: si.PermanentStorageDate,
			Code: 200, Description: "Sukces", Facts: facts, Form: supportedForms[0], ContextNIP: si.SellerNIP}
		inv.KsefNumber = newKsefNumber(si.SellerNIP, acq)
		if err := s.blobs.put(s.st, "inv/"+inv.KsefNumber, xmlData); err != nil {
			return out, fmt.Errorf("seed %d: %w", i, err)
		}
		if err := s.addInvoiceLocked(inv); err != nil {
			return out, fmt.Errorf("seed %d: %w", i, err)
		}
		out = append(out, SeededInvoice{KsefNumber: inv.KsefNumber, InvoiceHash: inv.InvoiceHash, XML: xmlData})
	}
	s.markDirty()
	return out, nil
}

func seedXML(si SeedInvoice) string {
	buyer := "<BrakID>1</BrakID>"
	if si.BuyerNIP != "" {
		buyer = "<NIP>" + si.BuyerNIP + "</NIP>"
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">
  <Naglowek>
    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>
    <WariantFormularza>3</WariantFormularza>
    <DataWytworzeniaFa>%s</DataWytworzeniaFa>
    <SystemInfo>ksefsim seed</SystemInfo>
  </Naglowek>
  <Podmiot1>
    <DaneIdentyfikacyjne><NIP>%s</NIP><Nazwa>Sprzedawca %s</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Testowa 1</AdresL1></Adres>
  </Podmiot1>
  <Podmiot2>
    <DaneIdentyfikacyjne>%s<Nazwa>Nabywca</Nazwa></DaneIdentyfikacyjne>
    <Adres><KodKraju>PL</KodKraju><AdresL1>ul. Odbiorcza 2</AdresL1></Adres>
    <JST>2</JST><GV>2</GV>
  </Podmiot2>
%s  <Fa>
    <KodWaluty>PLN</KodWaluty>
    <P_1>%s</P_1>
    <P_2>%s</P_2>
    <P_13_1>%s</P_13_1>
    <P_14_1>0.00</P_14_1>
    <P_15>%s</P_15>
    <Adnotacje><P_16>2</P_16><P_17>2</P_17><P_18>2</P_18><P_18A>2</P_18A><Zwolnienie><P_19N>1</P_19N></Zwolnienie><NoweSrodkiTransportu><P_22N>1</P_22N></NoweSrodkiTransportu><P_23>2</P_23><PMarzy><P_PMarzyN>1</P_PMarzyN></PMarzy></Adnotacje>
    <RodzajFaktury>VAT</RodzajFaktury>
  </Fa>
</Faktura>
`, si.PermanentStorageDate.UTC().Format(time.RFC3339), si.SellerNIP, si.SellerNIP, buyer, seedParties(si), si.IssueDate.Format("2006-01-02"),
		xmlEscape(si.InvoiceNumber), si.GrossAmount, si.GrossAmount)
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
