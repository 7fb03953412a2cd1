package engine

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/spool"
)

// settleSkipping is settle with the engine's clock moved a minute ahead after every step, so an
// invoice KSeF asked for again is due at once instead of after the real retry delay. It steps as the
// daemon does (no flush), so an online session stays open between steps until it idles out.
func (h *harness) settleSkipping(paths ...string) []spool.Invoice {
	h.t.Helper()
	var skew atomic.Int64
	h.eng.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	done, ok := h.stepUntilSettled(paths, false, true, func() { skew.Add(int64(time.Minute)) })
	if ok {
		return done
	}
	open, _ := h.journal.ByState(h.ctx, nip, spool.StateReady, spool.StateSending, spool.StateSubmitted)
	for _, inv := range open {
		h.t.Logf("%s: %s attempts %d next %s (now %s)", inv.FileName, inv.State, inv.Attempts, inv.NextAttemptAt, h.eng.now())
	}
	h.t.Fatal("invoices did not settle")
	return nil
}

// TestInvoiceStatusCodes: every invoice status open-api.json lists that our content checks never
// give (SessionInvoiceStatusResponse.status) is handled as KSeF means it: 405 "Przetwarzanie
// anulowane z powodu błędu sesji" and 550 "Operacja została anulowana przez system … Spróbuj
// ponownie" are sent again and end accepted; so are 435 "Błąd odszyfrowania pliku" and 500
// "Nieznany błąd" (KSeF failed, not the invoice) until they come three times in a row, when the
// invoice goes to error/ with the code as text and its own hint, as 410 (permissions) does at once.
func TestInvoiceStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		code     int
		times    int // how many invoices in a row KSeF ends with code
		mode     string
		outcome  string
		wantHint msg.Key
	}{
		{405, 1, "online", "accepted", ""},
		{550, 1, "online", "accepted", ""},
		{405, 1, "batch", "accepted", ""},
		{550, 1, "batch", "accepted", ""},
		{435, 1, "online", "accepted", ""},
		{435, 2, "batch", "accepted", ""},
		{500, 2, "online", "accepted", ""},
		{500, 1, "batch", "accepted", ""},
		{410, 1, "online", "rejected", msg.HintKSeF410},
		{435, 3, "online", "rejected", msg.HintKSeF435},
		{500, 3, "batch", "rejected", msg.HintKSeF500},
	} {
		t.Run(tc.mode+"/"+strconv.Itoa(tc.code)+"x"+strconv.Itoa(tc.times), func(t *testing.T) {
			// An idle online session would be closed anyway as the clock skips ahead: not here.
			h := newHarness(t, SendSettings{Mode: tc.mode, SessionIdleClose: 24 * time.Hour})
			if err := h.sim.FailInvoices(tc.code, tc.times); err != nil {
				t.Fatal(err)
			}
			done := h.settleSkipping(h.drop("FV_C.xml", inv(1, "CODE")))
			if len(done) != 1 || done[0].Outcome != tc.outcome {
				t.Fatalf("done = %+v; want one %s", done, tc.outcome)
			}
			if n := len(h.eng.ksefFails); n != 0 {
				t.Errorf("the engine still counts KSeF's failures of %d final invoices", n)
			}
			if tc.outcome == "accepted" {
				acc := h.sim.Stats().Accepted
				if len(acc) != 1 {
					t.Fatalf("simulator accepted %d invoices; want 1", len(acc))
				}
				if tc.mode == "online" && tc.code != 550 {
					h.sentAgainInNewSession(acc[0].SessionReferenceNumber)
				}
				return
			}
			rec := h.errorRecord("FV_C")
			if rec.Code != strconv.Itoa(tc.code) || rec.KsefCode != tc.code || rec.Stage != "ksef" {
				t.Errorf("error record code %q/%d stage %q; want %d ksef", rec.Code, rec.KsefCode, rec.Stage, tc.code)
			}
			if want := msg.PL.T(tc.wantHint); !strings.Contains(rec.Hint, want) {
				t.Errorf("hint %q; want %q", rec.Hint, want)
			}
		})
	}
}

