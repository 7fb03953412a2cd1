package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
	"github.com/ksef-sync/ksef-sync/spool"
)

// submittedCopy puts data into h's journal as an invoice submitted in a session of ours.
func submittedCopy(t *testing.T, h *harness, name string, data []byte) *spool.Invoice {
	t.Helper()
	h.eng.intake(h.ctx, h.drop(name, data))
	ready, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
	if err != nil || len(ready) != 1 {
		t.Fatalf("ready = %d, %v", len(ready), err)
	}
	id := ready[0].ID
	if err := h.journal.MarkSending(h.ctx, []int64{id}, spool.Sending{Mode: "online", SessionRef: "S-ours"}); err != nil {
		t.Fatal(err)
	}
	if err := h.journal.MarkSubmitted(h.ctx, id, "I-ours"); err != nil {
		t.Fatal(err)
	}
	inv, err := h.journal.Get(h.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// registeredElsewhere has another tool register invoice i; it returns that tool's harness, the
// invoice and its KSeF number.
func registeredElsewhere(t *testing.T, i int) (*harness, []byte, string) {
	t.Helper()
	other := newHarness(t, SendSettings{})
	data := inv(i, "OTHER")
	done := other.settle(other.drop("A.xml", data))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("the other tool's send: %+v", done)
	}
	return other, data, done[0].KsefNumber
}

// TestDuplicateOfAnOriginalWeCannotList: another tool registered the original, so its session
// cannot be listed (403). The original is fetched by its KSeF number and the hashes decide
// (issue 10 §7): the same bytes are accepted with the original's number, other bytes rejected.
func TestDuplicateOfAnOriginalWeCannotList(t *testing.T) {
	other, data, origNumber := registeredElsewhere(t, 7)
	status440 := &ksef.SessionInvoice{Status: ksef.Status{Code: 440, Description: "Duplikat faktury.", Extensions: map[string]string{
		"originalKsefNumber": origNumber, "originalSessionReferenceNumber": "20261202-SO-0000000000-0000000000-00"}}}

	t.Run("same bytes", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		copyInv := submittedCopy(t, h, "B.xml", data)
		got := judgeDuplicate(t, h, copyInv, status440)
		if got.State != spool.StateAccepted || got.KsefNumber != origNumber {
			t.Fatalf("state %s ksef number %q, want accepted as %s", got.State, got.KsefNumber, origNumber)
		}
	})
	t.Run("other bytes", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		changed := []byte(strings.Replace(string(data), "</Faktura>", "<!-- changed --></Faktura>", 1))
		copyInv := submittedCopy(t, h, "C.xml", changed)
		got := judgeDuplicate(t, h, copyInv, status440)
		if got.State != spool.StateRejected || !strings.Contains(got.ErrDescription, "z inną treścią") || !strings.Contains(got.ErrHint, "nowy numer") {
			t.Fatalf("state %s: %s (hint %s), want rejected as different content (in Polish by default)", got.State, got.ErrDescription, got.ErrHint)
		}
	})
	t.Run("original not found", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		copyInv := submittedCopy(t, h, "D.xml", data)
		missing := *status440
		missing.Status.Extensions = map[string]string{"originalKsefNumber": strings.Replace(origNumber, "-", "-9", 1)[:len(origNumber)],
			"originalSessionReferenceNumber": "20261202-SO-0000000000-0000000000-00"}
		got := judgeDuplicate(t, h, copyInv, &missing)
		if got.State != spool.StateRejected || !strings.Contains(got.ErrDescription, "nie pozwolił porównać") {
			t.Fatalf("state %s: %s, want a clear rejection", got.State, got.ErrDescription)
		}
	})
}

