package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/spool"
)

// followLatarnia gives the harness's engine a real availability tracker reading the simulator's
// status service.
func (h *harness) followLatarnia() *availability.Tracker {
	h.t.Helper()
	base := strings.TrimSuffix(h.sim.URL(), "/v2") + "/latarnia"
	tr := availability.NewTracker(availability.NewClient(base, nil), availability.Options{})
	if err := tr.Check(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.eng.opt.Availability = tr
	return tr
}

// captureLog sends the engine's log to the buffer it returns.
func (h *harness) captureLog() *bytes.Buffer {
	var b bytes.Buffer
	h.eng.log = slog.New(slog.NewTextHandler(&b, nil))
	return &b
}

// announce makes the simulator's status service announce status and the tracker hear it.
func (h *harness) announce(tr *availability.Tracker, status string) {
	h.t.Helper()
	if err := h.sim.AnnounceLatarnia(status, "Awaria KSeF", "Trwa awaria systemu KSeF."); err != nil {
		h.t.Fatal(err)
	}
	if err := tr.Check(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// invToday is sample invoice i issued today in Warsaw: with a UTC date it would count as issued
// yesterday, and so offline, in the hour or two after midnight in Poland.
func invToday(i int, tag string) []byte {
	return samples.Invoice(i, nip, time.Now().In(offline.Warsaw), fmt.Sprintf("%s-%d", tag, i))
}

func (h *harness) sentRecord(stem string) SentRecord {
	h.t.Helper()
	return readJSON[SentRecord](h.t, filepath.Join(h.folders.Sent, stem+".ksef.json"))
}

func (h *harness) errorRecord(stem string) ErrorRecord {
	h.t.Helper()
	return readJSON[ErrorRecord](h.t, filepath.Join(h.folders.Error, stem+".error.json"))
}

func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (h *harness) byFile(states ...spool.State) map[string]spool.Invoice {
	h.t.Helper()
	invs, err := h.journal.ByState(h.ctx, nip, states...)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]spool.Invoice{}
	for _, i := range invs {
		out[i.FileName] = i
	}
	return out
}

// TestClaimedDuringAnnouncedFailureIsSentOfflineLater: invoices claimed while the status service
// announces FAILURE are failure-mode offline invoices; nothing is sent while it lasts; when it ends
// they go with offlineMode true, KSeF marks them Offline, and an invoice claimed afterwards is online.
func TestClaimedDuringAnnouncedFailureIsSentOfflineLater(t *testing.T) {
	h := newHarness(t, SendSettings{})
	tr := h.followLatarnia()
	h.announce(tr, "FAILURE")
	var paths []string
	for i := range 3 {
		paths = append(paths, h.drop(fmt.Sprintf("OFF_%d.xml", i), inv(i, "OFF")))
	}
	h.eng.intake(h.ctx, paths...)
	for range 3 {
		if err := h.eng.Step(h.ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	ready := h.byFile(spool.StateReady)
	if len(ready) != 3 {
		t.Fatalf("ready during the failure: %d, want all 3 waiting", len(ready))
	}
	for name, r := range ready {
		if r.OfflineMode != string(offline.Failure) || r.OutageStart.IsZero() || !r.OutageEnd.IsZero() {
			t.Errorf("%s: mode %q outage %v–%v, want failure from its announcement, still open", name, r.OfflineMode, r.OutageStart, r.OutageEnd)
		}
		if d, _ := h.eng.deadline(&r); !d.Open {
			t.Errorf("%s: deadline %v during the failure, want one counted from its end", name, d)
		}
	}
	if n := len(h.sim.Stats().Accepted); n != 0 {
		t.Fatalf("the simulator registered %d invoices during an announced failure", n)
	}

	h.announce(tr, "AVAILABLE")
	after := h.drop("ON.xml", invToday(7, "ON"))
	done := h.settle(after)
	if len(done) != 4 {
		t.Fatalf("done %d, want 4", len(done))
	}
	end := tr.Snapshot().Since
	for _, d := range done {
		rec := h.sentRecord(strings.TrimSuffix(d.FileName, ".xml"))
		if d.FileName == "ON.xml" {
			if rec.OfflineMode || rec.InvoicingMode != "Online" || d.OfflineMode != "" {
				t.Errorf("ON.xml claimed after the failure: offlineMode %v, invoicingMode %q", rec.OfflineMode, rec.InvoicingMode)
			}
			continue
		}
		if !rec.OfflineMode || rec.InvoicingMode != "Offline" || d.Outcome != "accepted" {
			t.Errorf("%s: offlineMode %v invoicingMode %q outcome %s, want accepted as Offline", d.FileName, rec.OfflineMode, rec.InvoicingMode, d.Outcome)
		}
		if !d.OutageEnd.Equal(end) {
			t.Errorf("%s: outage end %v, want %v (when KSeF became available)", d.FileName, d.OutageEnd, end)
		}
		dl, err := availability.Deadline(&d, nil)
		if want := offline.AddBusinessDays(end, 7); err != nil || !dl.Day.Equal(want) {
			t.Errorf("%s: deadline %v, %v; want 7 business days after the end, %v", d.FileName, dl, err, want)
		}
	}
}

// TestClaimedDuringFailureValidatedAfterRestart: an invoice claimed during an announced failure by a
// process that dies before validating it is, after a restart on the same journal, still a
// failure-mode offline invoice counted from that failure, though KSeF came back while nothing ran:
// the tracker's history is kept in the journal (availability.Tracker.KeepIn, as the daemon does).
func TestClaimedDuringFailureValidatedAfterRestart(t *testing.T) {
	h := newHarness(t, SendSettings{})
	log := slog.New(slog.DiscardHandler)
	base := strings.TrimSuffix(h.sim.URL(), "/v2") + "/latarnia"
	before := availability.NewTracker(availability.NewClient(base, nil), availability.Options{})
	before.KeepIn(h.ctx, h.journal, log)
	h.eng.opt.Availability = before
	h.announce(before, "FAILURE")
	began := before.Snapshot().Since
	_, errs := h.journal.ClaimMany(h.ctx, nip, []string{h.drop("FV_R.xml", invToday(1, "RESTART"))})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if err := h.journal.Close(); err != nil { // the process dies: nothing validated it
		t.Fatal(err)
	}

	if err := h.sim.AnnounceLatarnia("AVAILABLE", "", ""); err != nil { // while nothing runs
		t.Fatal(err)
	}
	j, err := spool.Open(h.ctx, h.folders.State, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	after := availability.NewTracker(availability.NewClient(base, nil), availability.Options{})
	after.KeepIn(h.ctx, j, log)
	if err := after.Check(h.ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := New(Options{NIP: nip, QRBase: "https://qr-test.ksef.mf.gov.pl", Folders: h.folders,
		Send: SendSettings{PollInterval: 20 * time.Millisecond}, KSeF: h.client, Journal: j, Availability: after})
	if err != nil {
		t.Fatal(err)
	}
	h.journal, h.eng = j, eng
	if err := eng.Recover(h.ctx); err != nil {
		t.Fatal(err)
	}
	done := h.settle()
	if len(done) != 1 {
		t.Fatalf("done %d, want 1", len(done))
	}
	d, end := done[0], after.Snapshot().Since
	if d.OfflineMode != string(offline.Failure) || !d.OutageStart.Equal(began) || !d.OutageEnd.Equal(end) {
		t.Errorf("after the restart: mode %q outage %v–%v; want failure from %v to %v (KSeF seen back)", d.OfflineMode, d.OutageStart, d.OutageEnd, began, end)
	}
	if rec := h.sentRecord("FV_R"); !rec.OfflineMode || rec.InvoicingMode != "Offline" {
		t.Errorf(".ksef.json: offlineMode %v invoicingMode %q, want sent offline", rec.OfflineMode, rec.InvoicingMode)
	}
	if dl, err := eng.deadline(&d); err != nil || !dl.Day.Equal(offline.AddBusinessDays(end, 7)) {
		t.Errorf("deadline %v, %v; want 7 business days after %v", dl, err, end)
	}
}

// TestIssuanceFromConfigAndIssueDate: send.offline_mode = "offline24" makes every invoice offline;
// without it an issue date before today makes it offline24 (KSeF would mark it Offline anyway),
// and today's stays online. Offline and online invoices never share a batch session.
func TestIssuanceFromConfigAndIssueDate(t *testing.T) {
	t.Run("configured", func(t *testing.T) {
		h := newHarness(t, SendSettings{OfflineMode: "offline24", Mode: "online"})
		done := h.settle(h.drop("A.xml", inv(1, "CFG")))
		if rec := h.sentRecord("A"); len(done) != 1 || done[0].OfflineMode != "offline24" || !rec.OfflineMode || rec.InvoicingMode != "Offline" {
			t.Fatalf("done %+v record %+v, want offline24 sent and marked Offline", done, rec)
		}
	})
	t.Run("issue date", func(t *testing.T) {
		h := newHarness(t, SendSettings{Mode: "batch"})
		yesterday := time.Now().In(offline.Warsaw).AddDate(0, 0, -1)
		var paths []string
		for i := range 2 {
			paths = append(paths, h.drop(fmt.Sprintf("OLD_%d.xml", i), samples.Invoice(i, nip, yesterday, fmt.Sprintf("OLD-%d", i))))
			paths = append(paths, h.drop(fmt.Sprintf("NEW_%d.xml", i), invToday(i+2, "NEW")))
		}
		done := h.settle(paths...)
		sessions := map[bool]map[string]bool{true: {}, false: {}}
		for _, d := range done {
			rec := h.sentRecord(strings.TrimSuffix(d.FileName, ".xml"))
			old := strings.HasPrefix(d.FileName, "OLD")
			if rec.OfflineMode != old || (old && d.OfflineMode != "offline24") {
				t.Errorf("%s: offlineMode %v mode %q, want offline24 only for the backdated ones", d.FileName, rec.OfflineMode, d.OfflineMode)
			}
			if want := map[bool]string{true: "Offline", false: "Online"}[old]; rec.InvoicingMode != want {
				t.Errorf("%s: KSeF says %q, want %q", d.FileName, rec.InvoicingMode, want)
			}
			sessions[old][d.SessionRef] = true
		}
		for s := range sessions[true] {
			if sessions[false][s] {
				t.Errorf("batch session %s carried offline and online invoices together", s)
			}
		}
	})
}

// TestDeadlineWarnings: an offline invoice whose deadline day has come is a warning, once; one past
// it is an error naming the invoice, once.
func TestDeadlineWarnings(t *testing.T) {
	h := newHarness(t, SendSettings{OfflineMode: "offline24"})
	logs, tr := h.captureLog(), h.followLatarnia()
	h.announce(tr, "MAINTENANCE") // keeps it queued: nothing is sent during an announced outage
	p := h.drop("LATE.xml", inv(1, "LATE"))
	h.eng.intake(h.ctx, p)
	inv, ok := h.byFile(spool.StateReady)["LATE.xml"]
	if !ok {
		t.Fatalf("LATE.xml not ready: %+v", h.byFile(spool.StateClaimed, spool.StateRejected))
	}
	if inv.OfflineMode != "unavailable" {
		// Claimed during an announced maintenance: the unavailability mode, counted from its end.
		t.Fatalf("mode %q, want unavailable", inv.OfflineMode)
	}
	end := time.Now()
	if n, err := h.journal.EndOutage(h.ctx, nip, end); err != nil || n != 1 {
		t.Fatalf("EndOutage = %d, %v", n, err)
	}
	// The unavailability mode: the next business day after the outage ends (holidays: internal/offline).
	clock := offline.AddBusinessDays(end, 1).Add(9 * time.Hour)
	h.eng.now = func() time.Time { return clock }
	for _, at := range []time.Time{clock, clock.Add(2 * time.Minute), clock.Add(24 * time.Hour), clock.Add(25 * time.Hour)} {
		clock = at
		h.eng.checkDeadlines(h.ctx)
	}
	out := logs.String()
	if n := strings.Count(out, "must reach KSeF today"); n != 1 {
		t.Errorf("%d due-today warnings, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "missed its legal sending deadline"); n != 1 || !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "file=LATE.xml") {
		t.Errorf("%d missed-deadline errors, want 1 naming LATE.xml:\n%s", n, out)
	}
}

// TestTechnicalCorrectionLinkedAndOnlyOnce: an offline invoice KSeF rejects gets an error file
// that explains the technical correction; the fixed file with the same number is sent as one
// (online, offlineMode, hashOfCorrectedInvoice) and linked; a second correction is refused with
// 21166 and explained.
func TestTechnicalCorrectionLinkedAndOnlyOnce(t *testing.T) {
	h := newHarness(t, SendSettings{OfflineMode: "offline24", Mode: "batch"}) // corrections go online even so
	good := samples.Invoice(2, nip, time.Now(), "KT-1")                       // template with buyer NIP 3861610227
	bad := []byte(strings.Replace(string(good), "<NIP>3861610227</NIP>", "<NIP>3861610228</NIP>", 1))
	done := h.settle(h.drop("FV_KT.xml", bad))
	if len(done) != 1 || done[0].Outcome != "rejected" || done[0].ErrCode != 450 {
		t.Fatalf("bad buyer NIP: %+v, want rejected by KSeF with 450", done)
	}
	badHash := done[0].RegisteredHash
	errRec := h.errorRecord("FV_KT")
	if !strings.Contains(errRec.Hint, "Możliwa jest korekta techniczna") || !strings.Contains(errRec.Hint, badHash) || !strings.Contains(errRec.Hint, "KT-1") {
		t.Errorf("error file hint %q does not explain the technical correction", errRec.Hint)
	}

	h.settle(h.drop("FV_KT_fixed.xml", good))
	rec := h.sentRecord("FV_KT_fixed")
	if rec.CorrectionOf == nil || rec.CorrectionOf.FileName != "FV_KT.xml" || rec.CorrectionOf.InvoiceHash != badHash || !rec.OfflineMode || rec.Mode != "online" {
		t.Fatalf("correction record %+v (correctionOf %+v), want linked to FV_KT.xml, online, offline", rec, rec.CorrectionOf)
	}
	acc := h.sim.Stats().Accepted
	if len(acc) != 1 || acc[0].HashOfCorrectedInvoice != badHash {
		t.Fatalf("simulator accepted %+v, want one correction of %s", acc, badHash)
	}

	again := []byte(strings.Replace(string(good), "<P_2>", "<P_2 >", 1))
	h.settle(h.drop("FV_KT_again.xml", again))
	second := h.errorRecord("FV_KT_again")
	if second.KsefCode != 21166 || !strings.Contains(second.Hint, "dozwolona jest tylko jedna") || !strings.Contains(second.Hint, "FV_KT.xml") {
		t.Errorf("second correction: %+v, want 21166 explained", second)
	}
}

// TestOfflineFirstByDeadline: when the queue drains, offline invoices go first, earliest deadline
// first (an open deadline before no obligation), then the online ones in their order; a batch
// never mixes declared modes.
func TestOfflineFirstByDeadline(t *testing.T) {
	e := &Engine{}
	end := time.Date(2026, 11, 5, 12, 0, 0, 0, offline.Warsaw)
	ready := []spool.Invoice{
		{ID: 1},
		{ID: 2, OfflineMode: "failure", IssueDate: "2026-11-04", OutageStart: end.Add(-time.Hour), OutageEnd: end}, // 2026-11-17
		{ID: 3, OfflineMode: "total-failure", IssueDate: "2026-11-04"},                                             // no obligation
		{ID: 4, OfflineMode: "offline24", IssueDate: "2026-11-10"},                                                 // 2026-11-12
		{ID: 5},
		{ID: 6, OfflineMode: "failure", IssueDate: "2026-11-04", OutageStart: end}, // open
	}
	e.offlineFirst(ready)
	var got []int64
	for _, inv := range ready {
		got = append(got, inv.ID)
	}
	if want := []int64{4, 2, 6, 3, 1, 5}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("order %v, want %v", got, want)
	}
	groups := byDeclaredMode(ready)
	if len(groups) != 2 || len(groups[0]) != 4 || len(groups[1]) != 2 || declaresOffline(&groups[1][0]) {
		t.Errorf("groups %v, want the 4 offline then the 2 online", groups)
	}
}

// TestCorrectionHintInBothLanguages: the technical-correction hints are bookkeeper text, Polish by
// default and English with language = "en"; permission refusals and online invoices get none.
func TestCorrectionHintInBothLanguages(t *testing.T) {
	inv := &spool.Invoice{OfflineMode: "offline24", InvoiceNumber: "FV/7", RegisteredHash: "aGFzaA==", CorrectedFile: "FV_7.xml"}
	for _, tt := range []struct {
		lang msg.Lang
		code int
		want []string
	}{
		{msg.PL, 450, []string{"Możliwa jest korekta techniczna", "FV/7", "aGFzaA=="}},
		{msg.EN, 450, []string{"technical correction (korekta techniczna) is possible", "FV/7", "aGFzaA=="}},
		{msg.PL, 21166, []string{"tylko jedna", "FV_7.xml"}},
		{msg.EN, 21167, []string{"cannot be technically corrected", "FV_7.xml"}},
	} {
		got := correctionHint(tt.lang, inv, tt.code)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %d: %q lacks %q", tt.lang, tt.code, got, w)
			}
		}
	}
	if got := correctionHint(msg.PL, inv, 410); got != "" {
		t.Errorf("permission refusal: %q, want no correction hint", got)
	}
	if got := correctionHint(msg.EN, &spool.Invoice{}, 450); got != "" {
		t.Errorf("online invoice: %q, want no correction hint", got)
	}
}

// TestOnlineInvoiceNotSentOnItsIssueDayBecomesOffline24: an invoice validated as online but still
// unsent when its issue day (P_1, in Poland) is over is an offline24 invoice by law (art. 106nda
// ust. 16, CIRFMF/ksef-api #145): its deadline runs and is warned about, and it goes with offlineMode.
func TestOnlineInvoiceNotSentOnItsIssueDayBecomesOffline24(t *testing.T) {
	h := newHarness(t, SendSettings{Mode: "online"})
	logs, tr := h.captureLog(), h.followLatarnia()
	h.eng.intake(h.ctx, h.drop("HELD.xml", invToday(1, "HELD")))
	h.announce(tr, "MAINTENANCE") // holds it: nothing is sent during an announced outage
	step := func() {
		t.Helper()
		if err := h.eng.Step(h.ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	step() // still its issue day: stays online
	if inv := h.byFile(spool.StateReady)["HELD.xml"]; inv.OfflineMode != "" {
		t.Fatalf("on its issue day: mode %q, want online", inv.OfflineMode)
	}
	y, m, d := time.Now().In(offline.Warsaw).Date()
	clock := time.Date(y, m, d+1, 0, 30, 0, 0, offline.Warsaw)
	h.eng.now = func() time.Time { return clock }
	step()
	if inv := h.byFile(spool.StateReady)["HELD.xml"]; inv.OfflineMode != "offline24" {
		t.Fatalf("half an hour after its issue day: mode %q, want offline24", inv.OfflineMode)
	}
	if out := logs.String(); !strings.Contains(out, "not sent to KSeF on its issue date") || !strings.Contains(out, "file=HELD.xml") {
		t.Errorf("no warning naming HELD.xml:\n%s", out)
	}
	clock = offline.AddBusinessDays(time.Date(y, m, d, 0, 0, 0, 0, offline.Warsaw), 1).Add(9 * time.Hour) // the deadline day
	h.eng.checkDeadlines(h.ctx)
	if out := logs.String(); !strings.Contains(out, "must reach KSeF today") {
		t.Errorf("no deadline warning on the next business day after P_1:\n%s", out)
	}
	h.eng.now = time.Now
	h.announce(tr, "AVAILABLE")
	h.settle()
	if rec := h.sentRecord("HELD"); !rec.OfflineMode || rec.InvoicingMode != "Offline" {
		t.Errorf("record %+v, want sent with offlineMode and marked Offline", rec)
	}
}

// TestNoTechnicalCorrectionAfterAPermissionRefusal: an offline invoice KSeF refused for want of
// permissions (410) is not technically corrected by the next file with its number
// (korekta-techniczna.md: "nie dotyczy sytuacji związanych z brakiem uprawnień"): that one is sent
// as an invoice of its own.
func TestNoTechnicalCorrectionAfterAPermissionRefusal(t *testing.T) {
	h := newHarness(t, SendSettings{OfflineMode: "offline24", Mode: "online"})
	if err := h.sim.FailInvoices(410, 1); err != nil {
		t.Fatal(err)
	}
	done := h.settle(h.drop("FV_P.xml", samples.Invoice(2, nip, time.Now(), "PERM-1")))
	if len(done) != 1 || done[0].ErrCode != 410 {
		t.Fatalf("first send: %+v, want refused with 410", done)
	}
	again := bytes.Replace(samples.Invoice(2, nip, time.Now(), "PERM-1"), []byte("<P_2>"), []byte("<P_2 >"), 1) // other bytes
	h.settle(h.drop("FV_P_again.xml", again))
	rec := h.sentRecord("FV_P_again")
	if acc := h.sim.Stats().Accepted; rec.CorrectionOf != nil || len(acc) != 1 || acc[0].HashOfCorrectedInvoice != "" {
		t.Errorf("sent again after a 410: correctionOf %+v, KSeF got %+v; want an invoice of its own", rec.CorrectionOf, acc)
	}
}
