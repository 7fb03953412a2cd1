package main

import (
	"context"
	"encoding/json"
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
	"github.com/ksef-sync/ksef-sync/spool"
)

// TestTwoDaemonsShareOneOutbox is issue 13's scale-out check on the real binary: two daemons with
// separate state folders watch the same outbox and write to the same sent/ and error/, against one
// simulator. 500 invoices are dropped in ten quick waves, while both run. Every invoice is claimed by exactly
// one daemon (the two journals together hold each file once), KSeF receives each exactly once (no
// duplicate submission, no 440), and each gets exactly one set of outputs (no "-2" names). Once
// with file events (both daemons race on every file the moment it lands) and once by listing only,
// as on a network share.
func TestTwoDaemonsShareOneOutbox(t *testing.T) {
	if testing.Short() {
		t.Skip("long end-to-end test")
	}
	for _, mode := range []struct{ name, watch string }{
		{"events", ""},
		{"listing", "[watch]\nevents = false\nsettle = \"300ms\"\nrescan = \"1s\"\n"},
	} {
		t.Run(mode.name, func(t *testing.T) { twoDaemonsShareOneOutbox(t, mode.watch) })
	}
}

func twoDaemonsShareOneOutbox(t *testing.T, watch string) {
	e := newE2E(t, ksefsim.Options{ProcessingDelay: 50 * time.Millisecond},
		"[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\nmax_batch_invoices = 100\n[http]\nlisten = \"\"\n"+watch)
	cfg2 := filepath.Join(e.dir, "config2.toml")
	writeFile(t, cfg2, []byte(strings.Replace(string(testutil.ReadFile(t, e.cfgPath)), `state = "state"`, `state = "state2"`, 1)))
	states := []string{filepath.Join(e.dir, "state"), filepath.Join(e.dir, "state2")}

	a, logA := startLoggedDaemon(t, e.cfgPath)
	b, logB := startLoggedDaemon(t, cfg2)
	ids := make([]string, 2)
	eventually(t, "both daemons to start", time.Minute, func() bool {
		for i, s := range states {
			ids[i], _ = outboxclaim.ReadID(s)
		}
		return ids[0] != "" && ids[1] != ""
	})
	if ids[0] == ids[1] {
		t.Fatalf("both daemons have the id %s", ids[0])
	}

	// The invoices land in waves half a rescan apart. By listing, whichever daemon lists first after
	// a wave has settled takes all of it; dropped at once, one daemon could take all 500 and the
	// test would prove nothing. Waves give each daemon's listing phase its turn (and with events
	// both race on every file anyway).
	// Both engines must be turning before the waves (its owner record is written at an engine's
	// first step): a daemon still starting on a loaded machine would leave every wave to the other.
	eventually(t, "both daemons' owner records", time.Minute, func() bool {
		for _, id := range ids {
			if _, err := os.Stat(outboxclaim.OwnerPath(e.outbox, id)); err != nil {
				return false
			}
		}
		return true
	})
	n, waves := 500, 10
	for w := range waves {
		if w > 0 {
			time.Sleep(500 * time.Millisecond) // shapes the load; nothing waits on it
		}
		for i := w * n / waves; i < (w+1)*n/waves; i++ {
			e.drop(fmt.Sprintf("FV_%04d.xml", i), invoice(i, "SCALE"))
		}
	}
	// Should one daemon still have taken every wave (CI once saw it on a loaded machine), more
	// small waves follow until both have claimed: the test is about two daemons competing.
	eventually(t, "both daemons to claim invoices", 2*time.Minute, func() bool {
		if claimedSomething(t, states[0]) && claimedSomething(t, states[1]) {
			return true
		}
		for range 5 {
			e.drop(fmt.Sprintf("FV_%04d.xml", n), invoice(n, "SCALE"))
			n++
		}
		time.Sleep(500 * time.Millisecond) // shapes the load; nothing waits on it
		return false
	})
	eventually(t, "every invoice done in the journals", 4*time.Minute, func() bool {
		done := 0
		for _, s := range states {
			for _, r := range journalRecords(t, s) {
				if r.State == spool.StateDone {
					done++
				}
			}
		}
		return done >= n
	})
	for _, d := range []interface {
		Signal(os.Signal) error
	}{a.Process, b.Process} {
		_ = d.Signal(syscall.SIGTERM)
	}
	_, _ = a.Process.Wait()
	_, _ = b.Process.Wait()

	owner := map[string]int{}
	for i, s := range states {
		recs := journalRecords(t, s)
		for _, r := range recs {
			if prev, dup := owner[r.FileName]; dup {
				t.Errorf("%s claimed by daemon %d and daemon %d", r.FileName, prev, i)
			}
			owner[r.FileName] = i
			if r.State != spool.StateDone || r.Outcome != "accepted" {
				t.Errorf("%s in daemon %d: %s %s", r.FileName, i, r.State, r.Outcome)
			}
		}
		t.Logf("daemon %d (%s) claimed %d invoices", i, ids[i], len(recs))
		if len(recs) == 0 {
			t.Errorf("daemon %d claimed nothing: the two did not compete", i)
		}
	}
	if len(owner) != n {
		t.Errorf("%d files claimed, want %d", len(owner), n)
	}
	sent := e.sentRecords()
	if len(sent) != n {
		t.Errorf("%d .ksef.json in sent/, want %d", len(sent), n)
	}
	for stem := range sent {
		if strings.HasSuffix(stem, "-2") {
			t.Errorf("second set of outputs: %s", stem)
		}
	}
	if errs := glob(t, e.errDir, "*"); len(errs) != 0 {
		t.Errorf("error/ holds %v", errs)
	}
	st := e.sim.Stats()
	if len(st.Accepted) != n || st.Duplicates440 != 0 {
		t.Errorf("simulator: %d accepted (want %d), %d answered 440", len(st.Accepted), n, st.Duplicates440)
	}
	e.assertSentMatchesSim(sent)
	// Not assertSimClean: here both daemons reach the simulator from one address in one context, so
	// they share KSeF's (context, IP) windows while each paces only itself, and a loaded machine can
	// bunch their requests into a 429 (honoured through Retry-After). Two hosts, as README's
	// scale-out section describes, each have their own windows. Duplicates and spec violations stay
	// at zero either way.
	if st := e.sim.Stats(); st.SpecViolations != 0 || st.DuplicateSubmissions != 0 {
		t.Errorf("spec violations %d %v, duplicate submissions %d", st.SpecViolations, st.SpecViolationDetails, st.DuplicateSubmissions)
	}
	assertOutboxEmpty(t, e.outbox)
	for _, log := range []func() string{logA, logB} {
		if hasLine(log(), "level=WARN", "claim") {
			t.Errorf("a daemon warned about a claim")
		}
	}
}

