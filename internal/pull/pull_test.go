package pull

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/internal/render"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

const (
	pullNIP   = "5265877635"
	otherNIP  = "7740001454"
	pullLag   = 2 * time.Minute
	pullStep  = 7 * time.Minute // enough to move the HWM past everything seeded "now"
	pullPoll  = 10 * time.Millisecond
	pullLimit = 30 * time.Second
)

// pullClock is the simulator's and the puller's clock: real time plus an offset the test moves
// (testutil.OffsetClock).
type pullClock struct{ testutil.OffsetClock }

// Sleep waits in real time: the simulator's rate limiter keeps counting meanwhile.
func (c *pullClock) Sleep(ctx context.Context, d time.Duration) error {
	return ksef.WallClock{}.Sleep(ctx, d)
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer = testutil.LogBuffer

// pullEnv is a simulator, the real client and the real journal in temp folders.
type pullEnv struct {
	t       *testing.T
	ctx     context.Context
	sim     *ksefsim.Server
	client  *ksef.Client
	journal *spool.Journal
	clock   *pullClock
	dir     string
	inbox   string
	logs    *syncBuffer
}

func newPullEnv(t *testing.T) *pullEnv {
	t.Helper()
	clock := &pullClock{}
	sim := simtest.Start(t, ksefsim.Options{DefaultNIP: pullNIP, Now: clock.Now, HWMLag: pullLag})
	client := simClient(t, sim, sim.URL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), pullLimit)
	t.Cleanup(cancel)
	dir := t.TempDir()
	j := spooltest.Open(t, filepath.Join(dir, "state"))
	return &pullEnv{t: t, ctx: ctx, sim: sim, client: client, journal: j, clock: clock, dir: dir,
		inbox: filepath.Join(dir, "inbox"), logs: &syncBuffer{}}
}

