package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// statusNow is the fixed "now" the status is rendered at.
var statusNow = time.Date(2026, 11, 20, 10, 7, 30, 0, time.UTC)

// populateJournal fills a real journal the way the daemon would. It runs inside a synctest bubble,
// so the journal's own clock (it stamps UpdatedAt itself) reads the bubble's fake time, which the
// sleeps here advance deterministically: no real waiting happens.
func populateJournal(t *testing.T, cfg *config.Config) {
	ctx := context.Background()
	sleepUntil(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
	j := spooltest.Open(t, cfg.Folders.State)
	defer j.Close()
	claimFor := func(nip, name string) int64 {
		return spooltest.Claim(t, j, nip, filepath.Join(cfg.Folders.Outbox, name), "<Faktura>"+name+"</Faktura>").ID
	}
	claim := func(name string) int64 { return claimFor(cfg.KSeF.NIP, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ready := func(id int64) { must(j.MarkReady(ctx, time.Now(), []spool.Prepared{{ID: id}})) }
	accept := func(id int64, ksefNumber string) {
		ready(id)
		must(j.MarkSending(ctx, []int64{id}, spool.Sending{Mode: "online", SessionRef: "S-1"}))
		must(j.MarkSubmitted(ctx, id, "I-1"))
		must(j.Accept(ctx, spool.Registration{ID: id, KsefNumber: ksefNumber}))
	}
	reject := func(id int64, r spool.Rejection) {
		r.ID = id
		must(j.Reject(ctx, r))
	}
	// done marks outputs written; an accepted invoice's outputs include its UPO (a done, accepted
	// record without one is listed as sent without a UPO).
	done := func(id int64, upoPath string) { must(j.MarkDone(ctx, map[int64]string{id: upoPath})) }
	for i := range 4 {
		name := fmt.Sprintf("FV-2026-11-%03d", i+1)
		id := claim(name + ".xml")
		accept(id, fmt.Sprintf("5265877635-20261120-0100000000%02d-AB", i))
		done(id, filepath.Join(cfg.Folders.Sent, name+".upo.xml"))
	}
	id := claim("FV-2026-11-005.xml")
	accept(id, "5265877635-20261120-010000000005-AB")
	rejections := []struct {
		name  string
		stage string
		kind  string
		code  int
		desc  string
	}{
		{"FV-2026-11-006.xml", "ksef", "", 450, "Błąd weryfikacji semantyki dokumentu faktury:\n  NIP nabywcy jest nieprawidłowy."},
		{"FV-2026-11-007.xml", "validation", "not-xml", 0, "The file is not XML (it starts with \"%PDF\")."},
		{"FV-2026-11-008.xml", "ksef", "", 440, "Duplikat faktury."},
	}
	for _, r := range rejections {
		time.Sleep(7 * time.Minute)
		id := claim(r.name)
		reject(id, spool.Rejection{Stage: r.stage, Kind: r.kind, Code: r.code, Description: r.desc})
	}
	// The oldest rejection has its outputs written: it must still be listed.
	first, err := j.RecentRejections(ctx, cfg.KSeF.NIP, 3)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute)
	done(first[2].ID, "")
	for _, name := range []string{"FV-2026-11-009.xml", "FV-2026-11-010.xml"} {
		id := claim(name)
		ready(id)
	}
	claim("FV-2026-11-011.xml")
	// Another company's invoices in the same journal must not be counted.
	other := claimFor("1111111111", "other-company.xml")
	reject(other, spool.Rejection{Stage: "ksef", Code: 450})
	if err := j.CommitPull(ctx, cfg.KSeF.NIP, "cost", time.Date(2026, 11, 20, 9, 45, 12, 0, time.UTC), []spool.Delivered{{KsefNumber: "1111111111-20261120-010000000001-CD"}}); err != nil {
		t.Fatal(err)
	}
	if err := j.CommitPull(ctx, cfg.KSeF.NIP, "sales", time.Date(2026, 11, 20, 9, 40, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	if err := j.CommitPull(ctx, "1111111111", "cost", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"last_send_output": "2026-11-20T09:58:03Z", "last_pull": "2026-11-20T10:00:04Z"} {
		if err := j.SetMeta(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
}

func sleepUntil(t time.Time) { time.Sleep(time.Until(t)) }

// statusConfig writes a config whose folders are real temp dirs and loads it.
func statusConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"outbox", "sent", "error", "inbox", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTestFile(t, dir, "token.txt", "tok")
	path := writeTestFile(t, dir, "config.toml", testConfig("", opNIP, `token_file = "token.txt"`)+extra)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// populatedStatus is the status report, with the service in svcState, of a company configured with
// extra whose journal populateJournal filled.
func populatedStatus(t *testing.T, extra, svcState string) (*config.Config, *statusReport) {
	t.Helper()
	cfg := statusConfig(t, extra)
	synctest.Test(t, func(t *testing.T) { populateJournal(t, cfg) })
	rep, err := collectStatus(context.Background(), cfg, svcState, statusNow)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, rep
}

func TestStatusGolden(t *testing.T) {
	cfg, rep := populatedStatus(t, "[pull]\nenabled = true\nschedule = \"*/15 * * * *\"\n", "running")
	var text bytes.Buffer
	renderStatus(&text, rep, msg.EN)
	checkGolden(t, "status.golden", text.Bytes())
	// Polish is what a bookkeeper sees by default (issue 11 item 4); the machine words (queue
	// states, codes, file names) stay as they are.
	text.Reset()
	renderStatus(&text, rep, cfg.Lang())
	checkGolden(t, "status.pl.golden", text.Bytes())

	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status.json.golden", append(js, '\n'))
}

// The -json output is a contract for monitoring scripts: check the keys they read, not just bytes.
func TestStatusJSONFields(t *testing.T) {
	_, rep := populatedStatus(t, "", "stopped")
	js, _ := json.Marshal(rep)
	var got struct {
		Service    string            `json:"service"`
		Queue      map[string]int    `json:"queue"`
		NextPull   string            `json:"nextPull"`
		Rejections []rejectionLine   `json:"lastRejections"`
		Cursors    map[string]string `json:"pullCursors"`
		LastSend   string            `json:"lastSuccessfulSend"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	wantQueue := map[string]int{"done": 5, "accepted": 1, "rejected": 2, "ready": 2, "claimed": 1}
	if diff := cmp.Diff(wantQueue, got.Queue); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
	if got.Service != "stopped" || got.NextPull != "disabled" || got.LastSend != "2026-11-20T09:58:03Z" {
		t.Errorf("service %q nextPull %q lastSend %q", got.Service, got.NextPull, got.LastSend)
	}
	var files []string
	for _, r := range got.Rejections {
		files = append(files, r.File+" "+r.Code)
	}
	if diff := cmp.Diff([]string{"FV-2026-11-006.xml 450", "FV-2026-11-008.xml 440", "FV-2026-11-007.xml not-xml"}, files); diff != "" {
		t.Errorf("rejections newest first (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"cost": "2026-11-20T09:45:12Z", "sales": "2026-11-20T09:40:00Z"}, got.Cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
}

// status through the command line: works read-only next to a running daemon's lock.
func TestStatusCommand(t *testing.T) {
	cfg := statusConfig(t, "")
	synctest.Test(t, func(t *testing.T) { populateJournal(t, cfg) })
	spooltest.Open(t, cfg.Folders.State) // the "daemon" holds the lock
	code, out, errOut := runCLI(t, "", nil, "status", "-config", cfg.Path, "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Queue["ready"] != 2 || rep.NIP != opNIP || len(rep.Rejections) != 3 {
		t.Errorf("unexpected report %+v", rep)
	}
	code, out, _ = runCLI(t, "", nil, "status", "-config", cfg.Path)
	if code != exitOK || !strings.Contains(out, "  ready      2\n") {
		t.Errorf("exit %d, text:\n%s", code, out)
	}
}

func TestStatusBeforeFirstRun(t *testing.T) {
	cfg := statusConfig(t, "")
	rep, err := collectStatus(context.Background(), cfg, "not installed", statusNow)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	renderStatus(&text, rep, cfg.Lang())
	for _, want := range []string{"uwaga:                brak dziennika w " + cfg.Folders.State + ": proces w tle jeszcze nie działał",
		"  ready      0\n", "(jeszcze brak)", "ostatnia wysyłka:     nigdy"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("missing %q in:\n%s", want, text.String())
		}
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update refreshes):\n%s", name, diff)
	}
}
