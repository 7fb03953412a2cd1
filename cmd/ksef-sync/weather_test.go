package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
// daemon still running. TestFaultsAndOutage adds plain 5xx, dropped connections and a full outage.

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
	sent := e.assertAcceptedOnce(n)
	for stem, r := range sent {
		if err := ksef.CheckUPO(testutil.ReadFile(t, filepath.Join(e.sent, stem+".upo.xml")), r.KsefNumber); err != nil {
			t.Errorf("%s.upo.xml is not the UPO of %s: %v", stem, r.KsefNumber, err)
		}
	}
	e.assertNoDuplicates()
	if errs := e.errorRecords(); len(errs) != 0 {
		t.Errorf("%d invoices went to error/: %v", len(errs), errs)
	}
}

// TestWeatherHTMLAndFirewall: 10 % HTML 5xx and 10 % firewall 403 on every endpoint group, and 10 %
// HTML challenge pages from storage, while 300 invoices are sent.
func TestWeatherHTMLAndFirewall(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond},
		"[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n[http]\ntimeout = \"10s\"\n")
	e.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{
		{Kind: ksefsim.FaultHTML5xx, Rate: 0.1}, {Kind: ksefsim.FaultWAF403, Rate: 0.1}, {Kind: ksefsim.FaultStorageHTML, Rate: 0.1},
	}})
	cmd, log := startLoggedDaemon(t, e.cfgPath)

	total := e.dropSingles(5, "WEATHER")                          // singles: online sessions
	total = e.dropSeries("burst_%03d.xml", 295, total, "WEATHER") // a burst: batch sessions
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
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond}, "")
	const life = 15 * time.Second
	// the only valid certificates expire soon
	if err := e.sim.PublishKey(ksefsim.PublishKey{SameKey: true, ValidFor: life, ExpireOldIn: -time.Second}); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(life)
	cmd, _ := startLoggedDaemon(t, e.cfgPath)

	total := 0
	burst := func(tag string, n int) {
		total = e.dropSeries(tag+"_%03d.xml", n, total, "KEYS")
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
	e := newLongE2E(t, ksefsim.Options{DelayDist: ksefsim.DelayDist{Kind: "lognormal", Median: 300 * time.Millisecond, P99: 8 * time.Second}},
		"[send]\nmode = \"online\"\ngather_window = \"200ms\"\npoll_interval = \"200ms\"\n")
	cmd, _ := startLoggedDaemon(t, e.cfgPath)
	const n = 40
	sendAllOnce(t, e, cmd, "tail", "TAIL", n, 4*time.Minute)
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

// TestDoctorNamesTheWeather: doctor (real binary) tells a firewall block and an HTML gateway page
// from a wrong address, and says "does not answer" in plain words when nothing listens.
func TestDoctorNamesTheWeather(t *testing.T) {
	waf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"title":"Request blocked","detail":"","status":403,"security":{"clientIp":"127.0.0.1","incidentId":"inc-77"}}`)
	}))
	defer waf.Close()
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>")
	}))
	defer gateway.Close()
	tests := []struct{ name, url, want string }{
		{"firewall", waf.URL + "/v2", "blocked by KSeF's firewall, incident inc-77"},
		{"gateway page", gateway.URL + "/v2", "KSeF is unavailable (HTTP 502, text/html): 502 Bad Gateway"},
		{"nothing listens", "http://" + closedPort(t) + "/v2", "does not answer (connection refused); queued invoices stay safe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := company(t, dir, tt.url, tokenAuth(t, dir, "20261122-EC-0123456789-ABCDEF0123-AB|nip-"+opNIP+"|abcdef"), "")
			out, _ := exec.Command(binPath, "doctor", "-config", path).CombinedOutput()
			if !strings.Contains(string(out), tt.want) || strings.Contains(string(out), "dial tcp") {
				t.Fatalf("doctor output:\n%s\nwant %q", out, tt.want)
			}
		})
	}
}

// newLongPullE2E is newPullE2E for the long pull tests, which -short skips: whole exports (no
// truncation) and the default [pull] keys, from start.
func newLongPullE2E(t *testing.T, start time.Time) *pullE2E {
	t.Helper()
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	return newPullE2E(t, 0, start, "")
}

// TestWeatherPull: 1,000 invoices pulled while 10 % of every group's answers are HTML 5xx or firewall
// blocks and 10 % of storage downloads (export parts) are challenge pages. A pull run that meets
// too much weather may stop early; the next run continues from its cursor. In the end every invoice
// is in the inbox exactly once, with KSeF's bytes.
func TestWeatherPull(t *testing.T) {
	start := time.Now().AddDate(0, -2, 0)
	p := newLongPullE2E(t, start)
	now := p.clock.Now()
	step := (now.Sub(start) - time.Hour) / 500
	want := p.seedBoth(start.Add(time.Minute), step/2, step, 500, 500)
	p.sim.SetFaults(ksefsim.Faults{Kinds: []ksefsim.KindFault{
		{Kind: ksefsim.FaultHTML5xx, Rate: 0.1}, {Kind: ksefsim.FaultWAF403, Rate: 0.1}, {Kind: ksefsim.FaultStorageHTML, Rate: 0.1},
	}})
	written := 0
	for run := 0; run < 6 && written < len(want); run++ {
		code, out, errOut := p.runCmd(3*time.Minute, "pull", "-config", p.cfgPath)
		if strings.Contains(errOut, "panic:") {
			t.Fatalf("pull panicked:\n%s", pullTail(errOut))
		}
		var n int
		for _, line := range strings.Split(out, "\n") {
			if _, err := fmt.Sscanf(line, "written: %d", &n); err == nil {
				written += n
			}
		}
		t.Logf("run %d: exit %d, written so far %d", run+1, code, written)
		if code != 0 {
			t.Logf("run %d stopped early:\n%s", run+1, pullTail(errOut))
		}
	}
	if w := p.sim.Stats().Weather; w == 0 {
		t.Fatal("no weather was injected")
	}
	p.sim.SetFaults(ksefsim.Faults{})
	assertPullInbox(t, p.inbox, want)
}

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
