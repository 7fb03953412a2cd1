package outboxclaim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func newClaimer(t *testing.T, id string) *Claimer {
	t.Helper()
	c, err := New(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTwoClaimersRaceEachFileOnce: two daemons offered the same 200 files at the same moment, each
// in its own order and one file at a time (as many listings interleaved as possible): every file
// is taken by exactly one of them, with its bytes, and the outbox is empty. Each claimer reads what
// it took and removes it from its claim folder, as the journal's claim does.
func TestTwoClaimersRaceEachFileOnce(t *testing.T) {
	outbox := t.TempDir()
	var paths []string
	for i := range 200 {
		p := filepath.Join(outbox, fmt.Sprintf("FV_%04d.xml", i))
		write(t, p, fmt.Sprintf("<Faktura>%d</Faktura>", i))
		paths = append(paths, p)
	}
	claimers := []*Claimer{newClaimer(t, "host-aaaaaaaa"), newClaimer(t, "host-bbbbbbbb")}
	got := make([][]string, len(claimers))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range claimers {
		order := slices.Clone(paths)
		rand.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		wg.Go(func() {
			<-start
			claim := func(taken []string) {
				for _, p := range taken {
					b, err := os.ReadFile(p)
					if err != nil || !strings.Contains(string(b), "<Faktura>") {
						t.Errorf("%s: claimed bytes %q, %v", p, b, err)
					}
					if err := os.Remove(p); err != nil {
						t.Error(err)
					}
				}
				got[i] = append(got[i], taken...)
			}
			for _, p := range order {
				claim(c.Take([]string{p}))
			}
			claim(c.Take(paths)) // a late full listing takes nothing more
		})
	}
	close(start)
	wg.Wait()

	owner := map[string]string{}
	for i, taken := range got {
		for _, p := range taken {
			name := filepath.Base(p)
			if prev, dup := owner[name]; dup {
				t.Errorf("%s claimed by %s and %s", name, prev, claimers[i].ID())
			}
			owner[name] = claimers[i].ID()
			if filepath.Dir(p) != Dir(outbox, claimers[i].ID()) {
				t.Errorf("%s: claimed path %s is not in %s's claim folder", name, p, claimers[i].ID())
			}
			if Original(p) != filepath.Join(outbox, name) {
				t.Errorf("Original(%s) = %s", p, Original(p))
			}
		}
	}
	if len(owner) != len(paths) {
		t.Errorf("%d of %d files claimed", len(owner), len(paths))
	}
	left, _ := os.ReadDir(outbox)
	for _, de := range left {
		if de.Name() != FolderName {
			t.Errorf("left in the outbox: %s", de.Name())
		}
	}
	t.Logf("claimed: %s %d, %s %d", claimers[0].ID(), len(got[0]), claimers[1].ID(), len(got[1]))
}

// TestHalfDoneClaimIsFinishedFirst: a crash left FV_1.xml in our claim folder (renamed, perhaps
// not yet in the journal). Leftovers finds it. A new FV_1.xml in the outbox is never renamed over
// it: Take hands back the old one to be finished, and the new one waits for the next listing,
// after which it is taken too. Another daemon's folder is listed by Others and never touched.
func TestHalfDoneClaimIsFinishedFirst(t *testing.T) {
	outbox := t.TempDir()
	c := newClaimer(t, "host-aaaaaaaa")
	mine := Dir(outbox, c.ID())
	theirs := Dir(outbox, "standby-bbbbbbbb")
	for _, d := range []string{mine, theirs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(mine, "FV_1.xml"), "old")
	write(t, filepath.Join(theirs, "FV_9.xml"), "theirs")
	write(t, filepath.Join(outbox, "FV_1.xml"), "new")

	left, err := c.Leftovers(outbox)
	if err != nil || len(left) != 1 || left[0] != filepath.Join(mine, "FV_1.xml") {
		t.Fatalf("Leftovers = %v, %v", left, err)
	}
	taken := c.Take([]string{filepath.Join(outbox, "FV_1.xml")})
	if len(taken) != 1 || taken[0] != left[0] {
		t.Fatalf("Take = %v, want the unfinished claim %s", taken, left[0])
	}
	if b, _ := os.ReadFile(left[0]); string(b) != "old" {
		t.Fatalf("the unfinished claim was replaced: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(outbox, "FV_1.xml")); string(b) != "new" {
		t.Fatalf("the new file left the outbox early: %q", b)
	}

	if err := os.Remove(left[0]); err != nil { // the journal finished the old claim
		t.Fatal(err)
	}
	taken = c.Take([]string{filepath.Join(outbox, "FV_1.xml")})
	if b, _ := os.ReadFile(left[0]); len(taken) != 1 || string(b) != "new" {
		t.Fatalf("Take = %v (%q), want the new file claimed", taken, b)
	}

	held, err := Others(outbox, c.ID())
	if err != nil || len(held) != 1 || held[0].Daemon != "standby-bbbbbbbb" || held[0].Files != 1 || held[0].Names[0] != "FV_9.xml" {
		t.Fatalf("Others = %+v, %v", held, err)
	}
	if b, _ := os.ReadFile(filepath.Join(theirs, "FV_9.xml")); string(b) != "theirs" {
		t.Fatal("another daemon's claim was touched")
	}
}

// TestVanishedAndBlockedFiles: a file already gone is skipped; a rename that fails for another
// reason leaves the file in the outbox; a rename that reports the source gone although it happened
// (a replayed request on NFS or SMB) is ours.
func TestVanishedAndBlockedFiles(t *testing.T) {
	outbox := t.TempDir()
	c := newClaimer(t, "host-aaaaaaaa")
	write(t, filepath.Join(outbox, "busy.xml"), "x")
	write(t, filepath.Join(outbox, "replayed.xml"), "x")
	renameFile = func(from, to string) error {
		switch filepath.Base(from) {
		case "busy.xml":
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrPermission}
		case "replayed.xml":
			if err := os.Rename(from, to); err != nil {
				return err
			}
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrNotExist}
		}
		return os.Rename(from, to)
	}
	t.Cleanup(func() { renameFile = renameExclusive })
	got := c.Take([]string{filepath.Join(outbox, "gone.xml"), filepath.Join(outbox, "busy.xml"), filepath.Join(outbox, "replayed.xml")})
	if len(got) != 1 || got[0] != filepath.Join(Dir(outbox, c.ID()), "replayed.xml") {
		t.Fatalf("Take = %v, want only replayed.xml", got)
	}
	if _, err := os.Stat(filepath.Join(outbox, "busy.xml")); err != nil {
		t.Fatalf("the blocked file left the outbox: %v", err)
	}
}

func TestOriginalOutsideClaimFolders(t *testing.T) {
	p := filepath.Join("srv", "outbox", "FV_1.xml")
	if Original(p) != p {
		t.Errorf("Original(%s) = %s", p, Original(p))
	}
}
