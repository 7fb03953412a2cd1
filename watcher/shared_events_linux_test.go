package watcher

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// inotifyInstances counts this process's inotify descriptors.
func inotifyInstances(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); target == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// TestManyWatchersShareOneInotifyInstance: an accounting office's 200 outboxes in one process use
// the shared hub's inotify instances (two at most: fsnotify's and the writer-finished reader's),
// not two each, so Linux's default limit of 128 instances a user no longer leaves most of them on
// listing only. Every watcher still gets the events of its own folder: a file renamed into each
// outbox is reported by its own watcher, by the rename, not after the settle window.
func TestManyWatchersShareOneInotifyInstance(t *testing.T) {
	before := inotifyInstances(t)
	const outboxes = 200
	dirs := make([]string, outboxes)
	ready := make([]<-chan File, outboxes)
	for i := range dirs {
		dirs[i] = t.TempDir()
		ready[i] = startWatchingNoWait(t, dirs[i])
	}
	for i := range dirs {
		awaitMarker(t, ready[i])
	}
	if got := inotifyInstances(t); got > before+2 {
		t.Fatalf("%d outbox watchers hold %d inotify instances (%d before); want at most 2 more", outboxes, got, before)
	}
	elsewhere := t.TempDir()
	for i, dir := range dirs {
		src := filepath.Join(elsewhere, fmt.Sprintf("FV_%d.xml", i))
		if err := os.WriteFile(src, []byte("<Faktura><P_2>1</P_2></Faktura>"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(src, filepath.Join(dir, fmt.Sprintf("FV_%d.xml", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range dirs {
		select {
		case f := <-ready[i]:
			if want := fmt.Sprintf("FV_%d.xml", i); f.Name != want || f.ReadyBy != readyByRename {
				t.Fatalf("outbox %d reported %s ready by %s, want %s by %s", i, f.Name, f.ReadyBy, want, readyByRename)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("outbox %d: its file was not reported", i)
		}
	}
}

// TestSlowWatcherDoesNotHoldUpOthers: a watcher that does not read its events (its loop is stuck
// listing a hung share) must not stop the hub from delivering another watcher's events.
func TestSlowWatcherDoesNotHoldUpOthers(t *testing.T) {
	stuckDir, liveDir := t.TempDir(), t.TempDir()
	stuck, err := subscribeShared()
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	live, err := subscribeShared()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := stuck.Add(stuckDir); err != nil {
		t.Fatal(err)
	}
	if err := live.Add(liveDir); err != nil {
		t.Fatal(err)
	}
	for i := range 500 { // never read: far more than any channel buffer
		if err := os.WriteFile(filepath.Join(stuckDir, fmt.Sprintf("%d.xml", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := filepath.Join(liveDir, "FV_live.xml")
	if err := os.WriteFile(want, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case ev := <-live.Events():
			if ev.Name == want {
				return
			}
			if filepath.Dir(ev.Name) != liveDir {
				t.Fatalf("live watcher got an event of another folder: %s", ev.Name)
			}
		case sig := <-live.Done():
			// The writer-finished signal comes from a second inotify instance, so it may be queued
			// before the create event; a reader that ignored it (as this test did) stalls its own
			// queue, as the watcher's loop, which reads both, never does.
			if !strings.HasSuffix(sig, ":"+want) {
				t.Fatalf("live watcher got a signal of another file: %s", sig)
			}
		case <-deadline:
			t.Fatal("the live watcher's event never came while another watcher was not reading")
		}
	}
}
