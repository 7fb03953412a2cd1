package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestReadableCopiesBesideTheOutputs: with the default [render] settings, `send` leaves a PDF of
// each invoice and of its UPO next to .ksef.json; the PDF names the KSeF number and its KOD I
// decodes to exactly the qrCodeI link of .ksef.json.
func TestReadableCopiesBesideTheOutputs(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	e.dropSeries("FV_%d.xml", 2, 0, "PDF")
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	records := e.sentRecords()
	if len(records) != 2 {
		t.Fatalf("%d .ksef.json files, want 2", len(records))
	}
	for name, rec := range records {
		stem := strings.TrimSuffix(name, ".ksef.json")
		pdf := testutil.ReadFile(t, filepath.Join(e.sent, stem+".pdf"))
		text := strings.Join(testutil.PDFPages(t, pdf), " ")
		for _, want := range []string{rec.KsefNumber, rec.InvoiceNumber, testNIP} {
			if !strings.Contains(text, want) {
				t.Errorf("%s.pdf lacks %q", stem, want)
			}
		}
		if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{rec.QRCodeI}) {
			t.Errorf("%s.pdf QR codes %q, want exactly the qrCodeI link %q", stem, codes, rec.QRCodeI)
		}
		upoText := strings.Join(testutil.PDFPages(t, testutil.ReadFile(t, filepath.Join(e.sent, stem+".upo.pdf"))), " ")
		if !strings.Contains(upoText, rec.KsefNumber) {
			t.Errorf("%s.upo.pdf does not name the KSeF number %s", stem, rec.KsefNumber)
		}
	}
}

// TestRenderingOffWritesNoCopies: formats = [] turns rendering off.
func TestRenderingOffWritesNoCopies(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[render]\nformats = []\n")
	e.drop("FV_1.xml", invoice(1, "NOPDF"))
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if got := glob(t, e.sent, "*.pdf"); len(got) != 0 {
		t.Errorf("copies written although rendering is off: %v", got)
	}
}

// TestReadableCopiesInTheInbox: every pulled invoice gets <ksefNumber>.pdf beside its XML, naming
// its KSeF number, with KOD I built from the invoice's seller, issue date and bytes.
func TestReadableCopiesInTheInbox(t *testing.T) {
	e, seeded := newBoughtE2E(t, "", "")
	if code, out, errOut := e.runCmd(2*time.Minute, "pull", "-config", e.cfgPath); code != exitOK {
		t.Fatalf("pull: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range seeded {
		xmls := glob(t, e.inbox, "*/*/*/"+s.KsefNumber+".xml")
		if len(xmls) != 1 {
			t.Fatalf("%s: %d XML files in the inbox", s.KsefNumber, len(xmls))
		}
		base := strings.TrimSuffix(xmls[0], ".xml")
		var meta struct {
			IssueDate string `json:"issueDate"`
			Seller    struct {
				Nip string `json:"nip"`
			} `json:"seller"`
		}
		if err := json.Unmarshal(testutil.ReadFile(t, base+".json"), &meta); err != nil {
			t.Fatal(err)
		}
		issued, err := time.Parse("2006-01-02", meta.IssueDate)
		if err != nil {
			t.Fatal(err)
		}
		want := ksef.QRCodeI("https://qr-test.ksef.mf.gov.pl", meta.Seller.Nip, issued, ksef.InvoiceSHA256(testutil.ReadFile(t, xmls[0])))
		pdf := testutil.ReadFile(t, base+".pdf")
		if text := strings.Join(testutil.PDFPages(t, pdf), " "); !strings.Contains(text, s.KsefNumber) {
			t.Errorf("%s.pdf does not name its KSeF number", s.KsefNumber)
		}
		if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{want}) {
			t.Errorf("%s.pdf QR codes %q, want %q", s.KsefNumber, codes, want)
		}
	}
}
