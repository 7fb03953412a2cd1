package watcher

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
)

// dirChanges collects what OnDirChange heard, as "available" or the problem.
type dirChanges struct {
	mu  sync.Mutex
	got []string
}

func (c *dirChanges) record(s DirStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Available {
		c.got = append(c.got, "available")
		return
	}
	c.got = append(c.got, s.Problem)
}

func (c *dirChanges) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestMissingOutboxRetriedEverySeconds: an outbox that is not there yet (a share not mounted at
// boot) is listed again every few seconds, not at the next 30 s rescan; the watcher logs once when
// it is missing and once when it is back, tells OnDirChange both, and then picks up the files
// (issue 11 item 8).
func TestMissingOutboxRetriedEverySeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox")
		logs := &syncBuffer{}
		opts := listingOnly(dir) // rescan every 30 s: only the retry can find the folder sooner
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		w := newWatcher(t, opts)
		changes := &dirChanges{}
		w.OnDirChange(changes.record)
		h := startWatcher(t, w, dir)

		advance(4 * defaultDirRetry)
		const missing = "outbox directory does not exist; retrying every few seconds"
		if n := logs.count(t, "WARN", missing); n != 1 {
			t.Fatalf("missing-outbox warning logged %d times over several retries, want 1", n)
		}
		if diff := cmp.Diff([]string{"missing"}, changes.list()); diff != "" {
			t.Fatalf("directory changes (-want +got):\n%s", diff)
		}

		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		h.write("a.xml", "x")
		advance(defaultDirRetry + settle + settle/2) // well before the next rescan (27 s at the earliest)
		h.expect("reported within seconds of the outbox appearing", "a.xml")
		if n := logs.count(t, "INFO", "outbox directory available again"); n != 1 {
			t.Errorf("recovery logged %d times, want 1", n)
		}
		if diff := cmp.Diff([]string{"missing", "available"}, changes.list()); diff != "" {
			t.Errorf("directory changes (-want +got):\n%s", diff)
		}
	})
}

// TestPresentOutboxReportedAvailableAtStart: the first listing tells OnDirChange the folder is
// there, so a daemon that restarts clears what an earlier run reported as missing.
func TestPresentOutboxReportedAvailableAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		w := newWatcher(t, listingOnly(dir))
		changes := &dirChanges{}
		w.OnDirChange(changes.record)
		startWatcher(t, w, dir)
		advance(2 * rescan)
		if diff := cmp.Diff([]string{"available"}, changes.list()); diff != "" {
			t.Errorf("directory changes (-want +got):\n%s", diff)
		}
	})
}

// startWatcher is start for a Watcher the test has configured further (OnDirChange).
func startWatcher(t *testing.T, w *Watcher, dir string) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{t: t, w: w, dir: dir, ready: make(chan File, 1000), cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- w.Run(ctx, h.ready) }()
	t.Cleanup(h.stop)
	synctest.Wait()
	return h
}
