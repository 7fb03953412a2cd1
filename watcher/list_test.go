package watcher

import (
	"os"
	"path/filepath"
	"testing"
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
