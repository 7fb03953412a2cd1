package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// End-to-end tests on the real binary for issue 10 §6 (requests not safe to repeat whose answer is
// lost) and §7 (a duplicate whose original another tool registered).

// simAdminJSON posts body to the simulator's admin API and decodes the answer into out (nil: none).
func simAdminJSON(t *testing.T, sim *ksefsim.Server, path string, body, out any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(sim.AdminURL()+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin %s: %s", path, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDuplicateOfAnotherToolsInvoice: another tool (an accounting office, in its own KSeF context)
// registered the invoice; then the same file lands in our outbox. KSeF answers 440 naming the
// original; its session is not ours to list, so the binary fetches the original by its KSeF number,
// finds the same bytes, and writes sent/ outputs with the original's number, never registering a
// second invoice. KSeF will not give us the other tool's UPO (21173): after a bounded number of
// attempts the outputs are written without it, and .ksef.json, the log and status say so.
func TestDuplicateOfAnotherToolsInvoice(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond}, "")
	theirs := invoice(1, "OTHERTOOL")
	var orig ksefsim.RegisteredInvoice
	simAdminJSON(t, e.sim, "/other-tool", ksefsim.OtherToolInvoice{XML: theirs, ContextNIP: "1111111111"}, &orig)

	cmd, lines := e.daemon()
	log := keepLogLines(t, lines)
	e.drop("FV_theirs.xml", theirs)
	waitForOutputs(t, e, 1, 3*time.Minute)
	e.drop("FV_ours.xml", invoice(2, "OTHERTOOL")) // an ordinary invoice beside it keeps its UPO
	waitForOutputs(t, e, 2, 2*time.Minute)
	stillRunning(t, cmd)

	var rec map[string]any
	if err := json.Unmarshal(testutil.ReadFile(t, filepath.Join(e.sent, "FV_theirs.ksef.json")), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["ksefNumber"] != orig.KsefNumber || rec["invoiceHash"] != orig.InvoiceHash || rec["sessionReferenceNumber"] != orig.SessionReferenceNumber {
		t.Errorf(".ksef.json %v, want the original %+v", rec, orig)
	}
	if v, ok := rec["upoFile"]; !ok || v != nil {
		t.Errorf(`"upoFile" = %v (present %v), want null`, v, ok)
	}
	// upoMissing is read by the bookkeeper: Polish by default (issue 11 §4); the log stays English.
	if why, _ := rec["upoMissing"].(string); !strings.Contains(why, "KSeF nie wydał UPO") || !strings.Contains(why, "inne narzędzie") ||
		!strings.Contains(why, orig.SessionReferenceNumber) {
		t.Errorf("upoMissing %q does not say why in Polish", why)
	}
	if _, err := os.Stat(filepath.Join(e.sent, "FV_theirs.upo.xml")); !os.IsNotExist(err) {
		t.Errorf("FV_theirs.upo.xml: %v, want none", err)
	}
	if !bytes.Equal(testutil.ReadFile(t, filepath.Join(e.sent, "FV_theirs.xml")), theirs) {
		t.Error("sent/FV_theirs.xml is not the registered bytes")
	}
	ours := e.sentRecords()["FV_ours"]
	if ours.UPOFile == nil || ours.UPOMissing != "" {
		t.Errorf("our own invoice: upoFile %v, upoMissing %q", ours.UPOFile, ours.UPOMissing)
	}
	if len(testutil.ReadFile(t, filepath.Join(e.sent, "FV_ours.upo.xml"))) == 0 {
		t.Error("our own invoice has an empty UPO")
	}
	st := e.sim.Stats()
	if len(st.Accepted) != 2 || st.Duplicates440 != 1 {
		t.Errorf("simulator accepted %d (want 2: theirs and our other invoice), 440s %d (want 1)", len(st.Accepted), st.Duplicates440)
	}
	if errs := e.errorRecords(); len(errs) != 0 {
		t.Errorf("error/: %v", errs)
	}
	if !hasLine(log(), "outputs written WITHOUT a UPO", "registered by another tool") {
		t.Error("the log never says (in English) the outputs were written without a UPO and why")
	}
	code, out, errOut := e.runCmd(30*time.Second, "status", "-config", e.cfgPath)
	if code != 0 || !strings.Contains(out, "Wysłane BEZ UPO") || !strings.Contains(out, "FV_theirs.xml  przyjęta jako "+orig.KsefNumber+", bez UPO") {
		t.Errorf("status (exit %d):\n%s\n%s", code, out, errOut)
	}
}

// TestLostBatchOpenReconciled: KSeF opens the batch session and the connection drops before the
// answer. The binary does not blindly open another: it reads KSeF's session list, records the
// orphan (which can never be used: only the lost answer had its upload addresses) and sends the
// invoices in one new session. Every invoice is registered once and lands in sent/ once; nothing
// is uploaded to the orphan.
func TestLostBatchOpenReconciled(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond},
		"[send]\nmode = \"batch\"\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n")
	simAdmin(t, e.sim, "/lose-answers?op=openBatch&n=1&how=drop")
	cmd, lines := e.daemon()
	log := keepLogLines(t, lines)
	const n = 20
	sendAllOnce(t, e, cmd, "batch", "LOSTOPEN", n, 3*time.Minute)

	st := e.sim.Stats()
	if st.LostAnswers != 1 {
		t.Fatalf("lost answers %d, want 1: the fault did not fire", st.LostAnswers)
	}
	var carrying, orphans []ksefsim.BatchSessionSummary
	invoices := 0
	for _, s := range st.BatchSessions {
		if s.PartsUploaded == 0 && s.Invoices == 0 && !s.Closed {
			orphans = append(orphans, s)
			continue
		}
		carrying = append(carrying, s)
		invoices += s.Invoices
	}
	if len(orphans) != 1 || invoices != n {
		t.Fatalf("batch sessions %+v: want one orphan (the lost open) and the %d invoices in the others exactly once", st.BatchSessions, n)
	}
	if text := log(); !strings.Contains(text, "KSeF opened a batch session but its answer was lost") || !strings.Contains(text, orphans[0].Ref) {
		t.Errorf("the log does not name the orphaned session %s", orphans[0].Ref)
	}
}

