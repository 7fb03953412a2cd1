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
			if len(st.BatchSessions) != 2 {
				t.Fatalf("batch sessions at KSeF: %+v, want the orphan and one that carried the invoices", st.BatchSessions)
			}
			orphan, used := st.BatchSessions[0], st.BatchSessions[1]
			if orphan.PartsUploaded != 0 || orphan.Closed || orphan.Invoices != 0 || used.Invoices != 3 {
				t.Fatalf("orphan %+v, used %+v", orphan, used)
			}
			abandoned, err := h.journal.Sessions(h.ctx, nip, "abandoned")
			if err != nil || len(abandoned) != 1 || abandoned[0].Ref != orphan.Ref {
				t.Fatalf("abandoned sessions in the journal: %+v, %v; want %s", abandoned, err, orphan.Ref)
			}
			closed, err := h.journal.Sessions(h.ctx, nip, "closed")
			if err != nil || len(closed) != 1 || closed[0].Ref != used.Ref {
				t.Fatalf("closed sessions in the journal: %+v, %v", closed, err)
			}
		})
	}
}
