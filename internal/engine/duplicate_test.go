package engine

import (
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// submittedCopy puts data into h's journal as an invoice submitted in a session of ours.
func submittedCopy(t *testing.T, h *harness, name string, data []byte) *spool.Invoice {
	t.Helper()
	h.eng.intake(h.ctx, h.drop(name, data))
	ready, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
	if err != nil || len(ready) != 1 {
		t.Fatalf("ready = %d, %v", len(ready), err)
	}
	id := ready[0].ID
	if err := h.journal.MarkSending(h.ctx, []int64{id}, spool.Sending{Mode: "online", SessionRef: "S-ours"}); err != nil {
		t.Fatal(err)
	}
	if err := h.journal.MarkSubmitted(h.ctx, id, "I-ours"); err != nil {
		t.Fatal(err)
	}
	inv, err := h.journal.Get(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestDuplicateOfAnOriginalWeCannotList: another tool registered the original, so its session
// cannot be listed (21173). The original is fetched by its KSeF number and the hashes decide
// (issue 10 §7): the same bytes are accepted with the original's number, other bytes rejected.
func TestDuplicateOfAnOriginalWeCannotList(t *testing.T) {
	other := newHarness(t, SendSettings{})
	data := inv(7, "OTHER")
	done := other.settle(other.drop("A.xml", data))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("the other tool's send: %+v", done)
	}
	origNumber := done[0].KsefNumber
	status440 := &ksef.SessionInvoice{Status: ksef.Status{Code: 440, Description: "Duplikat faktury.", Extensions: map[string]string{
		"originalKsefNumber": origNumber, "originalSessionReferenceNumber": "20261202-SO-0000000000-0000000000-00"}}}

	t.Run("same bytes", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		copyInv := submittedCopy(t, h, "B.xml", data)
		if err := h.eng.duplicate(h.ctx, copyInv, status440); err != nil {
			t.Fatal(err)
		}
		got, err := h.journal.Get(h.ctx, copyInv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != spool.StateAccepted || got.KsefNumber != origNumber {
			t.Fatalf("state %s ksef number %q, want accepted as %s", got.State, got.KsefNumber, origNumber)
		}
	})
	t.Run("other bytes", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		changed := []byte(strings.Replace(string(data), "</Faktura>", "<!-- changed --></Faktura>", 1))
		copyInv := submittedCopy(t, h, "C.xml", changed)
		if err := h.eng.duplicate(h.ctx, copyInv, status440); err != nil {
			t.Fatal(err)
		}
		got, err := h.journal.Get(h.ctx, copyInv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != spool.StateRejected || !strings.Contains(got.ErrDescription, "z inną treścią") || !strings.Contains(got.ErrHint, "nowy numer") {
			t.Fatalf("state %s: %s (hint %s), want rejected as different content (in Polish by default)", got.State, got.ErrDescription, got.ErrHint)
		}
	})
	t.Run("original not found", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		copyInv := submittedCopy(t, h, "D.xml", data)
		missing := *status440
		missing.Status.Extensions = map[string]string{"originalKsefNumber": strings.Replace(origNumber, "-", "-9", 1)[:len(origNumber)],
			"originalSessionReferenceNumber": "20261202-SO-0000000000-0000000000-00"}
		if err := h.eng.duplicate(h.ctx, copyInv, &missing); err != nil {
			t.Fatal(err)
		}
		got, err := h.journal.Get(h.ctx, copyInv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != spool.StateRejected || !strings.Contains(got.ErrDescription, "nie pozwolił porównać") {
			t.Fatalf("state %s: %s, want a clear rejection", got.State, got.ErrDescription)
		}
	})
}
