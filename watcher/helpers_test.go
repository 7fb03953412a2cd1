package watcher

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// syncBuffer is a goroutine-safe log sink that can count JSON records.
type syncBuffer struct{ testutil.LogBuffer }

// records returns the logged JSON records with the given level and message.
func (b *syncBuffer) count(t *testing.T, level, msg string) int {
	t.Helper()
	n := 0
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(b.String())), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		if rec.Level == level && rec.Msg == msg {
			n++
		}
	}
	return n
}

// harness runs a Watcher in the background of a synctest bubble.
type harness struct {
	t      *testing.T
	w      *Watcher
	dir    string
	ready  chan File
	cancel context.CancelFunc
	done   chan error
}

// start must be called inside synctest.Test. The ready channel is buffered so
// the test can check "nothing reported" without a receiver racing the loop.
func start(t *testing.T, opts Options) *harness {
	t.Helper()
	return startWatcher(t, newWatcher(t, opts), opts.Dir)
}

// newWatcher is New that fails the test on an error.
func newWatcher(t testing.TB, opts Options) *Watcher {
	t.Helper()
	w, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w
}

func (h *harness) stop() {
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run returned %v, want nil", err)
	}
	h.done <- nil // keep stop idempotent
}

// reported waits until the bubble is idle and returns the names sent so far.
func (h *harness) reported() []string {
	h.t.Helper()
	synctest.Wait()
	var names []string
	for {
		select {
		case f := <-h.ready:
			names = append(names, f.Name)
		default:
			slices.Sort(names)
			return names
		}
	}
}

// expectNone fails the test if anything was reported; format names the moment and
// gets the reported names as its last argument.
func (h *harness) expectNone(format string, args ...any) {
	h.t.Helper()
	if got := h.reported(); len(got) != 0 {
		h.t.Fatalf(format, append(args, got)...)
	}
}

// expect fails the test unless exactly names (sorted) were reported.
func (h *harness) expect(what string, names ...string) {
	h.t.Helper()
	if diff := cmp.Diff(names, h.reported()); diff != "" {
		h.t.Fatalf("%s (-want +got):\n%s", what, diff)
	}
}

// expectAfter advances the clock by d and checks that exactly names are reported
// then, and nothing a millisecond earlier.
func (h *harness) expectAfter(d time.Duration, names ...string) {
	h.t.Helper()
	advance(d - time.Millisecond)
	h.expectNone("reported %[2]v before %[1]v", d)
	advance(time.Millisecond)
	h.expect("reported", names...)
}

// expectOnce is expect over reportedOnce.
func (h *harness) expectOnce(what string, names ...string) {
	h.t.Helper()
	if diff := cmp.Diff(names, h.reportedOnce()); diff != "" {
		h.t.Fatalf("%s (-want +got):\n%s", what, diff)
	}
}

// reportedOnce is reported with duplicates removed, for tests whose time
// window may span two (jittered) listings, each of which re-offers a file.
func (h *harness) reportedOnce() []string {
	h.t.Helper()
	return slices.Compact(h.reported())
}

func (h *harness) write(name, content string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) appendTo(name, content string) {
	h.t.Helper()
	f, err := os.OpenFile(filepath.Join(h.dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// advance moves the bubble's fake clock; every goroutine in the bubble
// is idle whenever it returns.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// fakeSource stands in for fsnotify inside a synctest bubble (a real inotify
// reader blocks in a syscall, which would stop fake time).
type fakeSource struct {
	events chan fsnotify.Event
	errs   chan error
	done   chan string // writer-finished signals ("close-write:<path>")
	mu     sync.Mutex
	added  int
	closed bool
	addErr error
}

func (f *fakeSource) Add(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return f.addErr
	}
	if _, err := os.Stat(path); err != nil {
		return err // like inotify: a missing directory cannot be watched
	}
	f.added++
	return nil
}
func (f *fakeSource) Remove(string) error { return nil }
func (f *fakeSource) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}
func (f *fakeSource) Events() <-chan fsnotify.Event { return f.events }
func (f *fakeSource) Errors() <-chan error          { return f.errs }

func (f *fakeSource) addedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.added
}

func (f *fakeSource) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// startFast starts a watcher on a fresh directory with fake file events and
// fastOptions; it must be called inside the bubble.
func startFast(t *testing.T) (*harness, *fakeSource) {
	t.Helper()
	src := useFakeEvents(t)
	return start(t, fastOptions(t.TempDir())), src
}

// useFakeEvents must be called inside the bubble, before start.
func useFakeEvents(t *testing.T) *fakeSource {
	f := &fakeSource{events: make(chan fsnotify.Event), errs: make(chan error), done: make(chan string)}
	setEventSource(t, func() (eventSource, error) { return f, nil })
	return f
}

func setEventSource(t *testing.T, fn func() (eventSource, error)) {
	old := newEventSource
	newEventSource = fn
	t.Cleanup(func() { newEventSource = old })
}

func setCanRead(t *testing.T, fn func(string) bool) {
	old := canRead
	canRead = fn
	t.Cleanup(func() { canRead = old })
}

func (f *fakeSource) Done() <-chan string { return f.done }
