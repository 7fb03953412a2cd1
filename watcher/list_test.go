package watcher

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
)

func TestListAppliesTheNameFilter(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.xml", "B.XML", ".hidden.xml", "c.xml.tmp", "~$d.xml", "e.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.xml"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := newWatcher(t, Options{Dir: dir})
	got, err := w.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
	}
	if len(names) != 2 || names[0] != "B.XML" || names[1] != "a.xml" {
		t.Fatalf("List = %v, want [B.XML a.xml]", names)
	}
	if _, err := (&Watcher{opts: Options{Dir: filepath.Join(dir, "missing")}}).List(); err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

// TestClaimFoldersAreNeverListed: files that daemons renamed into their hidden claim folders inside
// the outbox (outbox/.ksef-sync/<daemon-id>/) are theirs; neither List nor any rescan of Run ever
// offers them, only the files in the outbox itself.
func TestClaimFoldersAreNeverListed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		for _, d := range []string{filepath.Join(dir, ".ksef-sync", "host-aaaaaaaa"), filepath.Join(dir, ".other")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "claimed.xml"), []byte("<x/>"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "free.xml"), []byte("<x/>"), 0o644); err != nil {
			t.Fatal(err)
		}
		h := start(t, listingOnly(dir))
		files, err := h.w.List()
		if err != nil || len(files) != 1 || files[0].Name != "free.xml" {
			t.Fatalf("List = %+v, %v", files, err)
		}
		var got []string
		for range 3 {
			advance(rescan + settle)
			got = append(got, h.reported()...)
			h.w.Rescan()
		}
		advance(settle)
		got = append(got, h.reported()...)
		if len(got) == 0 || slices.ContainsFunc(got, func(n string) bool { return n != "free.xml" }) {
			t.Fatalf("reported %v, want only free.xml", got)
		}
		h.stop()
	})
}
