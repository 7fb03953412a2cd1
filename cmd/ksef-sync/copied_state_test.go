package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestCopiedStateFolderIsRefused: the second server was set up by copying the first one's state
// folder, so both daemons have one daemon id. The second finds the first's fresh owner record in
// the outbox and claims nothing there: it logs the error once, `status` (text and JSON) names the
// problem, and the first sends all 100 invoices alone, each exactly once.
func TestCopiedStateFolderIsRefused(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n[http]\nlisten = \"\"\n")
	state, state2 := filepath.Join(e.dir, "state"), filepath.Join(e.dir, "state2")
	cfg2 := filepath.Join(e.dir, "config2.toml")
	writeFile(t, cfg2, []byte(strings.Replace(string(testutil.ReadFile(t, e.cfgPath)), `state = "state"`, `state = "state2"`, 1)))

	a, first := e.daemon() // its first start creates the state folder, which is then copied at rest
	liveLog(t, first)
	var id string
	eventually(t, "the first daemon's owner record", time.Minute, func() bool {
		id, _ = outboxclaim.ReadID(state)
		rec, _ := outboxclaim.ReadOwner(e.outbox, id)
		return rec != nil
	})
	_ = a.Process.Signal(syscall.SIGTERM)
	_, _ = a.Process.Wait()
	copyTree(t, state, state2)

	a, linesA := e.daemon()
	liveLog(t, linesA) // read, so its log pipe never fills
	eventually(t, "the restarted daemon's owner record", time.Minute, func() bool {
		rec, _ := outboxclaim.ReadOwner(e.outbox, id)
		return rec != nil && rec.PID == a.Process.Pid
	})
	b, linesB := startBinary(t, "run", "-config", cfg2)
	t.Cleanup(func() { _ = b.Process.Kill(); _ = b.Wait() })
	logB := liveLog(t, linesB)
	eventually(t, "the copy to refuse the outbox", time.Minute, func() bool {
		return hasLine(logB(), "level=ERROR", "is in use on outbox", "state folder "+state2)
	})

	const n = 100
	for i := range n {
		e.drop(fmt.Sprintf("FV_%04d.xml", i), invoice(i, "COPY"))
	}
	eventually(t, "every invoice sent", 3*time.Minute, func() bool { return len(e.sentRecords()) >= n })

	if recs := journalRecords(t, state2); len(recs) != 0 {
		t.Errorf("the copy claimed %d invoices", len(recs))
	}
	if recs := journalRecords(t, state); len(recs) != n {
		t.Errorf("the first daemon claimed %d invoices, want %d", len(recs), n)
	}
	st := e.sim.Stats()
	if len(st.Accepted) != n || st.Duplicates440 != 0 || st.DuplicateSubmissions != 0 {
		t.Errorf("simulator: %d accepted (want %d), %d answered 440, %d duplicate submissions", len(st.Accepted), n, st.Duplicates440, st.DuplicateSubmissions)
	}
	if c := strings.Count(logB(), "is in use on outbox"); c != 1 {
		t.Errorf("the refusal was logged %d times, want once", c)
	}

	_, text, _ := e.runCmd(time.Minute, "status", "-config", cfg2)
	if !strings.Contains(text, "PROBLEM: identyfikator "+id) || !strings.Contains(text, state2) {
		t.Errorf("status does not name the shared id:\n%s", text)
	}
	_, js, _ := e.runCmd(time.Minute, "status", "-json", "-config", cfg2)
	if !strings.Contains(js, `"sharedDaemonId"`) {
		t.Errorf("status -json lacks sharedDaemonId:\n%s", js)
	}
	_, text, _ = e.runCmd(time.Minute, "status", "-config", e.cfgPath)
	if strings.Contains(text, "PROBLEM: identyfikator") {
		t.Errorf("the owner's status reports a problem:\n%s", text)
	}
}

// copyTree copies the regular files under src into dst, as an administrator copying a folder.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
