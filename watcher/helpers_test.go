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
	w, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return startWatcher(t, w, opts.Dir)
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

func (f *fakeSource) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
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
