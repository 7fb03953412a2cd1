package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// End-to-end tests on the real binary against the simulator behaving as production KSeF does
// (issue 10 §3-§6): a re-certified key mid-run, HTML 5xx and firewall blocks on every endpoint
// group, HTML challenge pages from storage, and a long-tailed processing time with out-of-order
// completion. Each ends with every invoice accepted exactly once, no duplicate submission, and the
// daemon still running.

// stillRunning fails the test when the daemon has exited.
func stillRunning(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the daemon is no longer running: %v", err)
	}
}

// assertExactlyOnce checks n invoices accepted once each, with real UPOs, and no duplicates.
func assertExactlyOnce(t *testing.T, e *e2e, n int) {
	t.Helper()
	sent := e.sentRecords()
	if len(sent) != n {
		t.Fatalf("sent records = %d, want %d", len(sent), n)
	}
	st := e.sim.Stats()
	if len(st.Accepted) != n {
		t.Errorf("simulator accepted %d, want exactly %d", len(st.Accepted), n)
	}
	e.assertSentMatchesSim(sent)
	for stem, r := range sent {
		if err := ksef.CheckUPO(readFile(t, filepath.Join(e.sent, stem+".upo.xml")), r.KsefNumber); err != nil {
			t.Errorf("%s.upo.xml is not the UPO of %s: %v", stem, r.KsefNumber, err)
		}
	}
	if st.DuplicateSubmissions != 0 || st.SpecViolations != 0 {
		t.Errorf("duplicate submissions %d, spec violations %d %v", st.DuplicateSubmissions, st.SpecViolations, st.SpecViolationDetails)
	}
	if errs := e.errorRecords(); len(errs) != 0 {
		t.Errorf("%d invoices went to error/: %v", len(errs), errs)
	}
}

// TestWeatherHTMLAndFirewall: 10 % HTML 5xx and 10 % firewall 403 on every endpoint group, and 10 %
// HTML challenge pages from storage, while 300 invoices are sent.
func TestWeatherHTMLAndFirewall(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	e := newE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond},
		"[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n[http]\ntimeout = \"10s\"\n")
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{
		{Kind: ksefsim.FaultHTML5xx, Rate: 0.1}, {Kind: ksefsim.FaultWAF403, Rate: 0.1}, {Kind: ksefsim.FaultStorageHTML, Rate: 0.1},
	}})
	cmd, lines := e.daemon()
	log := keepLogLines(t, lines)

	total := 0
	for i := range 5 { // singles: online sessions
		e.drop(fmt.Sprintf("single_%03d.xml", i), invoice(total, "WEATHER"))
		total++
		waitForOutputs(t, e, total, 2*time.Minute)
	}
	for i := range 295 { // a burst: batch sessions
		e.drop(fmt.Sprintf("burst_%03d.xml", i), invoice(total, "WEATHER"))
		total++
	}
	waitForOutputs(t, e, total, 6*time.Minute)
	stillRunning(t, cmd)
	if w := e.sim.Stats().Weather; w == 0 {
		t.Fatal("no weather was injected")
	}
	assertExactlyOnce(t, e, total)
	text := log()
	for _, want := range []string{"blocked by KSeF's firewall, incident", "KSeF is unavailable"} {
		if !strings.Contains(text, want) {
			t.Errorf("log never says %q", want)
		}
	}
	if strings.Contains(text, "KSeF refused the login") {
		t.Error("a firewall block was reported as refused credentials")
	}
}

// TestWeatherKeyRecertified: the certificate the daemon cached expires mid-run; KSeF has
// re-certified the key (same publicKeyId, no 21470). The daemon keeps sending without a restart.
func TestWeatherKeyRecertified(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	e := newE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond}, "")
	const life = 15 * time.Second
	// the only valid certificates expire soon
	if err := e.sim.PublishKey(ksefsim.PublishKey{SameKey: true, ValidFor: life, ExpireOldIn: -time.Second}); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(life)
	cmd, lines := e.daemon()
	keepLog(t, lines)

	total := 0
	burst := func(tag string, n int) {
		for i := range n {
			e.drop(fmt.Sprintf("%s_%03d.xml", tag, i), invoice(total, "KEYS"))
			total++
		}
		waitForOutputs(t, e, total, 2*time.Minute)
	}
	burst("before", 10)
	if err := e.sim.PublishKey(ksefsim.PublishKey{SameKey: true}); err != nil { // the re-certification
		t.Fatal(err)
	}
	wait := time.NewTimer(time.Until(expires) + time.Second) // the scenario: the cached certificate expires
	<-wait.C
	burst("after", 10) // a batch session needs a fresh encryption with a valid certificate
	stillRunning(t, cmd)
	assertExactlyOnce(t, e, total)
}

// TestWeatherLongTailOutOfOrder: processing times follow a long-tailed distribution, so invoices
// finish in another order than they were sent; every one is confirmed once, none is resent.
func TestWeatherLongTailOutOfOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	e := newE2E(t, ksefsim.Options{DelayDist: ksefsim.DelayDist{Kind: "lognormal", Median: 300 * time.Millisecond, P99: 8 * time.Second}},
		"[send]\nmode = \"online\"\ngather_window = \"200ms\"\npoll_interval = \"200ms\"\n")
	cmd, lines := e.daemon()
	keepLog(t, lines)
	const n = 40
	for i := range n {
		e.drop(fmt.Sprintf("tail_%03d.xml", i), invoice(i, "TAIL"))
	}
	waitForOutputs(t, e, n, 4*time.Minute)
	stillRunning(t, cmd)
	assertExactlyOnce(t, e, n)
	// out of order: the simulator's acceptance order differs from the send order
	st := e.sim.Stats()
	sendOrder := map[string]int{}
	for i, a := range st.Accepted {
		sendOrder[a.InvoiceReferenceNumber] = i
	}
	records := e.sentRecords()
	inversions := 0
	for _, a := range records {
		for _, b := range records {
			if sendOrder[a.ReferenceNumber] < sendOrder[b.ReferenceNumber] && a.AcquisitionDate.After(*b.AcquisitionDate) {
				inversions++
			}
		}
	}
	if inversions == 0 {
		t.Fatal("every invoice finished in the order it was sent: no long tail")
	}
}

// keepLogLines is keepLog that also lets the test read the whole log so far.
func keepLogLines(t *testing.T, sc interface {
	Scan() bool
	Text() string
}) func() string {
	var buf testutil.LogBuffer
	go func() {
		for sc.Scan() {
			fmt.Fprintln(&buf, sc.Text())
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			s := buf.String()
			t.Logf("last daemon log lines:\n%s", s[max(0, len(s)-12000):])
		}
	})
	return buf.String
}