// journalRecords reads every invoice record of the state folder's journal.
func journalRecords(t *testing.T, state string) []spool.Invoice {
	t.Helper()
	var recs []spool.Invoice
	err := withJournal(state, func(ctx context.Context, j *spool.Journal) (err error) {
		recs, err = j.Since(ctx, testNIP, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// assertOutboxEmpty checks that nothing is left in the outbox nor in any claim folder inside it
// (the daemons' owner records beside their claim folders stay, by design).
func assertOutboxEmpty(t *testing.T, outbox string) {
	t.Helper()
	_ = filepath.WalkDir(outbox, func(p string, d os.DirEntry, err error) error {
		owner := filepath.Base(filepath.Dir(p)) == outboxclaim.FolderName && strings.HasSuffix(p, outboxclaim.OwnerSuffix)
		if err == nil && !d.IsDir() && !owner {
			t.Errorf("left in the outbox: %s", p)
		}
		return nil
	})
}

// TestStatusAndDoctorNameOtherDaemonsClaims: a standby host took FV_7.xml into its claim folder and
// died. `status` (text and JSON) and `doctor` say where the file waits and how to hand it back; our
// own claim folder is not reported as another daemon's.
func TestStatusAndDoctorNameOtherDaemonsClaims(t *testing.T) {
	cfg := statusConfig(t, "[http]\nlisten = \"\"\n")
	ours, err := outboxclaim.ID(cfg.Folders.State)
	if err != nil {
		t.Fatal(err)
	}
	standby := outboxclaim.Dir(cfg.Folders.Outbox, "standby-0badf00d")
	for dir, name := range map[string]string{standby: "FV_7.xml", outboxclaim.Dir(cfg.Folders.Outbox, ours): "FV_8.xml"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), []byte("<x/>"))
	}

	rep, err := collectStatus(context.Background(), cfg, "running", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	held := rep.Companies[0].Outbox.OtherDaemons
	if len(held) != 1 || held[0].Daemon != "standby-0badf00d" || held[0].Files != 1 || held[0].Dir != standby {
		t.Fatalf("status otherDaemonClaims = %+v", held)
	}
	var text strings.Builder
	renderStatus(&text, rep, cfg.Lang())
	if !strings.Contains(text.String(), "1 plik(ów) pobranych przez inny proces ksef-sync (standby-0badf00d) czeka w "+standby) {
		t.Errorf("status text does not name the claim folder:\n%s", text.String())
	}

	var doc strings.Builder
	printFindings(&doc, claimFindings(cfg)) // runDoctor adds these to its report; the rest needs KSeF
	want := "[ OK ] claim folder of another daemon " + standby + ": 1 file(s) taken by daemon standby-0badf00d and not finished yet (FV_7.xml); if that host is down for good, move them back into " + cfg.Folders.Outbox
	if !strings.Contains(doc.String(), want) || strings.Contains(doc.String(), "FV_8.xml") {
		t.Errorf("doctor does not name the claim folder as expected:\n%s", doc.String())
	}
}

// claimedSomething reports whether the journal in state holds at least one invoice.
func claimedSomething(t *testing.T, state string) bool {
	return len(journalRecords(t, state)) > 0
}

// TestCopiedStateFolderIsRefused: the second server was set up by copying the first one's state
// folder, so both daemons have one daemon id. The second finds the first's fresh owner record in
// the outbox and claims nothing there: it logs the error once, `status` (text and JSON) names the
// problem, and the first sends all 100 invoices alone, each exactly once.
func TestCopiedStateFolderIsRefused(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n[http]\nlisten = \"\"\n")
	state, state2 := filepath.Join(e.dir, "state"), filepath.Join(e.dir, "state2")
	cfg2 := filepath.Join(e.dir, "config2.toml")
	writeFile(t, cfg2, []byte(strings.Replace(string(testutil.ReadFile(t, e.cfgPath)), `state = "state"`, `state = "state2"`, 1)))

	a, _ := startLoggedDaemon(t, e.cfgPath) // its first start creates the state folder, which is then copied at rest
	var id string
	eventually(t, "the first daemon's owner record", time.Minute, func() bool {
		id, _ = outboxclaim.ReadID(state)
		rec, _ := outboxclaim.ReadOwner(e.outbox, id)
		return rec != nil
	})
	_ = a.Process.Signal(syscall.SIGTERM)
	_, _ = a.Process.Wait()
	copyTree(t, state, state2)

	a, _ = startLoggedDaemon(t, e.cfgPath) // its log is read, so the pipe never fills
	eventually(t, "the restarted daemon's owner record", time.Minute, func() bool {
		rec, _ := outboxclaim.ReadOwner(e.outbox, id)
		return rec != nil && rec.PID == a.Process.Pid
	})
	_, logB := startLoggedDaemon(t, cfg2)
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

// TestDaemonWaitsForAMissingOutbox: the daemon starts while its outbox does not exist yet (a
// network share not mounted at boot), does not exit, says so in `status`, and sends the files once
// the folder appears. The full rescan is an hour away, and a missing folder cannot be watched for
// events, so only the few-second retry can find it (issue 11 item 8).
func TestDaemonWaitsForAMissingOutbox(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "[watch]\nsettle = \"300ms\"\nrescan = \"1h\"\n")
	if err := os.RemoveAll(e.outbox); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startLoggedDaemon(t, e.cfgPath)

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
