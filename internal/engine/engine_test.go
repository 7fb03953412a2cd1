package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

const nip = "5265877635"

// harness is an engine wired to the real journal, the real client and the simulator.
type harness struct {
	t       *testing.T
	ctx     context.Context
	sim     *ksefsim.Server
	client  *ksef.Client
	journal *spool.Journal
	eng     *Engine
	folders Folders
}

func newHarness(t *testing.T, send SendSettings) *harness {
	t.Helper()
	return newHarnessOn(t, simtest.Start(t, ksefsim.Options{DefaultNIP: nip}), send)
}

// newHarnessOn is a harness with its own folders and journal against an existing simulator: a
// second tool sending for the same company. tweaks change the client's options.
func newHarnessOn(t *testing.T, sim *ksefsim.Server, send SendSettings, tweaks ...func(*ksef.Options)) *harness {
	t.Helper()
	copts := ksef.Options{BaseURL: sim.URL(), Context: ksef.ContextIdentifier{Type: "Nip", Value: nip}, Auth: ksef.TokenAuth{Token: sim.Token(nip)}}
	for _, tweak := range tweaks {
		tweak(&copts)
	}
	client, err := ksef.New(copts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := Folders{Outbox: filepath.Join(dir, "outbox"), Sent: filepath.Join(dir, "sent"), Error: filepath.Join(dir, "error"), Inbox: filepath.Join(dir, "inbox"), State: filepath.Join(dir, "state")}
	for _, d := range []string{f.Outbox, f.Sent, f.Error, f.Inbox, f.State} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	j := spooltest.Open(t, f.State)
	if send.PollInterval == 0 {
		send.PollInterval = 20 * time.Millisecond
	}
	eng, err := New(Options{NIP: nip, QRBase: "https://qr-test.ksef.mf.gov.pl", Folders: f, Send: send, KSeF: client, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, ctx: ctx, sim: sim, client: client, journal: j, eng: eng, folders: f}
}

func (h *harness) drop(name string, data []byte) string {
	h.t.Helper()
	p := filepath.Join(h.folders.Outbox, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// settle claims the given files and steps the engine until every invoice is done.
func (h *harness) settle(paths ...string) []spool.Invoice {
	h.t.Helper()
	tick := time.NewTicker(h.eng.opt.Send.PollInterval)
	defer tick.Stop()
	done, ok := h.stepUntilSettled(paths, true, false, func() {
		<-tick.C // KSeF (the simulator) processes asynchronously: poll as the daemon does
	})
	if !ok {
		h.t.Fatal("invoices did not settle")
	}
	return done
}

// stepUntilSettled claims the given files, then steps the engine (with flush as Step takes it) up
// to 500 times, until no invoice is open, and returns the done ones. waitJobs lets the simulator
// finish its asynchronous work after each step, before the journal is read; between runs after
// each step that leaves invoices open. ok is false when they never settled.
func (h *harness) stepUntilSettled(paths []string, flush, waitJobs bool, between func()) (done []spool.Invoice, ok bool) {
	h.t.Helper()
	for _, p := range paths {
		h.eng.intake(h.ctx, p)
	}
	for range 500 {
		if err := h.eng.Step(h.ctx, flush); err != nil {
			h.t.Logf("step: %v", err)
		}
		if waitJobs {
			h.sim.WaitJobs()
		}
		open, err := h.journal.ByState(h.ctx, nip, spool.StateClaimed, spool.StateReady, spool.StateSending, spool.StateSubmitted, spool.StateAccepted, spool.StateRejected)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(open) == 0 {
			done, _ := h.journal.ByState(h.ctx, nip, spool.StateDone)
			return done, true
		}
		between()
	}
	return nil, false
}

func inv(i int, tag string) []byte {
	return samples.Invoice(i, nip, time.Now(), fmt.Sprintf("%s-%d", tag, i))
}

func TestSingleInvoiceGoesOnlineAndWritesOutputs(t *testing.T) {
	h := newHarness(t, SendSettings{})
	done := h.settle(h.drop("FV_1.xml", inv(1, "ONL")))
	if len(done) != 1 || done[0].Outcome != "accepted" || done[0].Mode != "online" {
		t.Fatalf("done = %+v", done)
	}
	rec := h.sentRecord("FV_1")
	if !ksef.ValidKsefNumber(rec.KsefNumber) || rec.Mode != "online" || rec.QRCodeI == "" {
		t.Fatalf("record %+v", rec)
	}
	if h.sim.Stats().Accepted[0].KsefNumber != rec.KsefNumber {
		t.Fatalf("simulator has %+v", h.sim.Stats().Accepted)
	}
}

func TestSeveralInvoicesGoByBatch(t *testing.T) {
	h := newHarness(t, SendSettings{})
	var paths []string
	for i := range 5 {
		paths = append(paths, h.drop(fmt.Sprintf("B_%d.xml", i), inv(i, "BAT")))
	}
	done := h.settle(paths...)
	for _, d := range done {
		if d.Outcome != "accepted" || d.Mode != "batch" {
			t.Errorf("%s: %s %s", d.FileName, d.Outcome, d.Mode)
		}
	}
	if len(done) != 5 || len(h.sim.Stats().Accepted) != 5 {
		t.Fatalf("done %d, simulator accepted %d", len(done), len(h.sim.Stats().Accepted))
	}
	// Each copy in sent/ is its own invoice's bytes (the outputs read the journal's copies a lot at
	// a time), and its record names the hash KSeF registered for those bytes.
	for i := range 5 {
		stem := filepath.Join(h.folders.Sent, fmt.Sprintf("B_%d", i))
		got, err := os.ReadFile(stem + ".xml")
		if err != nil || !bytes.Equal(got, inv(i, "BAT")) {
			t.Errorf("B_%d.xml in sent/ is not the invoice dropped (%v)", i, err)
		}
		var rec SentRecord
		js, _ := os.ReadFile(stem + ".ksef.json")
		sum := sha256.Sum256(got)
		if err := json.Unmarshal(js, &rec); err != nil || rec.InvoiceHash != base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("B_%d.ksef.json: invoiceHash %q does not match the copy (%v)", i, rec.InvoiceHash, err)
		}
	}
}

func TestDuplicateNumberWithDifferentContentIsRejected(t *testing.T) {
	h := newHarness(t, SendSettings{})
	first := inv(2, "DUP") // template 2 has <P_1M>
	h.settle(h.drop("A.xml", first))
	// Same invoice number (P_2), different content: another place of issue.
	second := []byte(strings.Replace(string(first), "<P_1M>Lidzbark</P_1M>", "<P_1M>Olsztyn</P_1M>", 1))
	done := h.settle(h.drop("B.xml", second))
	var b spool.Invoice
	for _, d := range done {
		if d.FileName == "B.xml" {
			b = d
		}
	}
	if b.Outcome != "rejected" || b.ErrCode != 440 {
		t.Fatalf("B.xml: %+v", b)
	}
	var rec map[string]any
	data, _ := os.ReadFile(filepath.Join(h.folders.Error, "B.error.json"))
	_ = json.Unmarshal(data, &rec)
	// Issue 11: code is always text; KSeF's numeric code is also given as ksefCode.
	if rec["stage"] != "ksef" || rec["code"] != "440" || rec["ksefCode"] != float64(440) {
		t.Fatalf("error record %v", rec)
	}
}

func TestResendOfAcceptedBytesIsNotSentAgain(t *testing.T) {
	h := newHarness(t, SendSettings{})
	data := inv(9, "AGAIN")
	h.settle(h.drop("X.xml", data))
	before := len(h.sim.Stats().Accepted)
	h.settle(h.drop("X.xml", data))
	if got := len(h.sim.Stats().Accepted); got != before {
		t.Fatalf("simulator accepted %d, want %d (no second registration)", got, before)
	}
	if st := h.sim.Stats(); st.DuplicateSubmissions != 0 {
		t.Fatalf("duplicate submissions: %d", st.DuplicateSubmissions)
	}
	for _, name := range []string{"X.ksef.json", "X-2.ksef.json", "X-2.upo.xml"} {
		if _, err := os.Stat(filepath.Join(h.folders.Sent, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
}

// TestCrashAfterSendIsReconciledNotResent simulates a crash between KSeF accepting an online send
// and the journal recording it: recovery must find the invoice in the session list by hash.
func TestCrashAfterSendIsReconciledNotResent(t *testing.T) {
	h := newHarness(t, SendSettings{})
	p := h.drop("C.xml", inv(3, "CRASH"))
	h.eng.intake(h.ctx, p)
	ready, _ := h.journal.ByState(h.ctx, nip, spool.StateReady)
	if len(ready) != 1 {
		t.Fatalf("ready = %d", len(ready))
	}
	s, err := h.client.OpenOnlineSession(h.ctx, ksef.FormFA3)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.journal.PutSession(h.ctx, spool.Session{Ref: s.ReferenceNumber, NIP: nip, Kind: "online", State: "open", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := h.journal.MarkSending(h.ctx, []int64{ready[0].ID}, spool.Sending{Mode: "online", SessionRef: s.ReferenceNumber}); err != nil {
		t.Fatal(err)
	}
	data, _ := h.journal.Registered(h.ctx, &ready[0])
	if _, err := h.client.SendInvoice(h.ctx, s, data, ksef.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	// "Restart": recovery, then normal steps.
	if err := h.eng.Recover(h.ctx); err != nil {
		t.Fatal(err)
	}
	done := h.settle()
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v", done)
	}
	st := h.sim.Stats()
	if st.DuplicateSubmissions != 0 || len(st.Accepted) != 1 {
		t.Fatalf("duplicate submissions %d, accepted %d", st.DuplicateSubmissions, len(st.Accepted))
	}
}

func TestLocalValidationGoesToErrorWithoutSending(t *testing.T) {
	h := newHarness(t, SendSettings{})
	done := h.settle(h.drop("bad.xml", []byte("<not-an-invoice/>")))
	if len(done) != 1 || done[0].Outcome != "rejected" || done[0].ErrStage != "validation" {
		t.Fatalf("done = %+v", done)
	}
	if got, _ := os.ReadFile(filepath.Join(h.folders.Error, "bad.xml")); string(got) != "<not-an-invoice/>" {
		t.Fatalf("error copy = %q", got)
	}
	if n := len(h.sim.Stats().Accepted); n != 0 {
		t.Fatalf("simulator accepted %d", n)
	}
}

// TestCrashBeforeBatchCloseIsClosedNotResent: the daemon uploaded a batch and died before (or
// while) closing it. Recovery closes the session instead of sending the invoices again.
func TestCrashBeforeBatchCloseIsClosedNotResent(t *testing.T) {
	h := newHarness(t, SendSettings{})
	var paths []string
	for i := range 3 {
		paths = append(paths, h.drop(fmt.Sprintf("R_%d.xml", i), inv(i, "REC")))
	}
	for _, p := range paths {
		h.eng.intake(h.ctx, p)
	}
	ready, _ := h.journal.ByState(h.ctx, nip, spool.StateReady)
	pkg, names, err := h.eng.buildPackage(h.ctx, ready)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := h.client.OpenBatchSession(h.ctx, ksef.FormFA3, pkg, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.journal.PutSession(h.ctx, spool.Session{Ref: bs.ReferenceNumber, NIP: nip, Kind: "batch", State: "closing", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range ready {
		ids = append(ids, r.ID)
	}
	if err := h.journal.MarkSending(h.ctx, ids, spool.Sending{Mode: "batch", SessionRef: bs.ReferenceNumber, BatchFileNames: names}); err != nil {
		t.Fatal(err)
	}
	if err := h.client.UploadBatchParts(h.ctx, bs, pkg); err != nil {
		t.Fatal(err)
	}
	// "Crash" here: no close. A new process recovers.
	if err := h.eng.Recover(h.ctx); err != nil {
		t.Fatal(err)
	}
	done := h.settle()
	if len(done) != 3 {
		t.Fatalf("done = %d", len(done))
	}
	for _, d := range done {
		if d.Outcome != "accepted" || d.SessionRef != bs.ReferenceNumber {
			t.Errorf("%s: %s in %s", d.FileName, d.Outcome, d.SessionRef)
		}
	}
	if st := h.sim.Stats(); st.DuplicateSubmissions != 0 || len(st.Accepted) != 3 {
		t.Fatalf("duplicate submissions %d, accepted %d", st.DuplicateSubmissions, len(st.Accepted))
	}
}

func TestBatchCutRespectsCountAndBytes(t *testing.T) {
	invs := make([]spool.Invoice, 12)
	for i := range invs {
		invs[i].RegisteredSize = 1_000_000
	}
	if got := batchCut(invs, 5); got != 5 {
		t.Errorf("count cap: %d, want 5", got)
	}
	if got := batchCut(invs, 100); got != 12 {
		t.Errorf("no cap: %d, want 12", got)
	}
	invs[3].RegisteredSize = maxBatchBytes
	if got := batchCut(invs, 100); got != 3 {
		t.Errorf("byte cap: %d, want 3", got)
	}
}

// TestAttachmentAlwaysGoesByBatch: KSeF refuses attachments in online sessions, so even a single
// invoice with a Zalacznik is sent by batch.
func TestAttachmentAlwaysGoesByBatch(t *testing.T) {
	h := newHarness(t, SendSettings{})
	data := strings.Replace(string(inv(2, "ATT")), "</Faktura>",
		"<Zalacznik><BlokDanych><ZNaglowek>Protokół</ZNaglowek><MetaDane><ZKlucz>k</ZKlucz><ZWartosc>v</ZWartosc></MetaDane></BlokDanych></Zalacznik></Faktura>", 1)
	done := h.settle(h.drop("ATT.xml", []byte(data)))
	if len(done) != 1 || done[0].Mode != "batch" || !done[0].HasAttachment {
		t.Fatalf("done = %+v", done)
	}
	if done[0].Outcome != "accepted" {
		t.Fatalf("outcome %s: %s", done[0].Outcome, done[0].ErrDescription)
	}
}

// TestOnlineModeSendsEachInvoiceOnline: mode = "online" never uses batch for plain invoices.
func TestOnlineModeSendsEachInvoiceOnline(t *testing.T) {
	h := newHarness(t, SendSettings{Mode: "online"})
	var paths []string
	for i := range 3 {
		paths = append(paths, h.drop(fmt.Sprintf("O_%d.xml", i), inv(i, "ONLY")))
	}
	for _, d := range h.settle(paths...) {
		if d.Mode != "online" || d.Outcome != "accepted" {
			t.Errorf("%s: %s %s", d.FileName, d.Mode, d.Outcome)
		}
	}
}

// TestBatchEndedWithoutResultsGoesBackToReady: a batch KSeF finished without listing our invoices
// (an archive it could not open) sends them again; the ones still submitted are found with one
// query, and an invoice already decided in that session is left alone.
func TestBatchEndedWithoutResultsGoesBackToReady(t *testing.T) {
	h := newHarness(t, SendSettings{})
	for i := range 3 {
		h.eng.intake(h.ctx, h.drop(fmt.Sprintf("L_%d.xml", i), inv(i, "LEFT")))
	}
	ready, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
	if err != nil || len(ready) != 3 {
		t.Fatalf("ready = %d, %v", len(ready), err)
	}
	var ids []int64
	names := map[int64]string{}
	for _, r := range ready {
		ids = append(ids, r.ID)
		names[r.ID] = r.FileName
	}
	const ref = "20261203-SB-0000000000-0000000000-00"
	if err := h.journal.MarkSending(h.ctx, ids, spool.Sending{Mode: "batch", SessionRef: ref, BatchFileNames: names}); err != nil {
		t.Fatal(err)
	}
	if err := h.journal.MarkBatchSubmitted(h.ctx, ids); err != nil {
		t.Fatal(err)
	}
	decided := spool.Rejection{ID: ids[0], Kind: "450", Description: "decided before", Details: []string{}, Stage: "ksef"}
	if err := h.journal.Reject(h.ctx, decided); err != nil {
		t.Fatal(err)
	}
	st := &ksef.SessionStatus{Status: ksef.Status{Code: 435, Description: "Błąd odszyfrowania"}}
	if err := h.eng.sessionFailedWithoutResults(h.ctx, ref, st, nil); err != nil {
		t.Fatal(err)
	}
	got := h.states()
	if got["L_0.xml"] != spool.StateRejected || got["L_1.xml"] != spool.StateReady || got["L_2.xml"] != spool.StateReady {
		t.Fatalf("states = %v; want L_0 rejected as before, L_1 and L_2 ready to be sent again", got)
	}
}
