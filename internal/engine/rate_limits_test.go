package engine

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// TestOnlineBudgetFollowsKSeFsTable: the online budget of auto mode is our share of the invoiceSend
// limit GET /rate-limits reports for the context, not the production 180/h. With the limit raised
// to 360/h (CIRFMF/ksef-api #698: raised on request), a lone invoice after 200 online sends in the
// hour still goes online; lowered to 90/h, the next one waits to be gathered.
func TestOnlineBudgetFollowsKSeFsTable(t *testing.T) {
	h := newHarness(t, SendSettings{GatherWindow: time.Hour})
	if got := h.eng.budget.available(time.Now()); got != ksef.OurShare(ksef.OnlineSendsPerHour) {
		t.Fatalf("before KSeF's table is read: %d online sends available, want %d", got, ksef.OurShare(ksef.OnlineSendsPerHour))
	}
	adopt := func(perSecond, perMinute, perHour int) {
		t.Helper()
		if err := h.sim.SetContextRateLimit(nip, ksef.GroupInvoiceSend, perSecond, perMinute, perHour); err != nil {
			t.Fatal(err)
		}
		if err := h.client.RefreshLimits(h.ctx); err != nil {
			t.Fatal(err)
		}
	}
	adopt(10, 30, 360)
	for range 200 {
		h.eng.budget.add(time.Now())
	}
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "RAISED")))
	if err := h.eng.Step(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := h.states(); st["FV_1.xml"] == spool.StateReady {
		t.Fatalf("with invoiceSend at 360/h and 200 sent, the lone invoice waited: %v", st)
	}

	adopt(5, 15, 90)
	if got := h.eng.budget.available(time.Now()); got != 0 {
		t.Fatalf("with invoiceSend lowered to 90/h after 201 sends: %d available, want 0", got)
	}
	h.eng.intake(h.ctx, h.drop("FV_2.xml", inv(2, "LOWERED")))
	if err := h.eng.Step(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st := h.states(); st["FV_2.xml"] != spool.StateReady {
		t.Fatalf("with invoiceSend lowered to 90/h, the lone invoice went online: %v", st)
	}
}
