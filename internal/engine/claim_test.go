package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/spool"
)

// TestRecoverFinishesHalfDoneClaims: a daemon died right after renaming FV_1.xml and FV_3.xml into
// its claim folder, before the journal had them. At start-up the claims are finished: each is sent
// once and its outputs carry the ERP's name. A new FV_1.xml of the same name offered meanwhile
// never replaces the unfinished one: the older is claimed first, the newer waits in the outbox for
// the next listing and is then claimed as its own invoice. A file in another daemon's claim folder
// is left alone.
func TestRecoverFinishesHalfDoneClaims(t *testing.T) {
	h := newHarness(t, SendSettings{})
	mine := outboxclaim.Dir(h.folders.Outbox, h.eng.claims.ID())
	theirs := outboxclaim.Dir(h.folders.Outbox, "standby-0badf00d")
	halfDone := []struct {
		dir, name string
		i         int // the file holds inv(i, "HALF")
	}{{mine, "FV_1.xml", 1}, {mine, "FV_3.xml", 3}, {theirs, "FV_9.xml", 9}}
	for _, f := range halfDone {
		if err := os.MkdirAll(f.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, f.name), inv(f.i, "HALF"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	again := h.drop("FV_1.xml", inv(2, "HALF"))
	got := h.eng.claimAll(h.ctx, []string{again})
	if len(got) != 1 || got[0].OrigSize != int64(len(inv(1, "HALF"))) {
		t.Fatalf("claimed %+v, want the older FV_1.xml", got)
	}
	if _, err := os.Stat(again); err != nil {
		t.Fatalf("the newer FV_1.xml left the outbox early: %v", err)
	}

	if err := h.eng.Recover(h.ctx); err != nil {
		t.Fatal(err)
	}
	done := h.settle()
	if len(done) != 2 || done[0].OutputStem != "FV_1" || done[1].OutputStem != "FV_3" {
		t.Fatalf("after recovery: %+v", done)
	}
	for _, stem := range []string{"FV_1", "FV_3"} {
		if _, err := os.Stat(filepath.Join(h.folders.Sent, stem+".ksef.json")); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := h.eng.claims.Leftovers(h.folders.Outbox); len(left) != 0 {
		t.Fatalf("left in our claim folder: %v", left)
	}

	done = h.settle(again) // the next listing offers the newer file
	if len(done) != 3 || done[2].FileName != "FV_1.xml" || done[2].OutputStem != "FV_1-2" {
		t.Fatalf("the newer FV_1.xml: %+v", done)
	}
	if _, err := os.Stat(filepath.Join(theirs, "FV_9.xml")); err != nil {
		t.Fatalf("another daemon's claim was touched: %v", err)
	}
	for _, d := range done {
		if d.Outcome != "accepted" || filepath.Dir(d.SourcePath) != mine {
			t.Errorf("invoice %d (%s) %s, claimed from %s, want accepted from our claim folder", d.ID, d.FileName, d.Outcome, d.SourcePath)
		}
	}
	if n := len(h.sim.Stats().Accepted); n != 3 || h.sim.Stats().DuplicateSubmissions != 0 {
		t.Fatalf("simulator: %d accepted, %d duplicate submissions", n, h.sim.Stats().DuplicateSubmissions)
	}
}

// TestFailedClaimIsRetriedFromTheClaimFolder: the rename succeeded but the journal could not take
// the file (here: a read-only journal, as when the disk is full or the database is locked). The
// file waits in our claim folder, where no listing offers it again; the engine retries it itself
// once the backoff has passed, and the invoice is sent once.
func TestFailedClaimIsRetriedFromTheClaimFolder(t *testing.T) {
	h := newHarness(t, SendSettings{})
	ro, err := spool.OpenReadOnly(h.ctx, h.folders.State)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ro.Close() })
	h.eng.claimJ = ro
	p := h.drop("FV_1.xml", inv(1, "RETRY"))
	if got := h.eng.claimAll(h.ctx, []string{p}); len(got) != 0 {
		t.Fatalf("claimed %d into a read-only journal", len(got))
	}
	left, _ := h.eng.claims.Leftovers(h.folders.Outbox)
	if _, err := os.Stat(p); !os.IsNotExist(err) || len(left) != 1 {
		t.Fatalf("after the failed claim: outbox stat %v, claim folder %v", err, left)
	}

	h.eng.claimJ = h.journal // the journal works again
	h.eng.retryLeftovers(h.ctx)
	if open, _ := h.journal.ByState(h.ctx, nip, spool.StateClaimed, spool.StateReady); len(open) != 0 {
		t.Fatalf("retried before the backoff passed: %d", len(open))
	}
	g := &h.eng.leftGate // the backoff passes
	g.mu.Lock()
	entry := g.fails[leftoversKey]
	entry.next = time.Now()
	g.fails[leftoversKey] = entry
	g.mu.Unlock()
	h.eng.retryLeftovers(h.ctx)
	done := h.settle()
	if len(done) != 1 || done[0].Outcome != "accepted" || done[0].OutputStem != "FV_1" {
		t.Fatalf("after the retry: %+v", done)
	}
	if left, _ := h.eng.claims.Leftovers(h.folders.Outbox); len(left) != 0 || h.eng.leftGate.failing(leftoversKey) {
		t.Fatalf("claim folder %v, still failing %v", left, h.eng.leftGate.failing(leftoversKey))
	}

	// Without a failure on record the folder is still looked at every sweepEvery.
	stray := filepath.Join(outboxclaim.Dir(h.folders.Outbox, h.eng.claims.ID()), "FV_2.xml")
	if err := os.WriteFile(stray, inv(2, "RETRY"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.eng.retryLeftovers(h.ctx)
	if _, err := os.Stat(stray); err != nil {
		t.Fatalf("swept before sweepEvery passed: %v", err)
	}
	h.eng.nextSweep = time.Now()
	h.eng.retryLeftovers(h.ctx)
	if done := h.settle(); len(done) != 2 || done[1].OutputStem != "FV_2" {
		t.Fatalf("after the sweep: %+v", done)
	}
}

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
