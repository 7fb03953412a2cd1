package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestFaultsAndOutage runs the daemon against a simulator that answers 10% of requests with 5xx and
// drops another 10% of connections, then goes fully dark for a minute. Everything must still end
// accepted exactly once.
func TestFaultsAndOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	e := newE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond},
		"[send]\ngather_window = \"200ms\"\npoll_interval = \"200ms\"\n[http]\ntimeout = \"5s\"\n")
	e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.1, DropRate: 0.1})
	cmd, lines := e.daemon()
	keepLog(t, lines)

	// Singles (online sessions) and a burst (batch), before and during the outage.
	total := 0
	dropSingles := func(tag string, n int) {
		for i := range n {
			e.drop(fmt.Sprintf("%s_%03d.xml", tag, i), invoice(total, "FAULT"))
			total++
			waitForOutputs(t, e, total, 2*time.Minute)
		}
	}
	dropSingles("single", 5)
	for i := range 60 {
		e.drop(fmt.Sprintf("burst_%03d.xml", i), invoice(total, "FAULT"))
		total++
	}
	e.sim.SetFaults(ksefsim.Faults{Outage: true})
	for i := range 20 {
		e.drop(fmt.Sprintf("outage_%03d.xml", i), invoice(total, "FAULT"))
		total++
	}
	outage := time.NewTimer(time.Minute) // the scenario: KSeF is down for one minute
	<-outage.C
	e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.1, DropRate: 0.1})
	waitForOutputs(t, e, total, 4*time.Minute)
	e.sim.SetFaults(ksefsim.Faults{})
	_ = cmd.Process.Kill()

	sent := e.sentRecords()
	if len(sent) != total {
		t.Fatalf("sent records = %d, want %d", len(sent), total)
	}
	if got := len(e.sim.Stats().Accepted); got != total {
		t.Errorf("simulator accepted %d, want exactly %d", got, total)
	}
	e.assertSentMatchesSim(sent)
	st := e.sim.Stats()
	if st.DuplicateSubmissions != 0 || st.SpecViolations != 0 {
		t.Errorf("duplicate submissions %d, spec violations %d %v", st.DuplicateSubmissions, st.SpecViolations, st.SpecViolationDetails)
	}
}

// waitForOutputs polls the sent folder (the daemon is another process: its files are the only
// signal) until n invoices have their outputs, failing after limit.
func waitForOutputs(t *testing.T, e *e2e, n int, limit time.Duration) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(glob(t, e.sent, "*.ksef.json")) < n {
		select {
		case <-deadline.C:
			t.Fatalf("only %d of %d invoices have outputs after %s", len(glob(t, e.sent, "*.ksef.json")), n, limit)
		case <-tick.C:
		}
	}
}
