package logging

import (
	"bytes"
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
