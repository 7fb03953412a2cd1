package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestSendEndToEnd drives the real binary's `send` against the simulator with 200 valid invoices
// and every kind of bad input a legacy ERP produces.
func TestSendEndToEnd(t *testing.T) {
	// settle = 1s: the half-written file below is completed right after the pass starts, well
	// inside the window even on a loaded machine.
	e := newE2E(t, ksefsim.Options{}, "[watch]\nsettle = \"1s\"\nrescan = \"1s\"\n")
	const valid = 200
	e.dropSeries("FV_%04d.xml", valid, 0, "E2E")
	dupContent := invoice(0, "E2E") // the same bytes as FV_0000.xml under another name
	e.drop("FV_copy_of_0000.xml", dupContent)
	e.drop("FV_bom.xml", append([]byte("\xEF\xBB\xBF"), invoice(1000, "E2E")...))
	cp1250 := windows1250(t, invoice(1001, "E2E"))
	e.drop("FV_cp1250.xml", cp1250)
	e.drop("FV_not_xml.xml", []byte("this is not an invoice, it is a note from the ERP\n"))
	e.drop("FV_wrong_nip.xml", samples.Invoice(0, samples.BuyerNIP, time.Now(), "E2E-WRONGNIP"))
	e.drop("FV_empty.xml", nil)
	e.drop("FV_oversize.xml", oversize(invoice(1002, "E2E")))
	e.drop("FV_same_name.xml", invoice(1003, "E2E"))
	// A file still being written when the pass starts: the first half now, the rest after start.
	partial := invoice(1004, "E2E")
	e.drop("FV_being_written.xml", partial[:len(partial)/2])

	done := make(chan struct{})
	var code int
	var stdout, stderr string
	go func() {
		defer close(done)
		code, stdout, stderr = e.send(4 * time.Minute)
	}()
	appendFile(t, filepath.Join(e.outbox, "FV_being_written.xml"), partial[len(partial)/2:])
	<-done
	if code != exitRejected {
		t.Fatalf("send exit code %d, want %d (some rejected)\nstdout:\n%s\nstderr:\n%s", code, exitRejected, stdout, tail(stderr))
	}

	// Second pass: the same name again with new content must not overwrite the first outputs.
	e.drop("FV_same_name.xml", invoice(1005, "E2E"))
	e.sendWants(exitOK, 2*time.Minute)

	sent := e.sentRecords()
	wantSent := valid + 6 // + copy, bom, cp1250, same name twice, being written
	if len(sent) != wantSent {
		t.Errorf("sent records = %d, want %d", len(sent), wantSent)
	}
	if sent["FV_copy_of_0000"].KsefNumber != sent["FV_0000"].KsefNumber {
		t.Errorf("duplicate content got %q, original %q", sent["FV_copy_of_0000"].KsefNumber, sent["FV_0000"].KsefNumber)
	}
	if sent["FV_same_name"].KsefNumber == "" || sent["FV_same_name-2"].KsefNumber == "" || sent["FV_same_name"].KsefNumber == sent["FV_same_name-2"].KsefNumber {
		t.Errorf("same name twice: %q and %q", sent["FV_same_name"].KsefNumber, sent["FV_same_name-2"].KsefNumber)
	}
	if !bytes.Equal(testutil.ReadFile(t, filepath.Join(e.sent, "FV_being_written.xml")), partial) {
		t.Errorf("the file being written was registered incomplete")
	}
	assertConverted(t, e, "FV_bom", invoice(1000, "E2E"))
	assertConverted(t, e, "FV_cp1250", invoice(1001, "E2E"))
	e.assertSentMatchesSim(sent)

	errs := e.errorRecords()
	wantErr := map[string]string{"FV_not_xml": "not-xml", "FV_wrong_nip": "wrong-seller-nip", "FV_empty": "empty", "FV_oversize": "too-large"}
	if len(errs) != len(wantErr) {
		t.Errorf("error records = %v, want %v", keys(errs), wantErr)
	}
	for stem, code := range wantErr {
		r := errs[stem]
		if r == nil {
			t.Errorf("%s: no error record", stem)
			continue
		}
		if r["code"] != code || r["stage"] != "validation" || r["hint"] == "" || r["description"] == "" {
			t.Errorf("%s: error record %v, want code %s", stem, r, code)
		}
		orig := testutil.ReadFile(t, filepath.Join(e.errDir, stem+".xml"))
		if stem == "FV_empty" && len(orig) != 0 {
			t.Errorf("%s: original bytes not kept", stem)
		}
	}
	assertOutboxEmpty(t, e.outbox) // the hidden claim folder stays, empty
	e.assertSimClean()
}

// assertConverted checks the registered bytes are the clean UTF-8 invoice (BOM gone, declaration
// saying UTF-8) and that the conversion was recorded.
func assertConverted(t *testing.T, e *e2e, stem string, want []byte) {
	t.Helper()
	got := testutil.ReadFile(t, filepath.Join(e.sent, stem+".xml"))
	norm := func(b []byte) string {
		return strings.Replace(string(b), `encoding="utf-8"`, `encoding="UTF-8"`, 1)
	}
	if norm(got) != norm(want) {
		t.Errorf("%s: registered bytes differ from the clean UTF-8 invoice:\n got %q...\nwant %q...", stem, got[:min(120, len(got))], want[:min(120, len(want))])
	}
	if e.sentRecords()[stem].Conversion == "" {
		t.Errorf("%s: conversion not recorded", stem)
	}
}

