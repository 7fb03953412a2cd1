package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestReadableCopiesBesideTheOutputs: with the default [render] settings, `send` leaves a PDF of
// each invoice and of its UPO next to .ksef.json; the PDF names the KSeF number and its KOD I
// decodes to exactly the qrCodeI link of .ksef.json.
func TestReadableCopiesBesideTheOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := newE2E(t, ksefsim.Options{}, "")
	for i := range 2 {
		e.drop(fmt.Sprintf("FV_%d.xml", i), invoice(i, "PDF"))
	}
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	records := e.sentRecords()
	if len(records) != 2 {
		t.Fatalf("%d .ksef.json files, want 2", len(records))
	}
	for name, rec := range records {
		stem := strings.TrimSuffix(name, ".ksef.json")
		pdf := readFile(t, filepath.Join(e.sent, stem+".pdf"))
		text := strings.Join(testutil.PDFPages(t, pdf), " ")
		for _, want := range []string{rec.KsefNumber, rec.InvoiceNumber, testNIP} {
			if !strings.Contains(text, want) {
				t.Errorf("%s.pdf lacks %q", stem, want)
			}
		}
		if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{rec.QRCodeI}) {
			t.Errorf("%s.pdf QR codes %q, want exactly the qrCodeI link %q", stem, codes, rec.QRCodeI)
		}
		upoText := strings.Join(testutil.PDFPages(t, readFile(t, filepath.Join(e.sent, stem+".upo.pdf"))), " ")
		if !strings.Contains(upoText, rec.KsefNumber) {
			t.Errorf("%s.upo.pdf does not name the KSeF number %s", stem, rec.KsefNumber)
		}
	}
}

// TestRenderingOffWritesNoCopies: formats = [] turns rendering off.
func TestRenderingOffWritesNoCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	e := newE2E(t, ksefsim.Options{}, "[render]\nformats = []\n")
	e.drop("FV_1.xml", invoice(1, "NOPDF"))
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if got := glob(t, e.sent, "*.pdf"); len(got) != 0 {
		t.Errorf("copies written although rendering is off: %v", got)
	}
}
