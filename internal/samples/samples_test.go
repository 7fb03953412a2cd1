package samples

import (
	"bytes"
	"encoding/xml"
	"testing"
	"time"
)

func TestInvoiceFillsEveryPlaceholder(t *testing.T) {
	if len(Names()) != 3 {
		t.Fatalf("templates = %v", Names())
	}
	for i := range Names() {
		inv := Invoice(i, "5265877635", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), "N1")
		if bytes.Contains(inv, []byte("#")) {
			t.Fatalf("template %d still has placeholders", i)
		}
		if !bytes.Contains(inv, []byte("<NIP>5265877635</NIP>")) || !bytes.Contains(inv, []byte("2026-11-02")) {
			t.Fatalf("template %d not filled", i)
		}
		if err := xml.Unmarshal(inv, new(struct{})); err != nil {
			t.Fatalf("template %d is not well-formed: %v", i, err)
		}
	}
}