// TestBatchSessionFailureSaysSo: a batch session that keeps ending as a whole (440 "Sesja
// anulowana / Przekroczono czas wysyłki" after a correct close, CIRFMF/ksef-api #308) is sent
// again, and when the invoice is finally rejected, its error file names the session's failure. It
// must not read as the invoice code that shares the number: invoice 440 is "Duplikat faktury"
// (open-api.json), and the duplicate hint would send the bookkeeper after a registration that
// never happened.
func TestBatchSessionFailureSaysSo(t *testing.T) {
	h := newHarness(t, SendSettings{Mode: "batch"})
	if err := h.sim.FailBatches(440, 10); err != nil {
		t.Fatal(err)
	}
	done := h.settleSkipping(h.drop("FV_S.xml", inv(1, "SESS")))
	if len(done) != 1 || done[0].Outcome != "rejected" {
		t.Fatalf("done = %+v; want one rejected", done)
	}
	if n := len(h.sim.Stats().BatchSessions); n < 2 {
		t.Errorf("%d batch sessions; want the invoice sent again before it is given up", n)
	}
	rec := h.errorRecord("FV_S")
	if rec.Code != "440" || rec.Stage != "ksef" {
		t.Errorf("code %q stage %q; want KSeF's session status 440, stage ksef", rec.Code, rec.Stage)
	}
	if dup := msg.PL.T(msg.HintKSeF440); strings.Contains(rec.Hint, dup) {
		t.Errorf("hint %q is the duplicate invoice's: the session failed, nothing was registered", rec.Hint)
	}
	if !strings.Contains(rec.Description, "sesji wsadowej") || !strings.Contains(strings.Join(rec.Details, " "), "Przekroczono czas wysyłki") {
		t.Errorf("description %q, details %q; want the batch session named and KSeF's words kept", rec.Description, rec.Details)
	}
}

// TestSessionUnderServiceWorkIsLeftForANewOne: KSeF refuses a send with 21184 "Sesja tymczasowo
// niedostępna" while service work holds the session, and MF recommends opening a new session and
// going on (CIRFMF/ksef-api #864). The invoice is accepted in a new session, not rejected.
func TestSessionUnderServiceWorkIsLeftForANewOne(t *testing.T) {
	h := newHarness(t, SendSettings{Mode: "online"})
	h.sim.SessionsUnavailable(1)
	done := h.settleSkipping(h.drop("FV_U.xml", inv(1, "UNAV")))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v; want accepted", done)
	}
	h.sentAgainInNewSession(done[0].SessionRef)
}

// sentAgainInNewSession checks that the invoice KSeF cancelled with 405 ("because of a session
// error") was accepted in another online session than the first one the engine opened.
func (h *harness) sentAgainInNewSession(acceptedIn string) {
	h.t.Helper()
	ss, err := h.journal.Sessions(h.ctx, nip)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(ss) < 2 || ss[0].Ref == acceptedIn {
		h.t.Errorf("sessions %+v, accepted in %s: want the invoice sent again in a new session, not into the one KSeF failed", ss, acceptedIn)
	}
}

// TestBatchSessionFailureAfterOutage: dispatches deferred while KSeF was unreachable count as
// attempts in the journal, but not as failed sessions. After such an outage, one batch session
// that KSeF ends as a whole (500 "Nieznany błąd") sends the invoice again instead of rejecting it.
func TestBatchSessionFailureAfterOutage(t *testing.T) {
	h := newHarness(t, SendSettings{Mode: "batch"})
	h.eng.intake(h.ctx, h.drop("FV_O.xml", inv(1, "OUTAGE")))
	ready, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
	if err != nil || len(ready) != 1 {
		t.Fatalf("ready = %d, %v", len(ready), err)
	}
	for range 5 { // as deferAll leaves it after five dispatches KSeF did not answer
		if err := h.journal.Defer(h.ctx, []int64{ready[0].ID}, func(int) time.Time { return time.Now() }); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.sim.FailBatches(500, 1); err != nil {
		t.Fatal(err)
	}
	done := h.settleSkipping()
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v; want the invoice sent again and accepted", done)
	}
	if n := len(h.sim.Stats().BatchSessions); n != 2 {
		t.Errorf("%d batch sessions; want 2 (the failed one and the one that registered it)", n)
	}
}
