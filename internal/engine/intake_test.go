package engine

import (
	"os"
	"testing"

	"github.com/ksef-sync/ksef-sync/watcher"
)

// TestFileGrowingAfterSettleIsNotClaimed: a file that grew after the watcher saw it hold still is
// left in the outbox (the watcher offers it again); an unchanged one is claimed (issue 11, item 6).
func TestFileGrowingAfterSettleIsNotClaimed(t *testing.T) {
	h := newHarness(t, SendSettings{})
	whole := inv(1, "GROW")
	grow := h.drop("grow.xml", whole[:len(whole)/2])
	still := h.drop("still.xml", inv(2, "GROW"))
	settled := func(p string) watcher.File {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return watcher.File{Path: p, Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime()}
	}
	batch := []watcher.File{settled(grow), settled(still)}
	f, err := os.OpenFile(grow, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(whole[len(whole)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := h.eng.unchanged(batch)
	if len(got) != 1 || got[0].Path != still {
		t.Fatalf("unchanged = %+v, want only still.xml", got)
	}
	ids := h.eng.ClaimOutbox(h.ctx, got)
	if len(ids) != 1 {
		t.Fatalf("claimed %d", len(ids))
	}
	if _, err := os.Stat(grow); err != nil {
		t.Errorf("the growing file left the outbox: %v", err)
	}
}
