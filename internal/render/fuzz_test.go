package render

import (
	"os"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
)

// FuzzInvoice: whatever a file holds, rendering returns a document or an error, never panics
// (the daemon renders every received invoice, and received invoices are other people's data).
func FuzzInvoice(f *testing.F) {
	for i := range samples.Names() {
		f.Add(samples.Invoice(i, genSellerNIP, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "1"))
	}
	for _, v := range variants()[:6] {
		f.Add(v.xml())
	}
	f.Add([]byte(`<Faktura><Fa><P_7>漢字 🧾 ` + "\x00" + `</P_7><FaWiersz><P_7>` + string(make([]byte, 3000)) + `</P_7></FaWiersz></Fa></Faktura>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{PDF, HTML} {
			_, _ = Invoice(data, Options{Format: format, KsefNumber: genKsefNumber, QRCodeI: testQRLink})
		}
	})
}

func FuzzUPO(f *testing.F) {
	for _, name := range []string{"upo-faktura-kontekst-id-nip.xml", "upo-sesja-internal-id.xml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = UPO(data, Options{})
	})
}
