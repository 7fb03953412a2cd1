package outboxclaim

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestCopiedStateFolderIsRefused: two processes with one daemon id (a state folder copied to a
// second server) on one outbox. The first takes the owner record; the second is refused with a
// message naming both hosts and state folders, and re-checks only every RefreshEvery. While the
// first refreshes, the second stays refused; once the first stops refreshing for FreshFor, the
// second takes the record over, and the first, coming back, is refused in turn.
func TestCopiedStateFolderIsRefused(t *testing.T) {
	outbox := t.TempDir()
	clk := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	a := NewGuard(outbox, "srv1-3f9a2c1b", Owner{Host: "srv1", StateDir: "/var/lib/a", PID: 1, Instance: "aaaa"}, clk.now)
	b := NewGuard(outbox, "srv1-3f9a2c1b", Owner{Host: "srv2", StateDir: "/var/lib/a", PID: 2, Instance: "bbbb"}, clk.now)
	if err := a.Check(); err != nil {
		t.Fatalf("first owner refused: %v", err)
	}
	var c *Conflict
	if err := b.Check(); !errors.As(err, &c) {
		t.Fatalf("copy not refused: %v", err)
	}
	for _, want := range []string{"srv1", "srv2", "/var/lib/a", "daemon-id", "Stop this daemon", "empty"} {
		if !strings.Contains(c.Error(), want) {
			t.Errorf("message lacks %q: %s", want, c.Error())
		}
	}
	if got, _ := Live(outbox, "srv1-3f9a2c1b", b.me, clk.t); got == nil || got.Other.Host != "srv1" {
		t.Fatalf("Live for the copy = %+v", got)
	}
	if got, _ := Live(outbox, "srv1-3f9a2c1b", a.me, clk.t); got != nil {
		t.Fatalf("Live for the owner = %+v", got)
	}

	for range 5 { // the owner keeps refreshing: the copy stays out
		clk.t = clk.t.Add(RefreshEvery)
		if err := a.Check(); err != nil {
			t.Fatal(err)
		}
		if err := b.Check(); !errors.As(err, &c) {
			t.Fatalf("copy let in while the owner lives: %v", err)
		}
	}

	clk.t = clk.t.Add(FreshFor) // the owner stopped: its record goes stale and is taken over
	if err := b.Check(); err != nil {
		t.Fatalf("stale record not taken over: %v", err)
	}
	if rec, _ := ReadOwner(outbox, "srv1-3f9a2c1b"); rec == nil || rec.Instance != "bbbb" || !rec.Updated.Equal(clk.t) {
		t.Fatalf("record = %+v", rec)
	}
	clk.t = clk.t.Add(RefreshEvery)
	if err := a.Check(); !errors.As(err, &c) || c.Other.Host != "srv2" {
		t.Fatalf("old owner back: %v", err)
	}
	leftovers, _ := os.ReadDir(Dir(outbox, "")) // .ksef-sync: only the record, no temporaries
	if len(leftovers) != 1 || leftovers[0].Name() != "srv1-3f9a2c1b"+OwnerSuffix {
		t.Fatalf(".ksef-sync holds %v", leftovers)
	}
}

// TestSameDaemonRestartAndTies: the same host and state folder restarting (a new instance, record
// still fresh) claims at once; of two copies starting at once on an outbox without a record,
// exactly one gets it (exclusive create); a torn record is taken over; a missing outbox is an
// error, never created.
func TestSameDaemonRestartAndTies(t *testing.T) {
	outbox := t.TempDir()
	clk := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	me := Owner{Host: "srv1", StateDir: "/s", Instance: "one"}
	if err := NewGuard(outbox, "id1", me, clk.now).Check(); err != nil {
		t.Fatal(err)
	}
	me.Instance = "two"
	clk.t = clk.t.Add(time.Second)
	if err := NewGuard(outbox, "id1", me, clk.now).Check(); err != nil {
		t.Fatalf("restart refused: %v", err)
	}

	x := NewGuard(outbox, "id2", Owner{Host: "h1", StateDir: "/s", Instance: "x"}, clk.now)
	y := NewGuard(outbox, "id2", Owner{Host: "h2", StateDir: "/s", Instance: "y"}, clk.now)
	errX, errY := x.Check(), y.Check()
	if (errX == nil) == (errY == nil) {
		t.Fatalf("both or neither own the id: %v / %v", errX, errY)
	}

	if err := os.WriteFile(OwnerPath(outbox, "id3"), []byte("{tor"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewGuard(outbox, "id3", me, clk.now).Check(); err != nil {
		t.Fatalf("torn record not taken over: %v", err)
	}

	gone := NewGuard(outbox+"/missing", "id1", me, clk.now)
	if err := gone.Check(); err == nil {
		t.Fatal("missing outbox: no error")
	}
	if _, err := os.Stat(outbox + "/missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the guard created a missing outbox")
	}
}
