package engine

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

// TestBatchCloseRefusedRightAfterTheUploadIsRetried: KSeF answers the close of a batch whose
// parts storage took with 21205 "Nie przesłano zadeklarowanej '1' części pliku" about every second
// time right after the upload (CIRFMF/ksef-client-java #77). Within partsSettle the close is tried
// again, paced by the session gate, and the batch goes through in its one session; past it, a 21205
// means the parts are missing and the invoices go into a new session.
func TestBatchCloseRefusedRightAfterTheUploadIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name         string
		refusals     int
		wantSessions int
	}{
		{"KSeF sees the parts a little later", 3, 1},
		{"KSeF never sees them", 1000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testutil.NewClock(time.Now())
			sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip, Now: clock.Now})
			h := newHarnessOn(t, sim, SendSettings{Mode: "batch"})
			h.eng.now = clock.Now
			sim.PartsSeenLate(tc.refusals)
			paths := []string{h.drop("P_1.xml", inv(1, "LATE")), h.drop("P_2.xml", inv(2, "LATE"))}
			for _, p := range paths {
				h.eng.intake(h.ctx, p)
			}
			for range 60 { // two minutes and more of the daemon's steps
				if err := h.eng.Step(h.ctx, true); err != nil {
					t.Logf("step: %v", err)
				}
				sim.WaitJobs()
				if tc.refusals < 1000 && len(sim.Stats().Accepted) == 2 {
					break
				}
				clock.Advance(3 * time.Second)
			}
			sessions, err := h.journal.Sessions(h.ctx, nip)
			if err != nil || len(sessions) != tc.wantSessions {
				t.Fatalf("%d batch sessions (%v), want %d", len(sessions), err, tc.wantSessions)
			}
			if tc.refusals < 1000 && len(sim.Stats().Accepted) != 2 {
				t.Fatalf("accepted %d, want both invoices in the first session", len(sim.Stats().Accepted))
			}
		})
	}
}
