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
// time right after the upload (CIRFMF/ksef-client-java #77), and now and then with 21173 "Brak
// sesji" (CIRFMF/ksef-api #801). Within partsSettle the close is tried again, paced by the session
// gate, and the batch goes through in its one session; past it, the refusal is final and the
// invoices go into a new session.
func TestBatchCloseRefusedRightAfterTheUploadIsRetried(t *testing.T) {
	const forEver = 1000
	for _, tc := range []struct {
		name         string
		code         int
		refusals     int
		wantSessions int
	}{
		{"KSeF sees the parts a little later", 21205, 3, 1},
		{"KSeF sees the session a little later", 21173, 3, 1},
		{"KSeF never sees the parts", 21205, forEver, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testutil.NewClock(time.Now())
			sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip, Now: clock.Now})
			h := newHarnessOn(t, sim, SendSettings{Mode: "batch"})
			h.eng.now = clock.Now
			if err := sim.RefuseBatchCloses(tc.code, tc.refusals); err != nil {
				t.Fatal(err)
			}
			paths := []string{h.drop("P_1.xml", inv(1, "LATE")), h.drop("P_2.xml", inv(2, "LATE"))}
			for _, p := range paths {
				h.eng.intake(h.ctx, p)
			}
			for range 60 { // two minutes and more of the daemon's steps
				if err := h.eng.Step(h.ctx, true); err != nil {
					t.Logf("step: %v", err)
				}
				sim.WaitJobs()
				if tc.refusals < forEver && len(sim.Stats().Accepted) == 2 {
					break
				}
				clock.Advance(3 * time.Second)
			}
			sessions, err := h.journal.Sessions(h.ctx, nip)
			if err != nil || len(sessions) != tc.wantSessions {
				t.Fatalf("%d batch sessions (%v), want %d", len(sessions), err, tc.wantSessions)
			}
			if tc.refusals < forEver && len(sim.Stats().Accepted) != 2 {
				t.Fatalf("accepted %d, want both invoices in the first session", len(sim.Stats().Accepted))
			}
		})
	}
}
