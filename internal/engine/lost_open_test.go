package engine

import (
	"fmt"
	"testing"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestLostBatchOpenIsReconciled: KSeF opens the batch session and the answer is lost (a dropped
// connection, then a gateway's 504). The engine reads KSeF's session list, records the orphan as
// abandoned, and sends the invoices in one new session: each registered once, nothing uploaded to
// the orphan (issue 10 §6).
func TestLostBatchOpenIsReconciled(t *testing.T) {
	for _, how := range []string{ksefsim.LoseByDrop, ksefsim.LoseBy504} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t, SendSettings{Mode: "batch"})
			if err := h.sim.LoseAnswers(ksefsim.LoseOpenBatch, 1, how); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for i := range 3 {
				paths = append(paths, h.drop(fmt.Sprintf("L%d.xml", i), inv(30+i, "LOST"+how)))
			}
			done := h.settle(paths...)
			if len(done) != 3 {
				t.Fatalf("done = %d, want 3", len(done))
			}
			for _, d := range done {
				if d.Outcome != "accepted" {
					t.Fatalf("%s: %s %s", d.FileName, d.Outcome, d.ErrDescription)
				}
			}
			st := h.sim.Stats()
			if st.LostAnswers != 1 || len(st.Accepted) != 3 || st.DuplicateSubmissions != 0 {
				t.Fatalf("lost answers %d, accepted %d, duplicate submissions %d", st.LostAnswers, len(st.Accepted), st.DuplicateSubmissions)
			}
			// Under load the invoices may be validated in turns and go into more than one batch; what
			// matters is that exactly one session (the lost open) carries nothing and the others carry
			// every invoice once.
			var orphans []ksefsim.BatchSessionSummary
			carried := map[string]bool{}
			total := 0
			for _, s := range st.BatchSessions {
				if s.PartsUploaded == 0 && !s.Closed && s.Invoices == 0 {
					orphans = append(orphans, s)
					continue
				}
				carried[s.Ref] = true
				total += s.Invoices
			}
			if len(orphans) != 1 || total != 3 {
				t.Fatalf("batch sessions at KSeF: %+v; want one orphan and the 3 invoices once in the others", st.BatchSessions)
			}
			abandoned, err := h.journal.Sessions(h.ctx, nip, "abandoned")
			if err != nil || len(abandoned) != 1 || abandoned[0].Ref != orphans[0].Ref {
				t.Fatalf("abandoned sessions in the journal: %+v, %v; want %s", abandoned, err, orphans[0].Ref)
			}
			closed, err := h.journal.Sessions(h.ctx, nip, "closed")
			if err != nil || len(closed) != len(carried) {
				t.Fatalf("closed sessions in the journal: %+v, %v; want %d", closed, err, len(carried))
			}
			for _, c := range closed {
				if !carried[c.Ref] {
					t.Fatalf("journal session %s closed but KSeF has no invoices in it", c.Ref)
				}
			}
		})
	}
}
