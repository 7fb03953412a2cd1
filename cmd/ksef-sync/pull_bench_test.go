//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPull10000 pulls 10,000 invoices that KSeF delivers in one package (truncation above
// 10,000) with the real binary and reports wall time, the pull process's peak RSS and files/s. The
// archive is streamed from disk, so the peak RSS must not grow with the package.
// With the default configuration the pull also renders a PDF of every invoice and waits for them
// before it exits.
func BenchmarkPull10000(b *testing.B) { benchPull(b, 10000, "") }

// BenchmarkPull10000NoRender is BenchmarkPull10000 with `[render] formats = []`: the difference is
// what the readable copies cost a one-shot pull.
func BenchmarkPull10000NoRender(b *testing.B) { benchPull(b, 10000, "[render]\nformats = []\n") }

// BenchmarkPull1000 is the same with a tenth of the invoices, to show how peak RSS scales.
func BenchmarkPull1000(b *testing.B) { benchPull(b, 1000, "") }

func benchPull(b *testing.B, n int, extraConfig string) {
	for b.Loop() {
		b.StopTimer()
		// defaultConfig: without it newE2E tunes [send] for tests (a 200 ms poll interval), and the
		// export status polling is part of what is measured.
		p := newPullE2E(b, 20000, time.Now().AddDate(0, -2, 0), "subjects = [\"cost\"]\n"+extraConfig+defaultConfig)
		now := p.clock.Now()
		dates := pullSpread(now.Add(-50*24*time.Hour), 50*24*time.Hour/time.Duration(n), n)
		want := p.seed("cost", dates)
		b.StartTimer()

		start := time.Now()
		vmHWM, cpu, out := runPullMeasured(b, p)
		elapsed := time.Since(start)

		b.StopTimer()
		if !strings.Contains(out, fmt.Sprintf("written: %d\n", n)) || !strings.Contains(out, "exports: 1\n") {
			b.Errorf("pull output:\n%s", out)
		}
		assertPullInbox(b, p.inbox, want)
		p.assertClean()
		b.ReportMetric(elapsed.Seconds(), "s-wall")
		b.ReportMetric(vmHWM, "peak-RSS-MB")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(2*n)/elapsed.Seconds(), "files/s")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "invoices/s")
		b.StartTimer()
	}
}

// runPullMeasured runs one `pull`, polling its VmHWM while it runs, and returns its peak RSS, the
// CPU time it used (user + system: steadier than wall time on a busy machine) and its stdout. (The
// kernel's ru_maxrss of the child is no use here: after a vfork+exec it carries the test process's
// own peak.)
func runPullMeasured(b *testing.B, p *pullE2E) (vmHWM float64, cpu time.Duration, stdout string) {
	b.Helper()
	cmd := exec.Command(binPath, "pull", "-config", p.cfgPath)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("pull: %v\n%s", err, pullTail(errb.String()))
			}
			return vmHWM, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), out.String()
		case <-tick.C:
			// VmHWM only grows, so the last reading before exit is the peak so far.
			vmHWM = max(vmHWM, pullVmHWM(cmd.Process.Pid))
		}
	}
}

// pullVmHWM is the process's peak resident set in MB from /proc (0 once it has exited).
func pullVmHWM(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
