package render

import (
	"flag"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// BenchmarkInvoicePDF measures rendering throughput on one core: run with -cpu 1; the
// invoices/s metric is what the README quotes.
func BenchmarkInvoicePDF(b *testing.B) {
	x := samples.Invoice(0, genSellerNIP, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "1")
	benchRender(b, x, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
}

func BenchmarkInvoiceHTML(b *testing.B) {
	x := samples.Invoice(0, genSellerNIP, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "1")
	benchRender(b, x, Options{Format: HTML, KsefNumber: genKsefNumber, QRCodeI: testQRLink})
}

func BenchmarkInvoicePDF300Lines(b *testing.B) {
	v := variants()
	benchRender(b, v[len(v)-1].xml(), Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
}

func BenchmarkUPOPDF(b *testing.B) {
	x, err := os.ReadFile("testdata/upo-faktura-kontekst-id-nip.xml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := UPO(x, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

func benchRender(b *testing.B, x []byte, o Options) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Invoice(x, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invoices/s")
}

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/render-example.png (needs pdftoppm)")

// TestDocsExample regenerates the README's picture of a rendered invoice with -update-docs:
// page 1 of the richest official sample, as pdftoppm rasterises it.
func TestDocsExample(t *testing.T) {
	if !*updateDocs {
		t.Skip("run with -update-docs to regenerate docs/render-example.png")
	}
	ppm := testutil.Tool(t, "pdftoppm", "poppler-utils")
	in := richSamplePDF(t, "example.pdf")
	if out, err := exec.Command(ppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", in, "../../docs/render-example").CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
}
