package watcher

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRealEventsReportSoonerThanRescan uses real inotify/ReadDirectoryChangesW
// and real time. RescanEvery is an hour, so only an event can explain a
// report within the timeout; the timeout is generous for a loaded machine
// and only bounds a failure, it is not waited out on success.
func TestRealEventsReportSoonerThanRescan(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "first.xml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWatcher(t, Options{Dir: dir, Settle: 20 * time.Millisecond, RescanEvery: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan File, 10)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, ready) }()

	const timeout = 20 * time.Second
	receive := func(want string) {
		t.Helper()
		select {
		case f := <-ready:
			if f.Name != want {
				t.Fatalf("got %q, want %q", f.Name, want)
			}
		case <-time.After(timeout):
			t.Fatalf("%s not reported within %v", want, timeout)
		}
	}
	// The start-up listing (which follows adding the watch) found first.xml,
	// so the watch is in place before second.xml exists.
	receive("first.xml")

	// Written like our atomic-write helper and editors do: temp, then rename.
	tmp := filepath.Join(dir, ".second.xml.tmp")
	if err := os.WriteFile(tmp, []byte("<Faktura/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "second.xml")); err != nil {
		t.Fatal(err)
	}
	receive("second.xml")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("Run did not return after cancel")
	}
}
