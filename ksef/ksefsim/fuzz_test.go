package ksefsim

import (
	"os"
	"testing"
)

func FuzzParseInvoice(f *testing.F) {
	if data, err := os.ReadFile("testdata/invoice-template_v3.xml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-2"?><Faktura/>`))
	f.Add([]byte("\xEF\xBB\xBF<Faktura/>"))
	f.Add([]byte(`<?xml-stylesheet href="x"?><Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := parseInvoice(data)
		if err == nil && (facts.SellerNIP == "" || facts.InvoiceNumber == "") {
			t.Errorf("accepted an invoice without seller NIP or P_2")
		}
	})
}

func FuzzReadArchive(f *testing.F) {
	f.Add(zipArchive(&testing.T{}, map[string][]byte{"a.xml": []byte("<a/>")}, []string{"a.xml"}), true)
	f.Add(tarGzArchive(&testing.T{}, map[string][]byte{"d/a.xml": []byte("<a/>")}, []string{"d/a.xml"}), false)
	f.Fuzz(func(t *testing.T, data []byte, isZip bool) {
		comp := "TarGz"
		if isZip {
			comp = "Zip"
		}
		entries, err := readArchive(data, comp)
		if err == nil && len(entries) == 0 {
			t.Errorf("no error but no entries")
		}
	})
}
