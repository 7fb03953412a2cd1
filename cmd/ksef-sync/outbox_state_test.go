package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestDaemonWaitsForAMissingOutbox: the daemon starts while its outbox does not exist yet (a
// network share not mounted at boot), does not exit, says so in `status`, and sends the files once
// the folder appears. The full rescan is an hour away, and a missing folder cannot be watched for
// events, so only the few-second retry can find it (issue 11 item 8).
func TestDaemonWaitsForAMissingOutbox(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "[watch]\nsettle = \"300ms\"\nrescan = \"1h\"\n")
	if err := os.RemoveAll(e.outbox); err != nil {
		t.Fatal(err)
	}
	cmd, sc := e.daemon()
	keepLog(t, sc)

	eventually(t, "status to report the outbox missing", time.Minute, func() bool {
		return e.outboxState() == "missing"
	})
	_, text, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
	if !strings.Contains(text, "folder outbox:        NIEDOSTĘPNY od") { // Polish, the default language
		t.Errorf("status text does not say the outbox is unavailable:\n%s", text)
	}

	if err := os.Mkdir(e.outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	e.drop("FV-1.xml", invoice(1, "OUTBOX"))
	waitForOutputs(t, e, 1, 2*time.Minute)
	eventually(t, "status to report the outbox available", time.Minute, func() bool {
		return e.outboxState() == "available"
	})
	if cmd.ProcessState != nil {
		t.Fatalf("the daemon exited: %v", cmd.ProcessState)
	}
}

// outboxState is companies[0].outbox.state of `status -json`, or "" while status cannot answer
// (at the daemon's very start the journal may not be created yet).
func (e *e2e) outboxState() string {
	e.t.Helper()
	code, out, errOut := e.runCmd(time.Minute, "status", "-json", "-config", e.cfgPath)
	if code != exitOK {
		e.t.Logf("status exit %d: %s", code, errOut)
		return ""
	}
	var rep struct {
		Companies []struct {
			Outbox struct{ State string } `json:"outbox"`
		} `json:"companies"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Companies) == 0 {
		e.t.Fatalf("status -json: %v\n%s", err, out)
	}
	return rep.Companies[0].Outbox.State
}
