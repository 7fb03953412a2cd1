package watcher

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestChunkedWriterNeverTakenEarly uses real inotify and real time. A writer produces an invoice in
// chunks over more than five seconds, with pauses much longer than the stability check, once
// keeping the file open throughout and once reopening it for every chunk (each close is a
// close-after-write). The file is never reported before its last chunk, and is reported whole,
// by its writer's final close, right after. The pauses are the writer's behaviour, not a wait.
func TestChunkedWriterNeverTakenEarly(t *testing.T) {
	chunks := []string{"<?xml version=\"1.0\"?>\n", "<Faktura>", "<Naglowek>x</Naglowek>", "<Fa>", "<P_2>FV/1</P_2>",
		"</Fa>", "<Podmiot1>y</Podmiot1>", "</Faktura>\n"}
	const pause = 750 * time.Millisecond // 8 chunks: 5.25 s in all
	for _, reopen := range []bool{false, true} {
		name := map[bool]string{false: "held-open", true: "reopened"}[reopen]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ready := startWatching(t, dir)

			path := filepath.Join(dir, "FV_chunked.xml")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for i, c := range chunks {
				if reopen && i > 0 {
					if f, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := f.WriteString(c); err != nil {
					t.Fatal(err)
				}
				total += len(c)
				if reopen || i == len(chunks)-1 {
					if err := f.Close(); err != nil {
						t.Fatal(err)
					}
				}
				if i == len(chunks)-1 {
					break
				}
				time.Sleep(pause) // the writer pausing between chunks
				select {
				case got := <-ready:
					t.Fatalf("reported after chunk %d of %d (%d bytes, ready by %s)", i+1, len(chunks), got.Size, got.ReadyBy)
				default:
				}
			}
			select {
			case got := <-ready:
				if got.Size != int64(total) || got.ReadyBy != readyByCloseWrite {
					t.Fatalf("reported %d bytes ready by %s, want %d by %s", got.Size, got.ReadyBy, total, readyByCloseWrite)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("finished file not reported")
			}
		})
	}
}

// TestRenameIntoOutboxReadyByRename: the way well-behaved ERPs deliver (write elsewhere, rename in)
// is recognised as such on Linux.
func TestRenameIntoOutboxReadyByRename(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	ready := startWatching(t, dir)
	src := filepath.Join(elsewhere, "FV_1.xml")
	if err := os.WriteFile(src, []byte("<Faktura><P_2>1</P_2></Faktura>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, filepath.Join(dir, "FV_1.xml")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ready:
		if got.Name != "FV_1.xml" || got.ReadyBy != readyByRename {
			t.Fatalf("reported %+v, want FV_1.xml ready by rename", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("renamed file not reported")
	}
}

// startWatching runs a watcher with the default settle window on dir and returns once its watches
// are in place: a marker file written before the start is found by the start-up listing, which
// follows adding the watches.
func startWatching(t *testing.T, dir string) <-chan File {
	t.Helper()
	ready := startWatchingNoWait(t, dir)
	awaitMarker(t, ready)
	return ready
}

// startWatchingNoWait starts a watcher on dir behind a marker file; awaitMarker waits for it, so
// that many watchers can start at once and settle together.
func startWatchingNoWait(t *testing.T, dir string) <-chan File {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "marker.xml"), []byte("<m/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWatcher(t, Options{Dir: dir, RescanEvery: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ready := make(chan File, 10)
	go func() { _ = w.Run(ctx, ready) }()
	return ready
}

func awaitMarker(t *testing.T, ready <-chan File) {
	t.Helper()
	select {
	case f := <-ready:
		if f.Name != "marker.xml" {
			t.Fatalf("first report %q, want marker.xml", f.Name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("marker not reported")
	}
}
