package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSendAndPullWhileTheDaemonRuns: `send` in an ERP hook and `pull` by hand work while the
// service runs. send waits for the daemon to finish the files that were in the outbox and reports
// with the usual exit code; pull makes the daemon run a cycle now and prints its result.
func TestSendAndPullWhileTheDaemonRuns(t *testing.T) {
	// The schedule never fires during the test: only the request can make the daemon pull. The
	// settle window keeps files dropped by dropUnseen in the outbox for seconds, so send sees all
	// of them even on a loaded machine.
	e, seeded := newBoughtE2E(t, "enabled = true\nschedule = \"0 0 1 1 *\"\n", "[watch]\nsettle = \"6s\"\nrescan = \"1s\"\n")
	startLoggedDaemon(t, e.cfgPath)
	// A first invoice through the daemon proves it holds the state folder.
	e.drop("warmup.xml", invoice(0, "LINK"))
	waitForOutputs(t, e, 1, time.Minute)

	for i := 1; i <= 5; i++ {
		dropUnseen(t, e, fmt.Sprintf("hook_%d.xml", i), invoice(i, "LINK"))
	}
	dropUnseen(t, e, "broken.xml", []byte("<Faktura>not closed"))
	code, out, errOut := e.send(2 * time.Minute)
	if !strings.Contains(errOut, "finish the 6 file(s)") {
		t.Errorf("send did not find the 6 files in the outbox (the daemon took some first): %s", errOut)
	}
	if code != exitRejected {
		t.Fatalf("send beside the daemon: exit %d, want %d (one rejection)\n%s%s", code, exitRejected, out, errOut)
	}
	if want := "accepted: 5\nrejected: 1\npending: 0\n"; out != want {
		t.Errorf("send's summary:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "daemon is running") {
		t.Errorf("send does not say it follows the daemon: %s", errOut)
	}
	if strings.Contains(errOut, "in use") {
		t.Errorf("send still refuses because the state folder is in use: %s", errOut)
	}

	code, out, errOut = e.runCmd(2*time.Minute, "pull", "-config", e.cfgPath)
	if code != exitOK {
		t.Fatalf("pull beside the daemon: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "written: 2\n") {
		t.Errorf("pull did not report the daemon's cycle writing the 2 seeded invoices:\n%s", out)
	}
	for _, s := range seeded {
		if got := glob(t, e.inbox, "*/*/*/"+s.KsefNumber+".xml"); len(got) != 1 {
			t.Errorf("invoice %s in the inbox %d times, want once", s.KsefNumber, len(got))
		}
	}
	if left := glob(t, filepath.Join(e.dir, "state", "requests"), "*"); len(left) != 0 {
		t.Errorf("request files left behind: %v", left)
	}
}

// dropUnseen puts a file into the outbox so that the watcher does not see a writer finish it: it
// is hard-linked in from outside (Linux reports no close-after-write and no rename into the
// outbox), so the daemon waits the full settle window before taking it. e.drop renames the file
// in, and the daemon took it within 100 ms, before a `send` started on a loaded machine could
// list it (make test, run 1 of issue 11's five).
func dropUnseen(t *testing.T, e *e2e, name string, data []byte) {
	t.Helper()
	staged := filepath.Join(e.dir, "staged-"+name)
	writeFile(t, staged, data)
	if err := os.Link(staged, filepath.Join(e.outbox, name)); err != nil {
		t.Fatal(err)
	}
}