// simClient is a real client with pullNIP's token, talking to the simulator at baseURL: its own
// address or that of a proxy in front of it. A nil clock is real time.
func simClient(t *testing.T, sim *ksefsim.Server, baseURL string, clock ksef.Clock) *ksef.Client {
	t.Helper()
	c, err := ksef.New(ksef.Options{BaseURL: baseURL, Context: ksef.ContextIdentifier{Type: "Nip", Value: pullNIP},
		Auth: ksef.TokenAuth{Token: sim.Token(pullNIP)}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// options are the production defaults pointed at the env; tests change what they exercise.
func (e *pullEnv) options(start time.Time, subjects ...string) Options {
	return Options{
		NIP: pullNIP, Inbox: e.inbox, Subjects: subjects, Start: start,
		TempDir: filepath.Join(e.dir, "state", "tmp"), Poll: pullPoll,
		Client: e.client, Journal: e.journal, Clock: e.clock,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (e *pullEnv) pull(o Options) (Stats, error) {
	e.t.Helper()
	p, err := New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Pull(e.ctx)
}

// seed stores invoices with the given PermanentStorage dates: "cost" ones are bought by pullNIP,
// "sales" ones sold by it.
func (e *pullEnv) seed(subject string, dates ...time.Time) []ksefsim.SeededInvoice {
	e.t.Helper()
	return simtest.SeedSubject(e.t, e.sim, subject, pullNIP, otherNIP, dates...)
}

// inboxFiles maps every file name under root to its path; a name found twice fails the test.
func inboxFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if prev, ok := out[d.Name()]; ok {
			t.Errorf("%s written twice: %s and %s", d.Name(), prev, path)
		}
		out[d.Name()] = path
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// assertInbox checks that root holds exactly want (XML bytes and metadata record) and nothing else.
func assertInbox(t *testing.T, root string, want []ksefsim.SeededInvoice) {
	t.Helper()
	files := inboxFiles(t, root)
	if len(files) != 2*len(want) {
		t.Errorf("%d files in %s, want %d", len(files), root, 2*len(want))
	}
	for _, w := range want {
		xmlPath, ok := files[w.KsefNumber+".xml"]
		if !ok {
			t.Errorf("%s.xml missing", w.KsefNumber)
			continue
		}
		if got, err := os.ReadFile(xmlPath); err != nil || !bytes.Equal(got, w.XML) {
			t.Errorf("%s: XML differs from what KSeF holds (err %v)", xmlPath, err)
		}
		var meta ksef.InvoiceMetadata
		data, err := os.ReadFile(files[w.KsefNumber+".json"])
		if err == nil {
			err = json.Unmarshal(data, &meta)
		}
		if err != nil || meta.KsefNumber != w.KsefNumber || meta.InvoiceHash != w.InvoiceHash {
			t.Errorf("%s.json: ksefNumber %q hash %q, want %q %q (err %v)", w.KsefNumber, meta.KsefNumber, meta.InvoiceHash, w.KsefNumber, w.InvoiceHash, err)
		}
	}
}

func (e *pullEnv) cursors() map[string]time.Time {
	e.t.Helper()
	c, err := e.journal.Cursors(e.ctx, pullNIP)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *pullEnv) assertSimClean() {
	e.t.Helper()
	st := e.sim.Stats()
	if st.SpecViolations != 0 || st.RateLimited != 0 {
		e.t.Errorf("simulator saw %d spec violations %v and %d 429s", st.SpecViolations, st.SpecViolationDetails, st.RateLimited)
	}
}

// spread returns n PermanentStorage dates from first, step apart.
func spread(first time.Time, step time.Duration, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = first.Add(time.Duration(i) * step)
	}
	return out
}

// damagingClient is the real client whose downloaded archive is damaged before the puller reads
// it, as a broken package would arrive; _metadata.json keeps what KSeF computed.
type damagingClient struct {
	*ksef.Client
	damage func(entries map[string][]byte)
}

func (c damagingClient) DownloadExport(ctx context.Context, exp *ksef.Export, pkg *ksef.ExportPackage, tmp string) (*ksef.ExportArchive, error) {
	a, err := c.Client.DownloadExport(ctx, exp, pkg, tmp)
	if err != nil {
		return nil, err
	}
	if err := rewriteZip(a.Path(), c.damage); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// rewriteZip lets damage change, add or delete entries of the zip at path.
func rewriteZip(path string, damage func(map[string][]byte)) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return err
	}
	entries := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		entries[f.Name] = data
		order = append(order, f.Name)
	}
	zr.Close()
	damage(entries)
	for name := range entries {
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range order {
		data, ok := entries[name]
		if !ok {
			continue
		}
		w, err := zw.Create(name)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// TestPullDamagedPackageWritesNothingAndRetriesLater: an invoice the package does not deliver
// intact is not written, the cursor stays at or before it, and the next intact package brings it.
func TestPullDamagedPackageWritesNothingAndRetriesLater(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(entries map[string][]byte, target string)
		written int // by the damaged pull, of 5
		hold    int // index of the invoice the cursor must not pass; -1: the window start
	}{
		{"bytes differ from the metadata hash", func(es map[string][]byte, n string) {
			es[n+".xml"] = append(es[n+".xml"], "<!-- tampered -->"...)
		}, 4, 2},
		{"listed in metadata but missing", func(es map[string][]byte, n string) { delete(es, n+".xml") }, 4, 2},
		{"entry without metadata", func(es map[string][]byte, n string) {
			es["5265877635-20260101-FFFFFFFFFFFF-00.xml"] = []byte("<x/>")
		}, 5, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPullEnv(t)
			now := e.clock.Now()
			dates := spread(now.Add(-time.Hour), time.Minute, 5)
			seeded := e.seed("cost", dates...)
			start := now.Add(-2 * time.Hour)
			o := e.options(start, "cost")
			o.Client = damagingClient{Client: e.client, damage: func(es map[string][]byte) { tt.damage(es, seeded[2].KsefNumber) }}

			st, err := e.pull(o)
			if !errors.Is(err, ErrCorruptInvoice) {
				t.Fatalf("pull error = %v, want ErrCorruptInvoice", err)
			}
			if st.Written != tt.written {
				t.Errorf("stats %+v, want %d written", st, tt.written)
			}
			want := seeded
			if tt.written == 4 {
				want = append(append([]ksefsim.SeededInvoice{}, seeded[:2]...), seeded[3:]...)
			}
			assertInbox(t, e.inbox, want)
			if !strings.Contains(e.logs.String(), "level=ERROR") {
				t.Errorf("the damage was not logged:\n%s", e.logs)
			}
			limit := start
			if tt.hold >= 0 {
				limit = dates[tt.hold]
			}
			if c, ok := e.cursors()["cost"]; ok && c.After(limit) {
				t.Errorf("cursor %s moved past %s", c, limit)
			}

			// The package arrives intact next time: the missing invoice comes, nothing is rewritten.
			st, err = e.pull(e.options(start, "cost"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Written != 5-tt.written || st.Corrupt != 0 {
				t.Errorf("second pull stats %+v, want %d written", st, 5-tt.written)
			}
			assertInbox(t, e.inbox, seeded)
			if c := e.cursors()["cost"]; !c.After(dates[4]) {
				t.Errorf("cursor %s did not reach the HWM after the intact pull", c)
			}
			e.assertSimClean()
		})
	}
}

func TestPullOneOffLeavesCursorsAndDeliveriesUntouched(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	start := now.Add(-60 * 24 * time.Hour)
	early := e.seed("cost", spread(now.Add(-30*24*time.Hour), time.Hour, 3)...)
	// A normal pull first, so there is a cursor (the HWM) to leave alone.
	if _, err := e.pull(e.options(start, "cost")); err != nil {
		t.Fatal(err)
	}
	before := e.cursors()
	if len(before) != 1 {
		t.Fatalf("cursors after the first pull: %v", before)
	}
	late := e.seed("cost", now.Add(time.Minute), now.Add(3*time.Minute), now.Add(5*time.Minute))
	e.clock.Advance(pullStep + 5*time.Minute)

	out := filepath.Join(e.dir, "redownload")
	o := e.options(start, "cost")
	o.Inbox, o.OneOff = out, true
	o.Since, o.Until = now.Add(-31*24*time.Hour), now.Add(4*time.Minute)
	st, err := e.pull(o)
	if err != nil {
		t.Fatal(err)
	}
	// early was delivered already and comes again; late[2] lies after Until
	assertInbox(t, out, append(append([]ksefsim.SeededInvoice{}, early...), late[:2]...))
	if st.Written != 5 {
		t.Errorf("one-off stats %+v, want 5 written", st)
	}
	if diff := cmp.Diff(before, e.cursors()); diff != "" {
		t.Errorf("one-off pull moved cursors (-before +after):\n%s", diff)
	}
	if done, err := e.journal.DeliveredAmong(e.ctx, pullNIP, ksefNumbers(late)); err != nil || len(done) != 0 {
		t.Errorf("marked delivered by a one-off pull: %v (err %v)", done, err)
	}

	// The regular pull still brings every late invoice into the inbox.
	if _, err := e.pull(e.options(start, "cost")); err != nil {
		t.Fatal(err)
	}
	assertInbox(t, e.inbox, append(early, late...))
	e.assertSimClean()
}

// recordingClient is the real client that remembers every export's filters.
type recordingClient struct {
	*ksef.Client
	mu      sync.Mutex
	filters []ksef.QueryFilters
}

func (c *recordingClient) StartExport(ctx context.Context, f ksef.QueryFilters, comp ksef.Compression) (*ksef.Export, error) {
	c.mu.Lock()
	c.filters = append(c.filters, f)
	c.mu.Unlock()
	return c.Client.StartExport(ctx, f, comp)
}

func TestPullWalksThreeMonthWindowsFromAnOldStart(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	start := now.AddDate(-1, 0, 0)
	// one invoice every 9 days for the year, the last well below the high-water mark
	seeded := e.seed("sales", spread(start.Add(time.Hour), 9*24*time.Hour, 40)...)
	rec := &recordingClient{Client: e.client}
	o := e.options(start, "sales")
	o.Client = rec

	st, err := e.pull(o)
	if err != nil {
		t.Fatal(err)
	}
	assertInbox(t, e.inbox, seeded)
	if len(rec.filters) != 5 || st.Exports != 5 {
		t.Fatalf("%d exports (stats %d), want 5 windows for a year: %+v", len(rec.filters), st.Exports, rec.filters)
	}
	from := start
	for i, f := range rec.filters {
		r := f.DateRange
		if r.DateType != "PermanentStorage" || !r.RestrictToPermanentStorageHwmDate || f.SubjectType != "Subject1" {
			t.Errorf("export %d filters %+v", i, f)
		}
		if !r.From.Equal(from) {
			t.Errorf("export %d starts at %s, want the previous window's end %s", i, r.From, from)
		}
		if i == len(rec.filters)-1 {
			if r.To != nil {
				t.Errorf("last export ends at %s, want open (up to the HWM)", r.To)
			}
			break
		}
		if r.To == nil || r.From.AddDate(0, 3, 0).Before(*r.To) {
			t.Fatalf("export %d range %s..%v exceeds 3 months", i, r.From, r.To)
		}
		from = *r.To
	}
	lastPS := start.Add(time.Hour + 39*9*24*time.Hour)
	if c := e.cursors()["sales"]; c.Before(lastPS) || c.After(e.clock.Now().Add(-pullLag)) {
		t.Errorf("cursor %s, want the high-water mark (≈ %s)", c, e.clock.Now().Add(-pullLag))
	}
	e.assertSimClean()
}

// TestPullWindowEndAboveHWMDoesNotSkip: a catch-up window whose end lies in (HWM, now] must leave
// the cursor at the HWM, or invoices that become final there later are never fetched.
func TestPullWindowEndAboveHWMDoesNotSkip(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	start := now.Add(-maxWindow - time.Minute) // the one window ends at now-1m, above HWM = now-2m
	first := e.seed("cost", now.Add(-24*time.Hour))
	if _, err := e.pull(e.options(start, "cost")); err != nil {
		t.Fatal(err)
	}
	// Stored at now-90s: after the first export's HWM, before its window end.
	lagged := e.seed("cost", now.Add(-90*time.Second))
	e.clock.Advance(pullStep)
	if _, err := e.pull(e.options(start, "cost")); err != nil {
		t.Fatal(err)
	}
	assertInbox(t, e.inbox, append(first, lagged...))
	e.assertSimClean()
}

func TestPull420IsQuiet(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	// A start after the HWM: KSeF answers 420 "nothing above the high-water mark yet".
	st, err := e.pull(e.options(now.Add(-pullLag/2), "cost", "sales"))
	if err != nil {
		t.Fatalf("420 must not be an error: %v", err)
	}
	if st.Exports != 2 || st.Written != 0 {
		t.Errorf("stats %+v, want one export per subject and nothing written", st)
	}
	if c := e.cursors(); len(c) != 0 {
		t.Errorf("cursors moved on 420: %v", c)
	}
	if strings.Contains(e.logs.String(), "level=WARN") || strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("420 logged loudly:\n%s", e.logs)
	}
	if !strings.Contains(e.logs.String(), "nothing new above the high-water mark") {
		t.Errorf("420 not logged at debug:\n%s", e.logs)
	}
	if files := inboxFiles(t, e.inbox); len(files) != 0 {
		t.Errorf("files written on 420: %v", files)
	}
	e.assertSimClean()
}

func TestPullLayoutRejectsUnsafeMetadata(t *testing.T) {
	acq := time.Date(2026, 3, 31, 22, 30, 0, 0, time.UTC) // 1 April in Warsaw
	tests := []struct {
		name, layout, ksef, seller, want string
		wantErr                          bool
	}{
		{"default", "{subject}/{yyyy}/{mm}/{ksefNumber}", "5265877635-20260331-0A1B2C3D4E5F-AB", "7740001454", "cost/2026/04/5265877635-20260331-0A1B2C3D4E5F-AB", false},
		{"seller", "{sellerNip}/{dd}/{ksefNumber}", "N-1", "7740001454", "7740001454/01/N-1", false},
		{"ksef number escapes", "{subject}/{ksefNumber}", "../../etc/passwd", "7740001454", "", true},
		{"seller escapes", "{sellerNip}/{ksefNumber}", "N-1", "..", "", true},
		{"separator in seller", "{sellerNip}/{ksefNumber}", "N-1", `a\b`, "", true},
		{"empty number", "{subject}/{ksefNumber}", "", "7740001454", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &ksef.InvoiceMetadata{KsefNumber: tt.ksef, AcquisitionDate: acq, Seller: ksef.MetadataSeller{Nip: tt.seller}}
			got, err := expandLayout(tt.layout, "cost", m)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != filepath.FromSlash(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPullRecoversFilesOfAnInterruptedRun: files written before a crash, without their journal
// commit, are recorded instead of written again, and leftover temp files are removed.
func TestPullRecoversFilesOfAnInterruptedRun(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	seeded := e.seed("cost", spread(now.Add(-time.Hour), time.Minute, 3)...)
	// Simulate the crash: a first run into the inbox whose journal commit never happened.
	o := e.options(now.Add(-2*time.Hour), "cost")
	o.OneOff, o.Since, o.Until = true, now.Add(-2*time.Hour), now
	if _, err := e.pull(o); err != nil {
		t.Fatal(err)
	}
	files := inboxFiles(t, e.inbox)
	dir := filepath.Dir(files[seeded[0].KsefNumber+".xml"])
	leftover := filepath.Join(dir, "."+seeded[0].KsefNumber+".xml.0a1b2c3d4e5f.tmp")
	if err := os.WriteFile(leftover, []byte("<partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(files[seeded[1].KsefNumber+".json"]); err != nil { // killed between the two writes
		t.Fatal(err)
	}
	mtimes := map[string]time.Time{}
	for name, p := range files {
		if fi, err := os.Stat(p); err == nil {
			mtimes[name] = fi.ModTime()
		}
	}

	again := e.options(now.Add(-2*time.Hour), "cost")
	copies := readable.New([]render.Format{render.PDF}, render.Polish, slog.New(slog.DiscardHandler))
	again.Readable = copies
	st, err := e.pull(again)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 0 || st.Skipped != 3 {
		t.Errorf("stats %+v, want 3 recovered and none written", st)
	}
	if n := copies.Pending(); n != 3 { // the crashed run may have died before rendering them
		t.Errorf("%d readable copies queued for the recovered invoices, want 3 (none has a PDF)", n)
	}
	assertInbox(t, e.inbox, seeded)
	for _, inv := range seeded {
		name := inv.KsefNumber + ".xml"
		if fi, err := os.Stat(inboxFiles(t, e.inbox)[name]); err != nil || !fi.ModTime().Equal(mtimes[name]) {
			t.Errorf("%s rewritten (err %v)", name, err)
		}
		if done, err := e.journal.DeliveredAmong(e.ctx, pullNIP, []string{inv.KsefNumber}); err != nil || !done[inv.KsefNumber] {
			t.Errorf("%s not recorded as delivered (err %v)", inv.KsefNumber, err)
		}
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file of the interrupted write still there (stat err %v)\n%s", err, e.logs)
	}
	e.assertSimClean()
}

// TestPullFilesMatchTheirHashes double-checks the on-disk XML against the metadata next to it.
func TestPullFilesMatchTheirHashes(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	e.seed("cost", spread(now.Add(-time.Hour), time.Minute, 4)...)
	e.seed("sales", spread(now.Add(-time.Hour), time.Minute, 4)...)
	if _, err := e.pull(e.options(now.Add(-2*time.Hour), "cost", "sales")); err != nil {
		t.Fatal(err)
	}
	files := inboxFiles(t, e.inbox)
	var names []string
	for name, p := range files {
		if !strings.HasSuffix(name, ".xml") {
			continue
		}
		names = append(names, name)
		xml, _ := os.ReadFile(p)
		var meta ksef.InvoiceMetadata
		js, _ := os.ReadFile(strings.TrimSuffix(p, ".xml") + ".json")
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum := sha256.Sum256(xml)
		if got := base64.StdEncoding.EncodeToString(sum[:]); got != meta.InvoiceHash {
			t.Errorf("%s: sha256 %s, metadata %s", name, got, meta.InvoiceHash)
		}
		subject := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(p))))
		if subject != "cost" && subject != "sales" {
			t.Errorf("%s is not under a subject folder: %s", name, p)
		}
	}
	sort.Strings(names)
	if len(names) != 8 {
		t.Errorf("%d invoices, want 8: %v", len(names), names)
	}
}

// TestPullKeepsMetadataFieldsTheClientDoesNotModel: the JSON beside each invoice is its record of
// _metadata.json as KSeF sent it, so fields a newer KSeF adds reach the inbox although the client
// decodes the record into a struct that does not know them.
func TestPullKeepsMetadataFieldsTheClientDoesNotModel(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	seeded := e.seed("cost", spread(now.Add(-time.Hour), time.Minute, 3)...)
	extra := map[string]any{"futureField": map[string]any{"nested": []any{1.5, "x", nil}}, "futureFlag": true}
	e.sim.AddExportMetadataFields(extra)
	if _, err := e.pull(e.options(now.Add(-2*time.Hour), "cost")); err != nil {
		t.Fatal(err)
	}
	assertInbox(t, e.inbox, seeded)
	files := inboxFiles(t, e.inbox)
	for _, w := range seeded {
		js, err := os.ReadFile(files[w.KsefNumber+".json"])
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(js, &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range extra {
			if diff := cmp.Diff(v, got[k]); diff != "" {
				t.Errorf("%s.json field %s (-sent +written):\n%s", w.KsefNumber, k, diff)
			}
		}
		if got["ksefNumber"] != w.KsefNumber {
			t.Errorf("%s.json ksefNumber %v", w.KsefNumber, got["ksefNumber"])
		}
	}
}

// TestPullExportBudgetHoldsAcrossPullers: the hourly export budget is kept in the journal, so a
// new process (a new Puller) cannot spend it again; the cycle stops quietly and resumes later.
func TestPullExportBudgetHoldsAcrossPullers(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	start := now.AddDate(-1, 0, 0)
	seeded := e.seed("sales", spread(start.Add(time.Hour), 9*24*time.Hour, 40)...)
	o := e.options(start, "sales")
	o.ExportsPerHour = 2

	st, err := e.pull(o)
	if err != nil || st.Exports != 2 || !st.BudgetExhausted {
		t.Fatalf("first pull: stats %+v, err %v; want 2 exports and the budget used up", st, err)
	}
	afterFirst := e.cursors()["sales"]
	if want := start.Add(2 * maxWindow); !afterFirst.Equal(want) {
		t.Errorf("cursor after two windows %s, want %s", afterFirst, want)
	}
	if st, err = e.pull(o); err != nil || st.Exports != 0 || !st.BudgetExhausted {
		t.Errorf("second puller within the hour: stats %+v, err %v; want no export", st, err)
	}
	if strings.Contains(e.logs.String(), "level=WARN") || strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("a spent budget logged loudly:\n%s", e.logs)
	}

	e.clock.Advance(time.Hour)
	for range 3 { // 3 windows left, 2 per hour
		if st, err = e.pull(o); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
	}
	if st.BudgetExhausted {
		t.Errorf("still not caught up: %+v", st)
	}
	assertInbox(t, e.inbox, seeded)
	e.assertSimClean()
}

// TestPullRareSubjectsRunLessOften: third-party and authorised-subject exports are rare, so they
// run at most every 6 hours and leave the export budget to cost and sales.
func TestPullRareSubjectsRunLessOften(t *testing.T) {
	e := newPullEnv(t)
	o := e.options(e.clock.Now().Add(-24*time.Hour), "subject3")
	first, err := e.pull(o)
	if err != nil || first.Exports == 0 {
		t.Fatalf("first pull: %+v, %v", first, err)
	}
	again, err := e.pull(o)
	if err != nil || again.Exports != 0 {
		t.Fatalf("pull right after: %+v, %v; want no export", again, err)
	}
	e.clock.Advance(slowEvery)
	later, err := e.pull(o)
	if err != nil || later.Exports == 0 {
		t.Fatalf("pull 6 h later: %+v, %v; want an export", later, err)
	}
}

// ksefNumbers lists the seeded invoices' KSeF numbers.
func ksefNumbers(invs []ksefsim.SeededInvoice) []string {
	out := make([]string, len(invs))
	for i, inv := range invs {
		out[i] = inv.KsefNumber
	}
	return out
}

// TestPullThirdPartyAndAuthorizedInvoices: invoices where our NIP is a third subject (Podmiot3) or
// the authorized subject (PodmiotUpowazniony) come with the subject3 and authorized exports, into
// their own folders, with the metadata naming our role; neither is mixed into cost or sales.
func TestPullThirdPartyAndAuthorizedInvoices(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	const buyer = "1111111111"
	seed := func(s3, auth string, n int) []ksefsim.SeededInvoice {
		invs := make([]ksefsim.SeedInvoice, n)
		for i, d := range spread(now.Add(-time.Hour), time.Minute, n) {
			invs[i] = ksefsim.SeedInvoice{SellerNIP: otherNIP, BuyerNIP: buyer, PermanentStorageDate: d, Subject3NIP: s3, AuthorizedNIP: auth}
		}
		out, err := e.sim.Seed(invs...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	third := seed(pullNIP, "", 3)
	authorized := seed("", pullNIP, 2)
	seed("9999999999", "9999999999", 2) // someone else's roles: never ours

	st, err := e.pull(e.options(now.Add(-2*time.Hour), "cost", "sales", "subject3", "authorized"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 5 {
		t.Errorf("stats %+v, want 5 written", st)
	}
	assertInbox(t, filepath.Join(e.inbox, "subject3"), third)
	assertInbox(t, filepath.Join(e.inbox, "authorized"), authorized)
	assertInbox(t, filepath.Join(e.inbox, "cost"), nil)
	assertInbox(t, filepath.Join(e.inbox, "sales"), nil)

	var meta struct {
		ThirdSubjects []struct {
			Identifier struct{ Type, Value string }
			Role       int
		}
	}
	files := inboxFiles(t, e.inbox)
	data, err := os.ReadFile(files[third[0].KsefNumber+".json"])
	if err == nil {
		err = json.Unmarshal(data, &meta)
	}
	if err != nil || len(meta.ThirdSubjects) != 1 || meta.ThirdSubjects[0].Identifier.Value != pullNIP {
		t.Errorf("metadata of a third-subject invoice: %s (err %v)", data, err)
	}
	var auth ksef.InvoiceMetadata
	if data, err := os.ReadFile(files[authorized[0].KsefNumber+".json"]); err != nil || json.Unmarshal(data, &auth) != nil || !strings.Contains(string(data), `"authorizedSubject"`) {
		t.Errorf("metadata of an authorized-subject invoice: %s (err %v)", data, err)
	}
	e.assertSimClean()
}
