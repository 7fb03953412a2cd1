//go:build windows

package watcher

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"golang.org/x/sys/windows"
)

// openExclusive opens path as an ERP exporting a file would: for writing, sharing nothing.
func openExclusive(t *testing.T, path string) windows.Handle {
	t.Helper()
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, 0, nil, windows.OPEN_ALWAYS, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The real readiness check, with real handles: a writer that shares nothing, and one that shares
// everything (Go's os.Create does), both keep the file from being ready; closed, it is ready.
func TestOpenableForReadWithRealWriters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "FV 1.xml")
	h := openExclusive(t, p)
	if openableForRead(p) {
		t.Error("ready while a writer holds it open without sharing")
	}
	if err := windows.CloseHandle(h); err != nil {
		t.Fatal(err)
	}
	if !openableForRead(p) {
		t.Error("not ready after the writer closed it")
	}

	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if openableForRead(p) {
		t.Error("ready while a writer sharing read and write holds it open")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !openableForRead(filepath.Join(dir, "gone.xml")) {
		t.Error("a missing file must not look like one being written (the listing reports it gone)")
	}
}

// End to end in the watcher, with the real check: a file held open without sharing is never
// reported, however long it sits; once the writer closes it, it is reported after one settle.
func TestFileHeldOpenWithoutSharingIsNotReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		p := h.write("FV_2.xml", "<Faktura/>")
		handle := openExclusive(t, p)
		h.w.Rescan()
		advance(5 * settle)
		h.expectNone("reported while the writer holds it: %v")
		if err := windows.CloseHandle(handle); err != nil {
			t.Fatal(err)
		}
		h.w.Rescan()
		advance(settle)
		if got := h.reported(); len(got) != 1 || got[0] != "FV_2.xml" {
			t.Fatalf("reported %v after the writer closed it, want [FV_2.xml]", got)
		}
	})
}
