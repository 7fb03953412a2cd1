package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/engine"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/spool"
)

// binPath is the real ksef-sync binary, built once for every end-to-end test.
var binPath string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	defer removeBenchFolders()
	if prebuilt := os.Getenv("KSEF_SYNC_TEST_BIN"); prebuilt != "" {
		binPath = prebuilt // make test-windows: a binary built beforehand, as Wine has no Go toolchain
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ksef-sync-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "ksef-sync")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ksef-sync:", err)
		return 1
	}
	return m.Run()
}

// benchFolders holds the folders of every benchmark run by this binary; runTests removes it at
// the end. A benchmark's 30,000-40,000 files are not deleted when it ends because on ext4 without
// a journal (this project's VM) creating a file skips every inode of its block group deleted in
// the last minute or more, one buffer-cache lookup each (the kernel's recently_deleted check in
// find_inode_bit): right after one benchmark deleted its files, the next one's file creations cost
// up to ten times as much CPU, and it would measure its predecessor's cleanup.
var benchFolders struct {
	sync.Mutex
	root string
}

// workDir is a new folder for tb's files: a test's is removed when the test ends, a benchmark's
// when the test binary ends (see benchFolders).
func workDir(tb testing.TB) string {
	tb.Helper()
	if _, ok := tb.(*testing.B); !ok {
		return tb.TempDir()
	}
	benchFolders.Lock()
	defer benchFolders.Unlock()
	if benchFolders.root == "" {
		root, err := os.MkdirTemp("", "ksef-sync-bench")
		if err != nil {
			tb.Fatal(err)
		}
		benchFolders.root = root
	}
	dir, err := os.MkdirTemp(benchFolders.root, "run")
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func removeBenchFolders() {
	benchFolders.Lock()
	defer benchFolders.Unlock()
	if benchFolders.root != "" {
		_ = os.RemoveAll(benchFolders.root)
	}
}

const testNIP = "5265877635"

// e2e is one company's folders and config next to a running simulator.
type e2e struct {
	t       testing.TB
	dir     string
	sim     *ksefsim.Server
	cfgPath string
	outbox  string
	sent    string
	errDir  string
	inbox   string
}

func newE2E(t testing.TB, simOpts ksefsim.Options, extraConfig string) *e2e {
	t.Helper()
	if simOpts.DefaultNIP == "" {
		simOpts.DefaultNIP = testNIP
	}
	sim := startSim(t, simOpts)
	dir := workDir(t)
	e := &e2e{t: t, dir: dir, sim: sim,
		outbox: filepath.Join(dir, "outbox"), sent: filepath.Join(dir, "sent"),
		errDir: filepath.Join(dir, "error"), inbox: filepath.Join(dir, "inbox")}
	for _, d := range []string{e.outbox, e.sent, e.errDir, e.inbox, filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "token.txt"), []byte(sim.Token(testNIP)))
	cfg := testConfig(sim.URL(), testNIP, tokenFileAuth) + extraConfig
	if !strings.Contains(extraConfig, "[send]") {
		cfg += "\n[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n"
	}
	if !strings.Contains(extraConfig, "[watch]") {
		cfg += "\n[watch]\nsettle = \"300ms\"\nrescan = \"1s\"\n"
	}
	e.cfgPath = filepath.Join(dir, "config.toml")
	writeFile(t, e.cfgPath, []byte(cfg))
	return e
}

// editConfig replaces the first old with new in the configuration file at path.
func editConfig(t testing.TB, path, old, new string) {
	t.Helper()
	writeFile(t, path, []byte(strings.Replace(string(testutil.ReadFile(t, path)), old, new, 1)))
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *e2e) drop(name string, data []byte) {
	e.t.Helper()
	writeFile(e.t, filepath.Join(e.outbox, name), data)
}

// dropSeries drops n sample invoices named by nameFormat with 0…n-1 and numbered first…first+n-1
// (see invoice), and returns first+n, the number of the next one.
func (e *e2e) dropSeries(nameFormat string, n, first int, tag string) int {
	e.t.Helper()
	for i := range n {
		e.drop(fmt.Sprintf(nameFormat, i), invoice(first+i, tag))
	}
	return first + n
}

// dropSingles drops n sample invoices (single_000.xml…, numbered from 0) one at a time, each once
// the one before has its outputs, so that each goes in an online session of its own; it returns n.
func (e *e2e) dropSingles(n int, tag string) int {
	e.t.Helper()
	for i := range n {
		e.drop(fmt.Sprintf("single_%03d.xml", i), invoice(i, tag))
		waitForOutputs(e.t, e, i+1, 2*time.Minute)
	}
	return n
}

// invoice returns sample invoice i for the test NIP with a unique number.
func invoice(i int, tag string) []byte {
	return samples.Invoice(i, testNIP, time.Now(), fmt.Sprintf("%s-%05d", tag, i))
}