// TestUPOOfAForeignOriginalIsBounded: a duplicate of an original another tool registered is accepted
// with the original's number, but KSeF will not give us the UPO from that tool's session (403).
// After maxUPOAttempts tries, spaced as every output retry, its outputs are written without a UPO and
// .ksef.json and the journal say so (issue 10 §7). An invoice registered in one of our own sessions
// never gives up its UPO that way.
func TestUPOOfAForeignOriginalIsBounded(t *testing.T) {
	other, data, origNumber := registeredElsewhere(t, 8)
	const foreignSession = "20261202-SO-0000000000-0000000000-00"
	status440 := &ksef.SessionInvoice{Status: ksef.Status{Code: 440, Description: "Duplikat faktury.", Extensions: map[string]string{
		"originalKsefNumber": origNumber, "originalSessionReferenceNumber": foreignSession}}}
	accepted := func(h *harness, name string) (*spool.Invoice, *time.Time) {
		copyInv := submittedCopy(t, h, name, data)
		if err := h.eng.duplicate(h.ctx, copyInv, status440); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		h.eng.now = func() time.Time { return now }
		return copyInv, &now
	}
	// tries runs the output step n times, each when the retry gate lets it, and returns the state.
	tries := func(h *harness, id int64, clock *time.Time, n int) *spool.Invoice {
		for range n {
			_ = h.eng.writeOutputs(h.ctx)
			*clock = clock.Add(maxRetry + time.Second)
		}
		got, err := h.journal.Get(h.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("another tool's session", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		copyInv, clock := accepted(h, "B.xml")
		if got := tries(h, copyInv.ID, clock, maxUPOAttempts-1); got.State != spool.StateAccepted {
			t.Fatalf("after %d failed UPO downloads: state %s, want still accepted (retrying)", maxUPOAttempts-1, got.State)
		}
		got := tries(h, copyInv.ID, clock, 1)
		if got.State != spool.StateDone || got.KsefNumber != origNumber || got.UpoPath != "" {
			t.Fatalf("state %s, number %s, UPO path %q: want done as %s without a UPO", got.State, got.KsefNumber, got.UpoPath, origNumber)
		}
		rec := h.sentRecord("B")
		// upoMissing is for the bookkeeper: Polish by default (issue 11 §4).
		if rec.UPOFile != nil || !strings.Contains(rec.UPOMissing, "zarejestrowało inne narzędzie") || !strings.Contains(rec.UPOMissing, foreignSession) ||
			rec.KsefNumber != origNumber {
			t.Fatalf(".ksef.json: upoFile %v, upoMissing %q, ksefNumber %s", rec.UPOFile, rec.UPOMissing, rec.KsefNumber)
		}
		if _, err := os.Stat(filepath.Join(h.folders.Sent, "B.upo.xml")); !os.IsNotExist(err) {
			t.Fatalf("B.upo.xml exists (%v); there is no UPO to write", err)
		}
		if _, err := os.Stat(filepath.Join(h.folders.Sent, "B.xml")); err != nil {
			t.Fatal(err)
		}
		list, err := h.journal.SentWithoutUPO(h.ctx, nip, 10)
		if err != nil || len(list) != 1 || list[0].ID != copyInv.ID {
			t.Fatalf("SentWithoutUPO = %d records, %v", len(list), err)
		}
	})
	t.Run("our own session", func(t *testing.T) {
		h := newHarnessOn(t, other.sim, SendSettings{})
		if err := h.journal.PutSession(h.ctx, spool.Session{Ref: foreignSession, NIP: nip, Kind: "online", State: "closed"}); err != nil {
			t.Fatal(err)
		}
		copyInv, clock := accepted(h, "C.xml")
		if got := tries(h, copyInv.ID, clock, 2*maxUPOAttempts); got.State != spool.StateAccepted {
			t.Fatalf("state %s: an invoice of our own session must wait for its UPO", got.State)
		}
	})
}

// judgeDuplicate runs the duplicate handling of inv for KSeF's status and returns the invoice as
// the journal holds it afterwards.
func judgeDuplicate(t *testing.T, h *harness, inv *spool.Invoice, st *ksef.SessionInvoice) *spool.Invoice {
	t.Helper()
	if err := h.eng.duplicate(h.ctx, inv, st); err != nil {
		t.Fatal(err)
	}
	got, err := h.journal.Get(h.ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestDuplicateNamingTheWrongSession: KSeF has named the duplicate's own session as the original's
// (CIRFMF/ksef-api #450, a batch re-send: "dostałem błędną oryginalną referencję sesji. Była ta z
// wysyłki duplikatu"). That session lists fine but does not hold the original, which says nothing
// about its content: it is fetched by its KSeF number and the hashes decide, as for a session we
// cannot list. Before, the invoice was rejected as "different content" although it was ours.
func TestDuplicateNamingTheWrongSession(t *testing.T) {
	other, data, origNumber := registeredElsewhere(t, 9)
	h := newHarnessOn(t, other.sim, SendSettings{})
	done := h.settle(h.drop("X.xml", inv(10, "OURS")))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("our send: %+v", done)
	}
	wrong := &ksef.SessionInvoice{Status: ksef.Status{Code: 440, Description: "Duplikat faktury.", Extensions: map[string]string{
		"originalKsefNumber": origNumber, "originalSessionReferenceNumber": done[0].SessionRef}}}
	got := judgeDuplicate(t, h, submittedCopy(t, h, "B.xml", data), wrong)
	if got.State != spool.StateAccepted || got.KsefNumber != origNumber {
		t.Fatalf("state %s ksef number %q (%s), want accepted as %s", got.State, got.KsefNumber, got.ErrDescription, origNumber)
	}
}

// TestBatchDuplicateNamingItsOwnSessionGetsItsOutputs: through the simulator, KSeF's 440 for a
// batch duplicate names the duplicate's own session as the original's (CIRFMF/ksef-api #450). The
// content is compared by the KSeF number and the copy accepted, but the session that registered the
// original is unknown, and KSeF gives a UPO only by session: the outputs are written at once without
// a UPO, saying why, instead of asking the duplicate's own session for a UPO it does not hold for
// ever (the ERP would never hear of the invoice).
func TestBatchDuplicateNamingItsOwnSessionGetsItsOutputs(t *testing.T) {
	other, data, origNumber := registeredElsewhere(t, 11)
	other.sim.DuplicatesNameOwnSession(1)
	h := newHarnessOn(t, other.sim, SendSettings{Mode: "batch"})
	done := h.settle(h.drop("B.xml", data))
	if len(done) != 1 || done[0].Outcome != "accepted" || done[0].KsefNumber != origNumber || done[0].UpoPath != "" {
		t.Fatalf("done = %+v, want accepted as %s without a UPO", done, origNumber)
	}
	if dup := other.sim.Stats().Duplicates440; dup != 1 {
		t.Fatalf("the simulator answered %d duplicates, want 1", dup)
	}
	rec := h.sentRecord("B")
	if rec.UPOFile != nil || !strings.Contains(rec.UPOMissing, "#450") || rec.SessionReferenceNumber != "" || rec.KsefNumber != origNumber {
		t.Fatalf(".ksef.json: upoFile %v, upoMissing %q, session %q, ksefNumber %s", rec.UPOFile, rec.UPOMissing, rec.SessionReferenceNumber, rec.KsefNumber)
	}
}

// TestBatchDuplicateWaitingForStorageIsNotSentAgain: a duplicate KSeF listed in a finished batch
// session, whose original it has not stored yet (21165), has its result: it waits in that session
// and is not sent again as an invoice the session ended "without results" (which, three rounds
// later, rejected it as a failed session). Through the simulator, with KSeF naming the duplicate's
// own session as the original's (CIRFMF/ksef-api #450), so the original is fetched by number.
func TestBatchDuplicateWaitingForStorageIsNotSentAgain(t *testing.T) {
	const lag = 10 * time.Minute
	sim, clock, data, original := registeredOnALaggingKSeF(t, lag)
	sim.DuplicatesNameOwnSession(1)
	h := newHarnessOn(t, sim, SendSettings{Mode: "batch"})
	h.eng.now = clock.Now
	h.eng.intake(h.ctx, h.drop("B.xml", data))
	step := func(advance time.Duration) {
		if err := h.eng.Step(h.ctx, true); err != nil {
			t.Logf("step: %v", err)
		}
		sim.WaitJobs()
		clock.Advance(advance)
	}
	for i := 0; sim.Stats().Duplicates440 == 0; i++ {
		if i == 100 {
			t.Fatal("KSeF never judged the copy")
		}
		step(time.Second)
	}
	batches := sim.Stats().Requests["batchSession"]
	for range 8 { // the confirm steps of the next minutes, before KSeF stores the original
		step(30 * time.Second)
	}
	copies, err := h.journal.ByState(h.ctx, nip, spool.StateSubmitted)
	if err != nil || len(copies) != 1 || sim.Stats().Requests["batchSession"] != batches {
		t.Fatalf("while the original is not stored: %d submitted (%v), %d more batch sessions; want the copy waiting, not sent again",
			len(copies), err, sim.Stats().Requests["batchSession"]-batches)
	}
	clock.Advance(lag)
	got, ok := h.stepUntilSettled(nil, true, true, func() { clock.Advance(originalStorageRetryMax) })
	if !ok || len(got) != 1 || got[0].Outcome != "accepted" || got[0].KsefNumber != original {
		t.Fatalf("once stored: %+v, want accepted as %s", got, original)
	}
}

// TestDuplicateWaitsForItsOriginalToBeStored: KSeF gives an invoice its number before it stores it
// for good, and until then answers a download by number with 21165 "nie jest jeszcze dostępna …
// Spróbuj ponownie później" (open-api.json; production: right after the number is assigned,
// CIRFMF/ksef-api #96). Our copy of an invoice another tool registered seconds before is in that
// window: it waits, asking again only when due, and is accepted with the original's number once
// KSeF has stored it, not rejected as an original that "could not be compared". An original KSeF
// never stores ends in that rejection after originalStorageWait.
func TestDuplicateWaitsForItsOriginalToBeStored(t *testing.T) {
	for _, tc := range []struct {
		name      string
		lag       time.Duration
		wantState spool.State
	}{
		{"stored after 10 minutes", 10 * time.Minute, spool.StateAccepted},
		{"never stored", 48 * time.Hour, spool.StateRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := copyOfAnotherToolsInvoice(t, tc.lag)
			h, clock, copyInv, status440 := d.h, d.clock, d.copy, d.status440
			downloads := func() int { return h.sim.Stats().Requests["invoiceDownload"] }

			if got := judgeDuplicate(t, h, copyInv, status440); got.State != spool.StateSubmitted {
				t.Fatalf("while KSeF has not stored the original: state %s (%s), want still submitted", got.State, got.ErrDescription)
			}
			asked := downloads()
			clock.Advance(originalStorageRetry / 2)
			if got := judgeDuplicate(t, h, copyInv, status440); got.State != spool.StateSubmitted || downloads() != asked {
				t.Fatalf("before the next lookup is due: state %s, %d more downloads, want submitted and none", got.State, downloads()-asked)
			}
			var got *spool.Invoice
			for range 100 { // each step one lookup when due, as the confirm loop would ask
				clock.Advance(originalStorageRetryMax)
				if got = judgeDuplicate(t, h, copyInv, status440); got.State != spool.StateSubmitted {
					break
				}
			}
			if got.State != tc.wantState {
				t.Fatalf("state %s (%s), want %s", got.State, got.ErrDescription, tc.wantState)
			}
			if tc.wantState == spool.StateAccepted && got.KsefNumber != d.original {
				t.Errorf("accepted as %s, want the original's %s", got.KsefNumber, d.original)
			}
			if tc.wantState == spool.StateRejected && !strings.Contains(got.ErrDescription, "nie pozwolił porównać") {
				t.Errorf("rejected with %q, want the original that could not be compared", got.ErrDescription)
			}
		})
	}
}

// TestSlowWarningOfADuplicateSaysWhatItWaitsFor: past send_timeout, a duplicate waiting for its
// original to be stored is not reported as KSeF still processing it (KSeF has decided: 440).
func TestSlowWarningOfADuplicateSaysWhatItWaitsFor(t *testing.T) {
	d := copyOfAnotherToolsInvoice(t, 48*time.Hour)
	logged := d.h.captureLog()
	if got := judgeDuplicate(t, d.h, d.copy, d.status440); got.State != spool.StateSubmitted {
		t.Fatalf("state %s, want still submitted while the original is not stored", got.State)
	}
	d.clock.Advance(d.h.eng.opt.Send.SendTimeout + time.Minute)
	if err := d.h.eng.warnSlow(d.h.ctx, d.copy.SessionRef); err != nil {
		t.Fatal(err)
	}
	out := logged.String()
	if !strings.Contains(out, "has not stored the original yet") || !strings.Contains(out, d.original) ||
		strings.Contains(out, "KSeF has not finished processing") {
		t.Errorf("warning past send_timeout:\n%s\nwant the original not stored yet, naming it, and not KSeF still processing", out)
	}
}

// anotherToolsCopy is our submitted copy of an invoice another tool registered, on a KSeF that
// stores accepted invoices after a lag, and the 440 KSeF answers for it.
type anotherToolsCopy struct {
	h         *harness
	clock     *testutil.Clock
	copy      *spool.Invoice
	status440 *ksef.SessionInvoice
	original  string // the KSeF number of the other tool's invoice
}

func copyOfAnotherToolsInvoice(t *testing.T, storageLag time.Duration) anotherToolsCopy {
	t.Helper()
	sim, clock, data, original := registeredOnALaggingKSeF(t, storageLag)
	status440 := &ksef.SessionInvoice{Status: ksef.Status{Code: 440, Description: "Duplikat faktury.", Extensions: map[string]string{
		"originalKsefNumber": original, "originalSessionReferenceNumber": "20261202-SO-0000000000-0000000000-00"}}}
	h := newHarnessOn(t, sim, SendSettings{})
	h.eng.now = clock.Now
	return anotherToolsCopy{h: h, clock: clock, copy: submittedCopy(t, h, "B.xml", data), status440: status440, original: original}
}

// registeredOnALaggingKSeF starts a simulator on a test clock that stores accepted invoices
// storageLag after accepting them, and has another tool register an invoice there; it returns the
// invoice and its KSeF number.
func registeredOnALaggingKSeF(t *testing.T, storageLag time.Duration) (*ksefsim.Server, *testutil.Clock, []byte, string) {
	t.Helper()
	clock := testutil.NewClock(time.Now())
	sim := simtest.Start(t, ksefsim.Options{DefaultNIP: nip, StorageLag: storageLag, Now: clock.Now})
	other := newHarnessOn(t, sim, SendSettings{})
	data := inv(12, "OTHER")
	done := other.settle(other.drop("A.xml", data))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("the other tool's send: %+v", done)
	}
	return sim, clock, data, done[0].KsefNumber
}
