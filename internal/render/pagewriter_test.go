package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestPageWriterIsFpdf: the page writer writes byte for byte the PDF that fpdf writes with the
// same faces, for every sample invoice, every generated variant (several pages among them) and
// every UPO example, in both languages, online and offline.
func TestPageWriterIsFpdf(t *testing.T) {
	sk, err := cpSkeletons()
	if err != nil {
		t.Fatal(err)
	}
	fonts := sk.fonts
	docs := map[string]*doc{}
	invoices := sampleInvoices()
	for _, v := range variants() {
		invoices["variant "+v.name] = v.xml()
	}
	for name, x := range invoices {
		inv, err := parseInvoice(x)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, l := range []Lang{Polish, English} {
			docs[name+" "+string(l)+" online"] = buildInvoice(inv, Options{Lang: l, Format: PDF, KsefNumber: genKsefNumber, QRCodeI: testQRLink})
			docs[name+" "+string(l)+" offline"] = buildInvoice(inv, Options{Lang: l, Format: PDF, QRCodeI: testQRLink, QRCodeII: testQRLink + "/certificate"})
		}
	}
	upos, _ := filepath.Glob("testdata/upo-*.xml")
	for _, file := range upos {
		x, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		u, err := parseUPO(x)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, l := range []Lang{Polish, English} {
			docs[filepath.Base(file)+" "+string(l)] = buildUPO(u, Options{Lang: l, Format: PDF})
		}
	}
	pages := map[int]bool{}
	for name, d := range docs {
		want, wantLossy, err := layoutPDF(d, fonts)
		if err != nil {
			t.Fatalf("%s: fpdf: %v", name, err)
		}
		got, lossy, err := writeCP(d, sk)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if lossy != wantLossy {
			t.Errorf("%s: lossy %v, fpdf %v", name, lossy, wantLossy)
		}
		// A document without a date of its own (a session UPO) is stamped with the clock, which
		// may tick between the two renderings.
		got = reStamp.ReplaceAll(got, []byte("$1 (D:masked)"))
		want = reStamp.ReplaceAll(want, []byte("$1 (D:masked)"))
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s: %d bytes, fpdf %d; first difference at %d:\n got %q\nwant %q", name, len(got), len(want), i,
				got[max(0, i-80):min(len(got), i+80)], want[max(0, i-80):min(len(want), i+80)])
		}
		pages[bytes.Count(want, []byte("/Type /Page\n"))] = true
	}
	if !pages[1] || len(pages) < 2 {
		t.Errorf("page counts covered: %v; want one page and several", pages)
	}
}
