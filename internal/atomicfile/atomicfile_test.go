package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func TestWriteFileReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.xml")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("got %q, %v; want %q", got, err, content)
		}
	}
	assertOnlyFiles(t, dir, "a.xml")
}

func TestWriteNewRefusesToOverwrite(t *testing.T) {
	assertWriteNewOnce(t)
}

func TestWriteNewWithoutHardLinks(t *testing.T) {
	old := linkFile
	linkFile = func(string, string) error { return errors.New("links not supported") }
	t.Cleanup(func() { linkFile = old })
	assertWriteNewOnce(t)
}

// assertWriteNewOnce writes a new file, then checks that a second WriteNew of the same name is
// refused with ErrExist and leaves the first content and no temporary file behind.
func assertWriteNewOnce(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.xml")
	if err := WriteNew(p, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(p, []byte("second"), 0o644)
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second WriteNew: got %v, want ErrExist", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "first" {
		t.Fatalf("content changed to %q", got)
	}
	assertOnlyFiles(t, dir, "a.xml")
}

func TestFailedRenameKeepsOldFileAndRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.xml")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := renameFile
	renameFile = func(string, string) error { return errors.New("disk full") }
	t.Cleanup(func() { renameFile = old })
	if err := WriteFile(p, []byte("new"), 0o644); err == nil {
		t.Fatal("want error")
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("got %q, want old content", got)
	}
	assertOnlyFiles(t, dir, "a.xml")
}

func TestTempName(t *testing.T) {
	for name, want := range map[string]bool{".a.xml.0a1b2c3d4e5f.tmp": true, ".a.xml.0a1b.tmp": false, ".x.zzzzzzzzzzzz.tmp": false,
		"a.tmp": false, "a.xml": false, ".tmp": false, ".a.tmp": false} {
		if got := TempName(name); got != want {
			t.Errorf("TempName(%q) = %v, want %v", name, got, want)
		}
	}
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	got := testutil.FileNames(t, dir)
	if len(got) != len(want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("files = %v, want %v", got, want)
		}
	}
}

func TestRemoveTempsRemovesOnlyOurs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".a.xml.0123456789ab.tmp", "a.xml", ".user.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := RemoveTemps(dir)
	if err != nil || n != 1 {
		t.Fatalf("RemoveTemps = %d, %v", n, err)
	}
	assertOnlyFiles(t, dir, ".user.tmp", "a.xml")
}
