package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestStatusAfterCleanStop: README says `status` shows `daemon: running (PID …)` while the daemon
// runs. After SIGTERM (systemctl stop, Ctrl-C) it kept saying so for 30 s, until the last
// heartbeat grew stale; a clean stop now records itself.
func TestStatusAfterCleanStop(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[http]\nlisten = \"\"\n")
	running := func() bool {
		t.Helper()
		code, out, errOut := e.runCmd(time.Minute, "status", "-config", e.cfgPath, "-json")
		if code != exitOK {
			t.Fatalf("status exit %d\n%s\n%s", code, out, errOut)
		}
		var r struct {
			Daemon struct {
				Running bool `json:"running"`
				PID     int  `json:"pid"`
			} `json:"daemon"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("status -json: %v\n%s", err, out)
		}
		return r.Daemon.Running
	}
	cmd, sc := e.daemon()
	go drainScanner(sc)
	eventually(t, "status to see the daemon running", time.Minute, running)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v", err)
	}
	if running() {
		t.Errorf("status -json says the daemon runs right after it stopped cleanly")
	}
	code, out, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
	if code != exitOK || strings.Contains(out, "PID") {
		t.Errorf("status after a clean stop (exit %d) still names a PID:\n%s", code, out)
	}
}
