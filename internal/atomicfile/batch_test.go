package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func TestBatchCommitPublishesEveryFile(t *testing.T) {
	dir := t.TempDir()
	var b Batch
	for i := range 50 {
		if err := b.Write(filepath.Join(dir, fmt.Sprintf("f%02d.xml", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 50 {
		t.Fatalf("staged files: %d entries", len(entries))
	}
	for _, e := range testutil.FileNames(t, dir) {
		if !TempName(e) {
			t.Fatalf("%s visible under its final name before Commit", e)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	names := testutil.FileNames(t, dir)
	if len(names) != 50 {
		t.Fatalf("after commit: %v", names)
	}
	for i := range 50 {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%02d.xml", i)))
		if err != nil || string(got) != fmt.Sprint(i) {
			t.Fatalf("f%02d: %q %v", i, got, err)
		}
	}
}

func TestBatchFailedRenameLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	old := renameFile
	calls := 0
	renameFile = func(a, b string) error {
		calls++
		if calls == 3 {
			return errors.New("disk full")
		}
		return os.Rename(a, b)
	}
	t.Cleanup(func() { renameFile = old })
	var b Batch
	for i := range 5 {
		if err := b.Write(filepath.Join(dir, fmt.Sprintf("f%d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err == nil {
		t.Fatal("want error")
	}
	names := testutil.FileNames(t, dir)
	if len(names) != 2 || names[0] != "f0" || names[1] != "f1" {
		t.Fatalf("files = %v, want the two renamed before the failure and no temporaries", names)
	}
}

func TestBatchAbort(t *testing.T) {
	dir := t.TempDir()
	var b Batch
	_ = b.Write(filepath.Join(dir, "a"), []byte("x"), 0o644)
	b.Abort()
	if names := testutil.FileNames(t, dir); len(names) != 0 {
		t.Fatalf("files = %v", names)
	}
}

func BenchmarkBatch1000(b *testing.B) {
	data := make([]byte, 4600)
	for b.Loop() {
		dir := b.TempDir()
		var bt Batch
		for i := range 1000 {
			_ = bt.Write(filepath.Join(dir, fmt.Sprint(i)), data, 0o644)
		}
		if err := bt.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFile1000(b *testing.B) {
	data := make([]byte, 4600)
	for b.Loop() {
		dir := b.TempDir()
		for i := range 1000 {
			_ = WriteFile(filepath.Join(dir, fmt.Sprint(i)), data, 0o644)
		}
	}
}

// A restarted daemon stages readable copies in sent/ while the engine's recovery clears the
// temporary files a crash left there: the clearing must take only the leftovers (CI failure of
// TestCopiesOfAKilledDaemonAreWrittenAfterRestart, where every staged copy was removed).
func TestRemoveTempsSparesStagedBatch(t *testing.T) {
	dir := t.TempDir()
	leftover := filepath.Join(dir, ".old.pdf.0123456789ab.tmp")
	if err := os.WriteFile(leftover, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i := range 3 {
		if err := b.Write(filepath.Join(dir, fmt.Sprintf("f%d.pdf", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := RemoveTemps(dir); err != nil || n != 1 {
		t.Fatalf("RemoveTemps = %d, %v; want only the leftover removed", n, err)
	}
	if err := b.Commit(); err != nil {
		t.Fatalf("commit after RemoveTemps: %v", err)
	}
	assertOnlyFiles(t, dir, "f0.pdf", "f1.pdf", "f2.pdf")
	if len(live.names) != 0 {
		t.Fatalf("temporary files still registered after commit: %v", live.names)
	}
}
