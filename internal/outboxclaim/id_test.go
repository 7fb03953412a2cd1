package outboxclaim

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestIDIsCreatedOnceAndDiffersPerStateFolder: one id per state folder, stable across calls and
// concurrent first calls, different for a second state folder on the same host, named after the
// host.
func TestIDIsCreatedOnceAndDiffersPerStateFolder(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if id, err := ReadID(a); err != nil || id != "" {
		t.Fatalf("ReadID before first use = %q, %v", id, err)
	}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			var err error
			if ids[i], err = ID(a); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first calls disagree: %v", ids)
		}
	}
	if again, _ := ID(a); again != ids[0] {
		t.Fatalf("id changed: %s then %s", ids[0], again)
	}
	other, err := ID(b)
	if err != nil || other == ids[0] {
		t.Fatalf("second state folder: %q, %v (first %q)", other, err, ids[0])
	}
	if !strings.HasPrefix(ids[0], hostPart()+"-") || !validID(ids[0]) {
		t.Errorf("id %q does not name the host %q", ids[0], hostPart())
	}
	if err := os.WriteFile(filepath.Join(b, IDFile), []byte("../evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ID(b); err == nil {
		t.Error("an id that is not a folder name was accepted")
	}
}