// runCmd runs the binary to completion and returns its exit code and output.
func (e *e2e) runCmd(timeout time.Duration, args ...string) (int, string, string) {
	e.t.Helper()
	testutil.SkipUnderWine(e.t, "spawns the real binary: minutes per test under Wine; make test-windows runs ksef-sync.exe end to end against the Linux simulator instead")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("run %v: %v\n%s", args, err, errb.String())
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

func (e *e2e) send(timeout time.Duration) (int, string, string) {
	return e.runCmd(timeout+30*time.Second, "send", "-config", e.cfgPath, "-timeout", timeout.String())
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

// sendWants runs one `send` pass and fails the test unless it exits with want.
func (e *e2e) sendWants(want int, timeout time.Duration) {
	e.t.Helper()
	if code, out, errOut := e.send(timeout); code != want {
		e.t.Fatalf("send exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, want, out, tail(errOut))
	}
}

// startBinary starts the real binary with args and returns it with a scanner over its log lines
// (standard error).
func startBinary(t testing.TB, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	testutil.SkipUnderWine(t, "spawns the real binary: minutes per test under Wine; make test-windows runs ksef-sync.exe end to end against the Linux simulator instead")
	cmd := exec.Command(binPath, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return cmd, sc
}

// daemon starts `ksef-sync run` and returns it with a scanner over its log lines.
func (e *e2e) daemon() (*exec.Cmd, *bufio.Scanner) {
	e.t.Helper()
	return startDaemon(e.t, e.cfgPath)
}

// startDaemon starts `ksef-sync run -config cfgPath` and returns it with a scanner over its log
// lines; it is killed when the test ends.
func startDaemon(t testing.TB, cfgPath string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd, sc := startBinary(t, "run", "-config", cfgPath)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, sc
}

// startLoggedDaemon is startDaemon with its log kept (keepLog): the returned function gives the log
// so far, and its last lines are printed if the test fails.
func startLoggedDaemon(t testing.TB, cfgPath string) (*exec.Cmd, func() string) {
	t.Helper()
	cmd, lines := startDaemon(t, cfgPath)
	return cmd, keepLog(t, lines)
}

// newLongE2E is newE2E for a test that runs the binary against the simulator for long: -short
// skips it.
func newLongE2E(t *testing.T, simOpts ksefsim.Options, extraConfig string) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	return newE2E(t, simOpts, extraConfig)
}

// newBoughtE2E is newLongE2E pulling cost invoices from two days back (more [pull] keys in
// pullKeys, more sections in extra), with the two invoices of seedTwoBought waiting at KSeF.
func newBoughtE2E(t *testing.T, pullKeys, extra string) (*e2e, []ksefsim.SeededInvoice) {
	t.Helper()
	start := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	e := newLongE2E(t, ksefsim.Options{HWMLag: time.Second},
		fmt.Sprintf("[pull]\n%ssubjects = [\"cost\"]\nstart = %q\n%s", pullKeys, start.Format(time.RFC3339), extra))
	return e, e.seedTwoBought()
}

// seedTwoBought seeds two invoices that 3861610227 sold to testNIP, stored three and two hours ago.
func (e *e2e) seedTwoBought() []ksefsim.SeededInvoice {
	e.t.Helper()
	seeded, err := e.sim.Seed(ksefsim.SeedsBetween("3861610227", testNIP, time.Now().Add(-3*time.Hour), time.Now().Add(-2*time.Hour))...)
	if err != nil {
		e.t.Fatal(err)
	}
	return seeded
}

func (e *e2e) sentRecords() map[string]engine.SentRecord {
	e.t.Helper()
	out := map[string]engine.SentRecord{}
	for _, p := range glob(e.t, e.sent, "*.ksef.json") {
		var r engine.SentRecord
		if err := json.Unmarshal(testutil.ReadFile(e.t, p), &r); err != nil {
			e.t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".ksef.json")] = r
	}
	return out
}

func (e *e2e) errorRecords() map[string]map[string]any {
	e.t.Helper()
	out := map[string]map[string]any{}
	for _, p := range glob(e.t, e.errDir, "*.error.json") {
		var r map[string]any
		if err := json.Unmarshal(testutil.ReadFile(e.t, p), &r); err != nil {
			e.t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".error.json")] = r
	}
	return out
}

// assertSimClean checks the simulator saw a well-behaved client.
func (e *e2e) assertSimClean() {
	e.t.Helper()
	st := e.sim.Stats()
	if st.SpecViolations != 0 {
		e.t.Errorf("spec violations: %d %v", st.SpecViolations, st.SpecViolationDetails)
	}
	if st.RateLimited != 0 {
		e.t.Errorf("429 responses: %d", st.RateLimited)
	}
	if st.DuplicateSubmissions != 0 {
		e.t.Errorf("duplicate submissions: %d", st.DuplicateSubmissions)
	}
}

// assertAcceptedOnce checks that n invoices have sent records, that the simulator accepted exactly
// n and that the records match what it accepted; it returns the records.
func (e *e2e) assertAcceptedOnce(n int) map[string]engine.SentRecord {
	e.t.Helper()
	sent := e.sentRecords()
	if len(sent) != n {
		e.t.Fatalf("sent records = %d, want %d", len(sent), n)
	}
	if got := len(e.sim.Stats().Accepted); got != n {
		e.t.Errorf("simulator accepted %d, want exactly %d", got, n)
	}
	e.assertSentMatchesSim(sent)
	return sent
}

// assertNoDuplicates checks that the simulator saw no invoice submitted twice and nothing against
// the specification.
func (e *e2e) assertNoDuplicates() {
	e.t.Helper()
	st := e.sim.Stats()
	if st.DuplicateSubmissions != 0 || st.SpecViolations != 0 {
		e.t.Errorf("duplicate submissions %d, spec violations %d %v", st.DuplicateSubmissions, st.SpecViolations, st.SpecViolationDetails)
	}
}

// assertSentMatchesSim checks every sent record against the simulator's accepted invoices and the
// files beside it, and that KSeF accepted nothing we did not record.
func (e *e2e) assertSentMatchesSim(records map[string]engine.SentRecord) {
	e.t.Helper()
	accepted := map[string]ksefsim.AcceptedInvoice{}
	for _, a := range e.sim.Stats().Accepted {
		accepted[a.KsefNumber] = a
	}
	seen := map[string]bool{}
	for stem, r := range records {
		a, ok := accepted[r.KsefNumber]
		if !ok {
			e.t.Errorf("%s: KSeF number %s unknown to the simulator", stem, r.KsefNumber)
			continue
		}
		seen[r.KsefNumber] = true
		xml := testutil.ReadFile(e.t, filepath.Join(e.sent, stem+".xml"))
		if got := invoiceHash(xml); got != r.InvoiceHash || got != a.InvoiceHash {
			e.t.Errorf("%s: hash of sent xml %s, record %s, simulator %s", stem, got, r.InvoiceHash, a.InvoiceHash)
		}
		upo := testutil.ReadFile(e.t, filepath.Join(e.sent, stem+".upo.xml"))
		if !bytes.Contains(upo, []byte(r.KsefNumber)) {
			e.t.Errorf("%s: UPO does not name %s", stem, r.KsefNumber)
		}
		if r.QRCodeI == "" || r.SessionReferenceNumber == "" || r.ReferenceNumber == "" || r.AcquisitionDate == nil || r.InvoiceNumber == "" {
			e.t.Errorf("%s: incomplete record %+v", stem, r)
		}
	}
	for n := range accepted {
		if !seen[n] {
			e.t.Errorf("simulator accepted %s but no sent record names it", n)
		}
	}
}

// invoiceHash is KSeF's invoiceHash of an invoice file: base64 of the SHA-256 of its bytes, as
// .ksef.json, the inbox's metadata and the simulator record it.
func invoiceHash(xml []byte) string {
	sum := sha256.Sum256(xml)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func glob(t testing.TB, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func drainScanner(sc interface{ Scan() bool }) {
	for sc.Scan() {
	}
}

// keepLog gathers the daemon's log lines and prints the last ones if the test fails; the returned
// function gives the lines so far, while it runs.
func keepLog(t testing.TB, lines interface {
	Scan() bool
	Text() string
}) func() string {
	var buf testutil.LogBuffer
	go func() {
		for lines.Scan() {
			fmt.Fprintln(&buf, lines.Text())
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			l := strings.Split(buf.String(), "\n")
			t.Logf("last daemon log lines:\n%s", strings.Join(l[max(0, len(l)-80):], "\n"))
		}
	})
	return buf.String
}

// withJournal opens the state folder's journal read-only, as `status` opens it beside a running
// daemon, gives it to read and closes it again.
func withJournal(state string, read func(ctx context.Context, j *spool.Journal) error) error {
	ctx := context.Background()
	j, err := spool.OpenReadOnly(ctx, state)
	if err != nil {
		return err
	}
	defer j.Close()
	return read(ctx, j)
}

// simAdmin posts to the simulator's admin API, as an operator reproducing a KSeF problem would.
func simAdmin(t *testing.T, sim *ksefsim.Server, pathAndQuery string) {
	t.Helper()
	postSimAdmin(t, sim, pathAndQuery, nil, http.StatusNoContent).Body.Close()
}

// postSimAdmin posts body to the simulator's admin API and fails the test unless it answers with
// status want; the caller closes the answer's body.
func postSimAdmin(t *testing.T, sim *ksefsim.Server, pathAndQuery string, body io.Reader, want int) *http.Response {
	t.Helper()
	resp, err := http.Post(sim.AdminURL()+pathAndQuery, "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		resp.Body.Close()
		t.Fatalf("admin %s: %s", pathAndQuery, resp.Status)
	}
	return resp
}

// simAdminJSON posts body to the simulator's admin API and decodes the answer into out (nil: none).
func simAdminJSON(t *testing.T, sim *ksefsim.Server, path string, body, out any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp := postSimAdmin(t, sim, path, bytes.NewReader(raw), http.StatusOK)
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}
