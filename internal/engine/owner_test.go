package engine

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/spool"
)

// TestCopiedJournalMovesNothing: when another live process uses our daemon id in the outbox (our
// state folder is a copy of its, or it took the id over while we were paused), the invoices already
// in our journal are its invoices too: we neither send, confirm nor write outputs for them. Once
// that process stops refreshing its record, ours takes over and they go as usual, once.
func TestCopiedJournalMovesNothing(t *testing.T) {
	h := newHarness(t, SendSettings{})
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clk := testutil.NewClock(start)
	id := h.eng.claims.ID()
	h.eng.owner = outboxclaim.NewGuard(h.folders.Outbox, id, outboxclaim.Me(h.folders.State), clk.Now)
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "COPY")))
	queued, err := h.journal.ByState(h.ctx, nip, spool.StateClaimed, spool.StateReady)
	if err != nil || len(queued) != 1 {
		t.Fatalf("queued = %v, %v", queued, err)
	}

	// The other process finds our record stale (we were paused past FreshFor) and takes the id.
	later := start.Add(outboxclaim.FreshFor + time.Second)
	other := outboxclaim.NewGuard(h.folders.Outbox, id, outboxclaim.Owner{Host: "srv2", StateDir: "/copy", PID: 2, Instance: "other"}, func() time.Time { return later })
	if err := other.Check(); err != nil {
		t.Fatalf("the other process did not take the id over: %v", err)
	}
	clk.Advance(later.Sub(start))
	for range 3 {
		if err := h.eng.Step(h.ctx, true); err != nil {
			t.Fatalf("step: %v", err)
		}
	}
	if h.eng.copiedJournal() == nil {
		t.Fatal("no conflict seen")
	}
	if still, _ := h.journal.ByState(h.ctx, nip, spool.StateClaimed, spool.StateReady); len(still) != 1 || len(h.sim.Stats().Accepted) != 0 {
		t.Fatalf("moved while another process had our id: queued %d, accepted at KSeF %d", len(still), len(h.sim.Stats().Accepted))
	}
	if _, err := h.eng.SendOnce(h.ctx, nil, nil); err == nil {
		t.Fatal("a one-pass send ran from the copied journal")
	}

	clk.Advance(outboxclaim.FreshFor + outboxclaim.RefreshEvery) // the other process stopped
	done := h.settle()
	if len(done) != 1 || done[0].Outcome != "accepted" || len(h.sim.Stats().Accepted) != 1 {
		t.Fatalf("after the other process stopped: done %+v, accepted at KSeF %d", done, len(h.sim.Stats().Accepted))
	}
}
