package engine

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

// TestInvoiceSizeFollowsKSeFsLimitForTheContext: KSeF raises a context's invoice size limit on
// request (limity.md, "Dostosowanie limitów"). An invoice over the default 1 MB is refused while
// the context has the default, and sent once KSeF raised it; send.max_invoice_size may only be
// stricter; while KSeF cannot tell, its defaults apply. An ordinary invoice never asks.
func TestInvoiceSizeFollowsKSeFsLimitForTheContext(t *testing.T) {
	big := padded(inv(1, "BIG"), 1_500_000)
	t.Run("default limit", func(t *testing.T) {
		h := newHarness(t, SendSettings{})
		h.assertTooLarge(h.drop("FV_big.xml", big), "1000000")
	})
	t.Run("raised limit", func(t *testing.T) {
		h := newHarness(t, SendSettings{})
		small := h.settle(h.drop("FV_small.xml", inv(2, "SMALL")))
		if len(small) != 1 || small[0].Outcome != "accepted" || h.eng.ctxLimits.known {
			t.Fatalf("an ordinary invoice: %+v, limits read: %v (want accepted without asking KSeF)", small, h.eng.ctxLimits.known)
		}
		h.sim.SetMaxInvoiceSizes(nip, 2, 3)
		done := h.settle(h.drop("FV_big.xml", big))
		if len(done) != 2 || done[1].Outcome != "accepted" || len(h.sim.Stats().Accepted) != 2 {
			t.Fatalf("1.5 MB with KSeF's limit raised to 2 MB: %+v, want accepted", done)
		}
	})
	t.Run("configured stricter", func(t *testing.T) {
		h := newHarness(t, SendSettings{MaxInvoiceSize: 1_200_000})
		h.sim.SetMaxInvoiceSizes(nip, 2, 3)
		h.assertTooLarge(h.drop("FV_big.xml", big), "1200000")
	})
	t.Run("limits unreadable", func(t *testing.T) {
		sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip})
		h := newHarnessOn(t, sim, SendSettings{}, func(o *ksef.Options) { o.MaxRetries = 1 }) // one quick retry of the failing read
		sim.SetMaxInvoiceSizes(nip, 2, 3)
		sim.SetFaults(ksefsim.Faults{ErrorRate: 1, OnlyPaths: []string{"/limits/context"}})
		h.assertTooLarge(h.drop("FV_big.xml", big), "1000000")
	})
}

// assertTooLarge settles path and checks it went to error/ as too-large with limit in the reason.
func (h *harness) assertTooLarge(path, limit string) {
	h.t.Helper()
	done := h.settle(path)
	if len(done) != 1 || done[0].Outcome != "rejected" || done[0].ErrStage != "validation" {
		h.t.Fatalf("done = %+v, want rejected at validation", done)
	}
	rec := h.errorRecord("FV_big")
	if rec.Code != "too-large" || !strings.Contains(rec.Description, limit) {
		h.t.Errorf("error record %+v, want too-large with the limit %s", rec, limit)
	}
	if n := len(h.sim.Stats().Accepted); n != 0 {
		h.t.Errorf("KSeF accepted %d invoices", n)
	}
}

// padded makes invoice size bytes long with a comment before its last closing tag.
func padded(invoice []byte, size int) []byte {
	end := bytes.LastIndex(invoice, []byte("</"))
	fill := bytes.Repeat([]byte("x"), size-len(invoice)-len("<!---->"))
	return slices.Concat(invoice[:end], []byte("<!--"), fill, []byte("-->"), invoice[end:])
}