// TestLostExportStartNotRepeated: KSeF starts the export and a gateway answers 504. The binary does
// not start another in the same run (it may be running at KSeF, counting towards the 20 an hour
// and the 10 at once): that subject is left behind and the other still delivered. The next run
// starts a fresh export from the same cursor, and every invoice is in the inbox exactly once.
func TestLostExportStartNotRepeated(t *testing.T) {
	start := time.Now().AddDate(0, -1, 0)
	p := newLongPullE2E(t, start)
	now := p.clock.Now()
	want := p.seedBoth(now.Add(-20*24*time.Hour), time.Minute, time.Hour, 150, 100)
	behindCost := "behind: cost cursor " + start.UTC().Truncate(time.Second).Format(time.RFC3339Nano) + "\n"

	simAdmin(t, p.sim, "/lose-answers?op=startExport&n=1&how=504") // cost goes first; its start is lost
	out := p.pull(60 * time.Second)
	if !strings.Contains(out, "written: 100\n") || !strings.Contains(out, behindCost) {
		t.Errorf("pull with a lost export start:\n%s", out)
	}
	st := p.sim.Stats()
	if st.LostAnswers != 1 {
		t.Fatalf("lost answers %d, want 1", st.LostAnswers)
	}
	if got := st.Requests["invoiceExport"]; got != 2 {
		t.Errorf("exports started at KSeF in the first run: %d, want 2 (the lost cost one, never repeated, and sales)", got)
	}
	if out = p.pull(60 * time.Second); !strings.Contains(out, "written: 150\n") || strings.Contains(out, "behind:") {
		t.Errorf("pull after the lost start:\n%s", out)
	}
	assertPullInbox(t, p.inbox, want)
	p.assertSimClean()
}

// sendAllOnce drops n invoices into the running daemon's outbox, waits for all their outputs and
// checks the daemon still runs and every invoice was accepted exactly once.
func sendAllOnce(t *testing.T, e *e2e, cmd *exec.Cmd, prefix, tag string, n int, limit time.Duration) {
	t.Helper()
	e.dropSeries(prefix+"_%03d.xml", n, 0, tag)
	waitForOutputs(t, e, n, limit)
	stillRunning(t, cmd)
	assertExactlyOnce(t, e, n)
}
