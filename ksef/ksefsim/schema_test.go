package ksefsim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSchemaInvalidInvoiceGets450 sends an invoice that breaks the FA(3) schema: the simulator
// answers like KSeF, status 450 "Błąd weryfikacji semantyki dokumentu faktury" with the problems.
func TestSchemaInvalidInvoiceGets450(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	good := string(sampleInvoice(t, testNIP, "0001"))
	bad := strings.Replace(good, "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>", 1)
	bad = strings.Replace(bad, "<P_2>", "<Uwagi>x</Uwagi><P_2>", 1)
	if bad == good {
		t.Fatal("sample changed")
	}
	inv := sendInvoice(t, s, access, sess, k, []byte(bad))
	c.Advance(2 * time.Second)
	st := invoiceStatus(t, s, access, sess, inv)["status"].(map[string]any)
	line := func(sub string) int { return strings.Count(bad[:strings.Index(bad, sub)], "\n") + 1 }
	want := map[string]any{
		"code":        float64(450),
		"description": "Błąd weryfikacji semantyki dokumentu faktury",
		"details": []any{
			fmt.Sprintf("line %d: Fa/Uwagi:", line("<Uwagi>")) + " unknown element Uwagi is not allowed here; expected P_2",
			fmt.Sprintf("line %d: Fa/FaWiersz[1]/P_8B:", line("<P_8B>1,5")) + " '1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)",
		},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if n := len(s.Stats().Accepted); n != 0 {
		t.Errorf("%d invoices accepted, want none", n)
	}
}
