package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// validNIPs returns n NIPs with valid check digits, none of them the office's.
func validNIPs(n int) []string {
	w := [9]int{6, 5, 7, 2, 3, 4, 5, 6, 7}
	var out []string
	for base := 212000000; len(out) < n; base++ { // TNIP: the 2nd and 3rd digits are not both 0
		d := strconv.Itoa(base)
		sum := 0
		for i := range 9 {
			sum += int(d[i]-'0') * w[i]
		}
		if sum%11 != 10 {
			out = append(out, d+strconv.Itoa(sum%11))
		}
	}
	return out
}

// benchFleet configures n companies logging in with the office's certificate (granted in each
// context), at the default timings.
func benchFleet(b *testing.B, n int) (*fleetFixture, []fleetCompany) { return benchFleetT(b, n) }

func benchFleetT(b testing.TB, n int) (*fleetFixture, []fleetCompany) {
	nips := validNIPs(n)
	sim := startSim(b, ksefsim.Options{DefaultNIP: officeNIP, RateLimits: "production", Grants: map[string][]string{officeNIP: nips}})
	cos := make([]fleetCompany, n)
	for i, nip := range nips {
		cos[i] = fleetCompany{name: fmt.Sprintf("c%03d", i), nip: nip}
	}
	return newFleetFixture(b, sim, cos, "", false), cos
}

// BenchmarkCompanies100x20 drops 20 invoices into each of 100 companies' outboxes at once and
// measures the time until all 2,000 outputs are written (issue 13).
func BenchmarkCompanies100x20(b *testing.B) {
	for b.Loop() {
		fx, cos := benchFleet(b, 100)
		for _, c := range cos {
			fx.dropInvoices(c.name, c.nip, 20)
		}
		start := time.Now()
		cmd, lines := startBinary(b, "run", "-config", fx.cfgPath)
		go drainScanner(lines)
		for _, c := range cos {
			waitForCount(b, fx.folder(c.name, "sent"), "*.ksef.json", 20, 10*time.Minute)
		}
		elapsed := time.Since(start)
		rss, cpu := peakRSSMB(cmd.Process.Pid), cpuSeconds(cmd.Process.Pid)
		stopGracefully(cmd)
		st := fx.sim.Stats()
		b.ReportMetric(elapsed.Seconds(), "s-all-outputs")
		b.ReportMetric(rss, "peak-RSS-MB")
		b.ReportMetric(cpu, "daemon-cpu-s")
		b.ReportMetric(float64(st.RateLimited), "429s")
		if st.SpecViolations != 0 || st.DuplicateSubmissions != 0 || len(st.Accepted) != 2000 {
			b.Errorf("spec violations %d, duplicate submissions %d, accepted %d", st.SpecViolations, st.DuplicateSubmissions, len(st.Accepted))
		}
	}
}

// BenchmarkIdle400 starts a daemon with 400 configured companies and nothing to do, and measures
// its resident memory and the CPU it spends over one idle minute (issue 13).
func BenchmarkIdle400(b *testing.B) {
	for b.Loop() {
		fx, _ := benchFleet(b, 400)
		cmd, lines := startBinary(b, "run", "-config", fx.cfgPath)
		started := make(chan struct{})
		go func() {
			for lines.Scan() {
				if strings.Contains(lines.Text(), `msg="companies started" count=400`) {
					close(started)
					break
				}
			}
			drainScanner(lines)
		}()
		select {
		case <-started:
		case <-time.After(5 * time.Minute):
			b.Fatal("the 400 companies did not start within 5 minutes")
		}
		time.Sleep(15 * time.Second) // not measured: let the start-up work (first listings, limits) finish
		cpu0 := cpuSeconds(cmd.Process.Pid)
		time.Sleep(time.Minute) // the idle minute being measured
		cpu := cpuSeconds(cmd.Process.Pid) - cpu0
		rss, peak := rssMB(cmd.Process.Pid), peakRSSMB(cmd.Process.Pid)
		stopGracefully(cmd)
		b.ReportMetric(cpu, "idle-cpu-s-per-min")
		b.ReportMetric(rss, "RSS-MB")
		b.ReportMetric(peak, "peak-RSS-MB")
	}
}

// rssMB reads the process's current resident set (VmRSS) on Linux; 0 elsewhere.
func rssMB(pid int) float64 { return procStatusMB(pid, "VmRSS:") }