func windows1250(t *testing.T, utf8 []byte) []byte {
	t.Helper()
	s := strings.Replace(string(utf8), `encoding="utf-8"`, `encoding="windows-1250"`, 1)
	b, err := charmap.Windows1250.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func oversize(inv []byte) []byte {
	pad := "<!--" + strings.Repeat("x", 1_100_000) + "-->"
	i := bytes.Index(inv, []byte("?>")) + 2
	return append(append(append([]byte{}, inv[:i]...), pad...), inv[i:]...)
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// TestKillNineNeverLosesOrDuplicates kills the daemon with SIGKILL at 10 random moments while it
// sends 500 invoices, restarting it each time. The moments are chosen by counting the daemon's log
// lines, so they spread over claiming, sending, confirming and writing outputs.
func TestKillNineNeverLosesOrDuplicates(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond}, "[send]\ngather_window = \"200ms\"\npoll_interval = \"100ms\"\nmax_batch_invoices = 100\n")
	const n = 500
	e.dropSeries("K_%04d.xml", n, 0, "KILL")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for kill := range 10 {
		cmd, lines := e.daemon()
		seen := killAfterLines(e, cmd, lines, 1+rng.IntN(400), n)
		t.Logf("kill %d after %d log lines", kill+1, seen)
	}
	e.sendWants(exitOK, 3*time.Minute)
	e.assertAcceptedOnce(n)
	e.assertSimClean()
	assertNoTempFiles(t, e.sent)
}

// killAfterLines SIGKILLs the daemon after it has logged `after` lines, or once every invoice has
// its outputs (so a daemon with nothing left to say is not waited for forever).
func killAfterLines(e *e2e, cmd *exec.Cmd, lines *bufio.Scanner, after, total int) int {
	got := make(chan struct{}, 64)
	go func() {
		for lines.Scan() {
			got <- struct{}{}
		}
		close(got)
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	seen := 0
loop:
	for seen < after {
		select {
		case _, ok := <-got:
			if !ok {
				break loop
			}
			seen++
		case <-tick.C:
			if len(glob(e.t, e.sent, "*.ksef.json")) >= total {
				break loop
			}
		}
	}
	_ = cmd.Process.Kill()
	go func() {
		for range got {
		}
	}()
	_ = cmd.Wait()
	return seen
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), ".") {
			t.Errorf("partial file left behind: %s", en.Name())
		}
	}
}

// TestSendWithRefusedTokenStopsAtOnce: an ERP hook must not wait for the timeout when KSeF refuses
// the credentials; the invoice stays safe in the journal for the next run.
func TestSendWithRefusedTokenStopsAtOnce(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "")
	writeFile(t, filepath.Join(e.dir, "token.txt"), []byte("20261122-EC-0000000000-0000000000-00|nip-5265877635|deadbeef"))
	e.drop("FV_1.xml", invoice(1, "AUTH"))
	start := time.Now()
	code, out, errOut := e.send(5 * time.Minute)
	if code != exitFatal || !strings.Contains(errOut, "KSeF refused the login") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, tail(errOut))
	}
	if strings.Contains(errOut, "deadbeef") {
		t.Errorf("the token leaked into the output")
	}
	if !strings.Contains(out, "pending: 1") {
		t.Errorf("stdout %q, want the invoice pending", out)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Minute {
		t.Errorf("send waited %s instead of stopping", elapsed)
	}
	// Fixed credentials: the next run sends it.
	writeFile(t, filepath.Join(e.dir, "token.txt"), []byte(e.sim.Token(testNIP)))
	e.sendWants(exitOK, 2*time.Minute)
	if len(e.sentRecords()) != 1 {
		t.Fatalf("sent records: %d", len(e.sentRecords()))
	}
}

// End-to-end tests on the real binary for issue 10 §6 (requests not safe to repeat whose answer is
// lost) and §7 (a duplicate whose original another tool registered).

// TestDuplicateOfAnotherToolsInvoice: another tool (an accounting office, in its own KSeF context)
// registered the invoice; then the same file lands in our outbox. KSeF answers 440 naming the
// original; its session is not ours to list, so the binary fetches the original by its KSeF number,
// finds the same bytes, and writes sent/ outputs with the original's number, never registering a
// second invoice. KSeF will not give us the other tool's UPO (403): after a bounded number of
// attempts the outputs are written without it, and .ksef.json, the log and status say so.
func TestDuplicateOfAnotherToolsInvoice(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond}, "")
	theirs := invoice(1, "OTHERTOOL")
	var orig ksefsim.RegisteredInvoice
	simAdminJSON(t, e.sim, "/other-tool", ksefsim.OtherToolInvoice{XML: theirs, ContextNIP: "1111111111"}, &orig)

	cmd, log := startLoggedDaemon(t, e.cfgPath)
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
	cmd, log := startLoggedDaemon(t, e.cfgPath)
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
