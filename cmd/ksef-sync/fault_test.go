package main

import (
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestFaultsAndOutage runs the daemon against a simulator that answers 10% of requests with 5xx and
// drops another 10% of connections, then goes fully dark for a minute. Everything must still end
// accepted exactly once.
func TestFaultsAndOutage(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond},
		"[send]\ngather_window = \"200ms\"\npoll_interval = \"200ms\"\n[http]\ntimeout = \"5s\"\n")
	e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.1, DropRate: 0.1})
	cmd, _ := startLoggedDaemon(t, e.cfgPath)

	// Singles (online sessions) and a burst (batch), before and during the outage.
	total := e.dropSingles(5, "FAULT")
	total = e.dropSeries("burst_%03d.xml", 60, total, "FAULT")
	e.sim.SetFaults(ksefsim.Faults{Outage: true})
	total = e.dropSeries("outage_%03d.xml", 20, total, "FAULT")
	outage := time.NewTimer(time.Minute) // the scenario: KSeF is down for one minute
	<-outage.C
	e.sim.SetFaults(ksefsim.Faults{ErrorRate: 0.1, DropRate: 0.1})
	waitForOutputs(t, e, total, 4*time.Minute)
	e.sim.SetFaults(ksefsim.Faults{})
	_ = cmd.Process.Kill()

	e.assertAcceptedOnce(total)
	e.assertNoDuplicates()
}

// waitForOutputs polls the sent folder (the daemon is another process: its files are the only
// signal) until n invoices have their outputs, failing after limit.
func waitForOutputs(t testing.TB, e *e2e, n int, limit time.Duration) {
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
