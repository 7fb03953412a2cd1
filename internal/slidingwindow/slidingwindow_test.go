package slidingwindow

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestReserveHonoursEveryWindow(t *testing.T) {
	l := New(Window{time.Second, 2}, Window{time.Minute, 3})
	for i, want := range []time.Duration{0, 0} {
		if got := l.Reserve(t0); got != want {
			t.Fatalf("reserve %d: got %v, want %v", i, got, want)
		}
	}
	// per-second window full: wait until the first event leaves it
	if got := l.Reserve(t0); got != time.Second+time.Millisecond {
		t.Fatalf("third reserve in the same second: got %v", got)
	}
	if got := l.Reserve(t0.Add(2 * time.Second)); got != 0 {
		t.Fatalf("after a second: got %v", got)
	}
	// per-minute window (3) now full
	if got, want := l.Reserve(t0.Add(3*time.Second)), time.Minute-3*time.Second+time.Millisecond; got != want {
		t.Fatalf("minute window: got %v, want %v", got, want)
	}
	if got := l.Available(t0.Add(3 * time.Second)); got != 0 {
		t.Fatalf("available: got %d, want 0", got)
	}
	if got := l.Available(t0.Add(time.Minute + time.Second)); got != 2 {
		t.Fatalf("available after the first left: got %d, want 2", got)
	}
}

func TestNoLimitsNeverWaits(t *testing.T) {
	l := New(Window{time.Hour, 0})
	for i := 0; i < 1000; i++ {
		if d := l.Reserve(t0); d != 0 {
			t.Fatalf("waited %v without limits", d)
		}
	}
	if len(l.Events(t0)) != 0 {
		t.Fatal("a log without limits should remember nothing")
	}
}

func TestSaveAndRestoreKeepsTheBudget(t *testing.T) {
	a := New(Window{time.Hour, 2})
	a.Add(t0.Add(-30 * time.Minute))
	a.Add(t0.Add(-90 * time.Minute)) // already outside the hour
	a.Add(t0.Add(-10 * time.Minute))
	saved := a.Events(t0)
	if len(saved) != 2 {
		t.Fatalf("saved %d events, want 2", len(saved))
	}
	b := New(Window{time.Hour, 2})
	b.Restore(saved)
	if got, want := b.Wait(t0), 30*time.Minute+time.Millisecond; got != want {
		t.Fatalf("restored log: wait %v, want %v", got, want)
	}
}

func TestSetWindowsKeepsHistory(t *testing.T) {
	l := New(Window{time.Minute, 10})
	for i := 0; i < 5; i++ {
		l.Add(t0)
	}
	l.SetWindows(Window{time.Minute, 5})
	if l.Available(t0) != 0 {
		t.Fatal("lowered limit did not count the history")
	}
}
