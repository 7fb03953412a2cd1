package logging

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotatingFileKeepsAtMostMaxFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ksef-sync.log")
	r, err := OpenRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 59) + "\n")
	for range 10 {
		if _, err := r.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		st, _ := os.Stat(filepath.Join(dir, e.Name()))
		if st.Size() > 100 {
			t.Errorf("%s has %d bytes, limit 100", e.Name(), st.Size())
		}
	}
	want := []string{"ksef-sync.log", "ksef-sync.log.1", "ksef-sync.log.2"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("files = %v, want %v", names, want)
	}
}

func TestNewJSONAndLevel(t *testing.T) {
	var buf bytes.Buffer
	log, closeFn, err := New(Options{Level: "warn", Format: "json", Stderr: &buf})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	log.Info("hidden")
	log.Warn("shown", "file", "FV_1.xml")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"file":"FV_1.xml"`) {
		t.Fatalf("unexpected log output %q", out)
	}
	if _, _, err := New(Options{Level: "loud"}); err == nil {
		t.Fatal("want error for unknown level")
	}
}

// TestFailedRotationKeepsLogging: when the rename fails (on Windows, another process holding the
// file open), every line still reaches the current file, and rotation resumes once renames work.
func TestFailedRotationKeepsLogging(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ksef-sync.log")
	blocked := true
	rename = func(from, to string) error {
		if blocked && from == path {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrPermission}
		}
		return os.Rename(from, to)
	}
	t.Cleanup(func() { rename = os.Rename })

	r, err := OpenRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logger := slog.New(slog.NewTextHandler(r, nil))
	for i := range 10 {
		logger.Info("while the rename fails", "n", i)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(got), "while the rename fails"); n != 10 {
		t.Fatalf("the log holds %d of 10 lines written while rotation failed:\n%s", n, got)
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Fatalf("a rotated file exists although every rename failed: %v", err)
	}

	blocked = false
	logger.Info("after the rename works again")
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("rotation did not resume once renames worked: %v", err)
	}
	rotated, _ := os.ReadFile(path + ".1")
	current, _ := os.ReadFile(path)
	if n := strings.Count(string(rotated), "while the rename fails"); n != 10 {
		t.Errorf("the rotated file holds %d of the 10 earlier lines", n)
	}
	if !strings.Contains(string(current), "after the rename works again") {
		t.Errorf("the fresh file misses the line written after rotation: %q", current)
	}
}
