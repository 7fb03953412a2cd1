package engine

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
	"github.com/ksef-sync/ksef-sync/spool"
)

// TestOfficeGrantedReadOnlyWaitsForInvoiceWrite: the company granted the office InvoiceRead only.
// The office's certificate logs in, and KSeF refuses the online session with 403
// missing-permissions. The invoice waits in the journal (not rejected, not lost), the log names
// the permission to ask the company for, and over two hours the engine opens at most a handful of
// sessions instead of one a minute. Once the company grants InvoiceWrite, the invoice goes.
func TestOfficeGrantedReadOnlyWaitsForInvoiceWrite(t *testing.T) {
	const office = "1111111111"
	clock := testutil.NewClock(time.Now())
	sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip, Now: clock.Now})
	if err := sim.GrantPermissions(office, nip, ksefsim.PermissionInvoiceRead); err != nil {
		t.Fatal(err)
	}
	creds := simtest.Certificate(t, office)
	h := newHarnessOn(t, sim, SendSettings{Mode: "online"}, func(o *ksef.Options) {
		o.Auth, o.Clock = ksef.XadesAuth{Credentials: creds, Now: clock.Now}, clock
	})
	logs := &testutil.LogBuffer{}
	h.eng.now = clock.Now
	h.eng.log = slog.New(slog.NewTextHandler(logs, nil))
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "READONLY")))

	for range 240 { // two hours of the daemon's turns, one every 30 s
		if err := h.eng.Step(h.ctx, true); err != nil {
			t.Logf("step: %v", err)
		}
		clock.Advance(30 * time.Second)
	}
	if opens := sim.Stats().Requests["onlineSession"]; opens < 1 || opens > 6 {
		t.Errorf("%d online session opens in two hours, want between 1 and 6", opens)
	}
	waiting, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
	if err != nil || len(waiting) != 1 {
		t.Fatalf("%d invoices waiting to be sent (%v), want the one", len(waiting), err)
	}
	if want := "ask the company to grant InvoiceWrite"; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %q:\n%s", want, logs.String())
	}

	sim.Grant(office, nip)
	clock.Advance(maxPermissionWait)
	done, ok := h.stepUntilSettled(nil, true, true, func() { clock.Advance(3 * time.Second) })
	if !ok || len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("after the grant: %+v (settled %v), want the invoice accepted", done, ok)
	}
}
