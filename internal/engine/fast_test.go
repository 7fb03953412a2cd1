package engine

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/spool"
)

// TestLoneInvoiceSkipsGatherWindow: with a gather window far longer than the test, a lone invoice
// after a quiet period is sent by the very next step; one that arrives right after it is gathered.
func TestLoneInvoiceSkipsGatherWindow(t *testing.T) {
	h := newHarness(t, SendSettings{GatherWindow: time.Hour})
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "LONE")))
	if err := h.eng.Step(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := h.states(); st["FV_1.xml"] == spool.StateReady {
		t.Fatalf("lone invoice still waiting for the gather window: %v", st)
	}
	h.eng.intake(h.ctx, h.drop("FV_2.xml", inv(2, "LONE")))
	if err := h.eng.Step(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := h.states(); st["FV_2.xml"] != spool.StateReady {
		t.Fatalf("an invoice right after the lone one was not gathered: %v", st)
	}
	if done := h.settle(); len(done) != 2 {
		t.Fatalf("done %d of 2", len(done))
	}
}

// TestLoneInvoiceWaitsWhenBudgetUsedUp: with no room in the online budget the lone invoice is
// gathered as before (it will go by batch or when the budget frees up).
func TestLoneInvoiceWaitsWhenBudgetUsedUp(t *testing.T) {
	h := newHarness(t, SendSettings{GatherWindow: time.Hour, OnlinePerHour: 1})
	h.eng.budget.add(time.Now())
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "LONE")))
	if err := h.eng.Step(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := h.states(); st["FV_1.xml"] != spool.StateReady {
		t.Fatalf("sent without budget: %v", st)
	}
}

func (h *harness) states() map[string]spool.State {
	h.t.Helper()
	all, err := h.journal.ByState(h.ctx, nip, spool.StateClaimed, spool.StateReady, spool.StateSending,
		spool.StateSubmitted, spool.StateAccepted, spool.StateRejected, spool.StateDone)
	if err != nil {
		h.t.Fatal(err)
	}
	m := map[string]spool.State{}
	for _, inv := range all {
		m[inv.FileName] = inv.State
	}
	return m
}

// TestAdaptivePollDelay: right after a send KSeF is asked early and then at doubling waits up to
// the poll interval (a batch session at an eighth of its age); once the early-poll budget is used up, every poll interval as before; a
// session with many online invoices (paged list, 200 an hour) never polls early.
func TestAdaptivePollDelay(t *testing.T) {
	h := newHarness(t, SendSettings{PollInterval: 2 * time.Second})
	now := time.Now()
	aged := func(mode string, ds ...time.Duration) spool.Waiting {
		w := spool.Waiting{Mode: mode, Count: len(ds), Newest: now.Add(-ds[0])}
		for _, d := range ds {
			w.Newest = maxTime(w.Newest, now.Add(-d))
		}
		return w
	}
	tests := []struct {
		name string
		invs spool.Waiting
		want time.Duration
	}{
		{"just sent", aged("online", 0), firstPoll},
		{"400 ms old", aged("online", 400*time.Millisecond), 400 * time.Millisecond},
		{"batch 800 ms old", aged("batch", 800*time.Millisecond, 800*time.Millisecond), firstPoll},
		{"batch 8 s old", aged("batch", 8*time.Second), time.Second},
		{"batch 20 s old", aged("batch", 20*time.Second), 2 * time.Second},
		{"poll interval old", aged("online", 3*time.Second), 2 * time.Second},
		{"paged list", aged("online", 0, 0, 0, 0), 2 * time.Second},
	}
	for _, tt := range tests {
		if got := h.eng.adaptivePollDelay(now, tt.invs); got != tt.want {
			t.Errorf("%s: delay %s, want %s", tt.name, got, tt.want)
		}
	}
	h.eng.fastPolls = newSlidingCount(time.Hour, 1)
	if got := h.eng.adaptivePollDelay(now, aged("online", 0)); got != firstPoll {
		t.Fatalf("with one early poll left: %s", got)
	}
	if got := h.eng.adaptivePollDelay(now, aged("online", 0)); got != 2*time.Second {
		t.Fatalf("early polls used up: %s, want the poll interval", got)
	}
}

// TestGatheringWakesAtItsDeadline: invoices being gathered make the loop wake when the gather
// window ends, not at its next poll tick.
func TestGatheringWakesAtItsDeadline(t *testing.T) {
	h := newHarness(t, SendSettings{GatherWindow: time.Second, PollInterval: time.Minute})
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "GATHER")), h.drop("FV_2.xml", inv(2, "GATHER")))
	if err := h.eng.Step(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := h.states(); st["FV_1.xml"] != spool.StateReady || st["FV_2.xml"] != spool.StateReady {
		t.Fatalf("two invoices at once were not gathered: %v", st)
	}
	d, ok := h.eng.untilWake(time.Now())
	if !ok || d > time.Second {
		t.Fatalf("wake in %s (%v), want within the 1 s gather window", d, ok)
	}
}
