package availability

import (
	"context"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/spool"
)

// restarted is a new tracker (a new process) that restores what t saved, passing it through its
// JSON form as the journal keeps it.
func restarted(t *testing.T, from *Tracker, opts Options, client *Client) *Tracker {
	t.Helper()
	s, err := UnmarshalSaved(MarshalSaved(from.Save()))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(client, opts)
	tr.Restore(s)
	return tr
}

// TestRestartKeepsTheOutage: a process that stops during an announced failure and one that never
// stopped agree, after the failure ends, on the mode and outage of an invoice claimed during it and
// on the failures that move deadlines. Before the restarted process asks the status service, a
// KSeF answer does not end the announced failure.
func TestRestartKeepsTheOutage(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		steady := checkedTracker(t, sim)
		time.Sleep(time.Hour)
		if err := sim.AnnounceLatarnia("FAILURE", "Awaria", "KSeF nie działa."); err != nil {
			t.Fatal(err)
		}
		if err := steady.Check(ctx); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		time.Sleep(10 * time.Minute)
		claimed := time.Now()
		time.Sleep(10 * time.Minute)

		again := restarted(t, steady, Options{}, memClient(sim))
		if s := again.Snapshot(); s.State != Failure || !s.Since.Equal(began) || s.Announced != StatusFailure || s.Text() != "Awaria: KSeF nie działa." {
			t.Fatalf("restored snapshot %+v", s)
		}
		again.Observe(true, nil, time.Now())
		if s := again.Snapshot(); s.State != Failure {
			t.Fatalf("a KSeF answer before the status service was asked ended the failure: %s", s.State)
		}
		if err := again.Check(ctx); err != nil { // still announced: the same outage goes on
			t.Fatal(err)
		}
		if c := again.ModeAt(claimed); c.Mode != offline.Failure || !c.Outage.Start.Equal(began) || !c.Outage.End.IsZero() {
			t.Fatalf("ModeAt while the failure lasts = %+v", c)
		}

		time.Sleep(time.Hour)
		if err := sim.AnnounceLatarnia("AVAILABLE", "", ""); err != nil {
			t.Fatal(err)
		}
		for _, tr := range []*Tracker{steady, again} {
			if err := tr.Check(ctx); err != nil {
				t.Fatal(err)
			}
		}
		want, got := steady.ModeAt(claimed), again.ModeAt(claimed)
		if !got.Offline || got.Mode != offline.Failure || !got.Outage.End.Equal(time.Now()) ||
			got.Mode != want.Mode || got.Text != want.Text || !samePeriods([]offline.Period{got.Outage}, []offline.Period{want.Outage}) {
			t.Errorf("after the restart ModeAt = %+v, without it %+v", got, want)
		}
		if got, want := again.Failures(), steady.Failures(); !samePeriods(got, want) || len(got) != 1 {
			t.Errorf("Failures after the restart %v, without it %v", got, want)
		}
	})
}

// TestRestartKeepsAnUnannouncedOutage: an outage we only observed goes on after a restart until a
// KSeF request succeeds, though the status service says AVAILABLE, as it would have.
func TestRestartKeepsAnUnannouncedOutage(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		steady := NewTracker(memClient(sim), Options{FailThreshold: 2})
		if err := steady.Check(ctx); err != nil {
			t.Fatal(err)
		}
		first := time.Now()
		steady.Observe(false, errConn, first)
		steady.Observe(false, errConn, first.Add(time.Second))
		if s := steady.Snapshot(); s.State != Unannounced {
			t.Fatalf("state %s", s.State)
		}
		time.Sleep(time.Minute)
		again := restarted(t, steady, Options{FailThreshold: 2}, memClient(sim))
		if err := again.Check(ctx); err != nil {
			t.Fatal(err)
		}
		if s := again.Snapshot(); s.State != Unannounced || !s.Since.Equal(first) {
			t.Fatalf("after the status service's AVAILABLE: %+v", s)
		}
		back := time.Now()
		again.Observe(true, nil, back)
		if c := again.ModeAt(first.Add(time.Second)); c.Mode != offline.Offline24 || !c.Outage.Start.Equal(first) || !c.Outage.End.Equal(back) {
			t.Errorf("ModeAt = %+v", c)
		}
	})
}

// TestRestoreKeepsWhatThisProcessSaw: states seen before the saved history was restored win; the
// saved ones before them are kept and closed at the first new one.
func TestRestoreKeepsWhatThisProcessSaw(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	saved := Saved{History: []Segment{
		{State: Available, Start: t0, End: t0.Add(time.Hour)},
		{State: Failure, Start: t0.Add(time.Hour), Text: "Awaria"},
	}, Announced: StatusFailure}
	tr := NewTracker(nil, Options{FailThreshold: 1})
	tr.Observe(false, errConn, t0.Add(3*time.Hour))
	tr.Restore(saved)
	if c := tr.ModeAt(t0.Add(2 * time.Hour)); c.Mode != offline.Failure || !c.Outage.End.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("saved failure: %+v, want closed where this process's first state began", c)
	}
	if c := tr.ModeAt(t0.Add(4 * time.Hour)); c.State != Unannounced {
		t.Errorf("this process's state: %+v", c)
	}
	if s := tr.Snapshot(); s.State != Unannounced {
		t.Errorf("snapshot %s, want this process's own", s.State)
	}
}

// TestKeptInTheJournal: KeepIn saves every change in a real journal, a new tracker on the reopened
// journal gets it back, and FailuresIn (what status reads) sees the same failures.
func TestKeptInTheJournal(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	j, err := spool.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	first := NewTracker(nil, Options{FailThreshold: 1})
	first.KeepIn(ctx, j, log)
	first.Observe(false, errConn, t0)
	first.Observe(true, nil, t0.Add(time.Hour))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if j, err = spool.Open(ctx, dir, nil); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	second := NewTracker(nil, Options{})
	second.KeepIn(ctx, j, log)
	if got, want := second.Save(), first.Save(); len(got.History) != 2 || len(want.History) != 2 ||
		!samePeriods([]offline.Period{got.History[0].period(), got.History[1].period()}, []offline.Period{want.History[0].period(), want.History[1].period()}) {
		t.Errorf("restored history %+v, saved %+v", got.History, want.History)
	}
	if c := second.ModeAt(t0.Add(time.Minute)); c.Mode != offline.Offline24 || !c.Outage.End.Equal(t0.Add(time.Hour)) {
		t.Errorf("ModeAt after reopening = %+v", c)
	}
	failure := Saved{History: []Segment{{State: Failure, Start: t0, End: t0.Add(time.Hour)}}}
	if got := FailuresIn(MarshalSaved(failure)); len(got) != 1 || !got[0].Start.Equal(t0) || !got[0].End.Equal(t0.Add(time.Hour)) {
		t.Errorf("FailuresIn = %v", got)
	}
	if got := FailuresIn("{not json"); got != nil {
		t.Errorf("FailuresIn of garbage = %v", got)
	}
}

// samePeriods compares periods as instants (a saved time has no monotonic reading).
func samePeriods(a, b []offline.Period) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Start.Equal(b[i].Start) || !a[i].End.Equal(b[i].End) {
			return false
		}
	}
	return true
}

// TestRestoreWithoutAStatusService: a saved announced failure is not continued by a tracker that
// has no status service to ask (the configuration changed): it would hold the queue, and make
// every later claim offline, for ever. It stays in the history, ended when it was restored.
func TestRestoreWithoutAStatusService(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	restored := t0.Add(time.Hour)
	tr := NewTracker(nil, Options{Now: func() time.Time { return restored }})
	tr.Restore(Saved{History: []Segment{{State: Failure, Start: t0}}, Announced: StatusFailure})
	if s := tr.Snapshot(); s.State != Unknown {
		t.Fatalf("restored state %s, want unknown", s.State)
	}
	if fs := tr.Failures(); len(fs) != 1 || !fs[0].End.Equal(restored) {
		t.Errorf("Failures = %v, want the saved one ended when restored", fs)
	}
	if c := tr.ModeAt(restored.Add(time.Minute)); c.Offline {
		t.Errorf("a claim after the restore: %+v, want online", c)
	}
	if c := tr.ModeAt(t0.Add(time.Minute)); c.Mode != offline.Failure {
		t.Errorf("a claim during the saved failure: %+v", c)
	}
}

// TestTotalFailureLiftsARunningDeadline: a total failure announced while an offline invoice's
// deadline runs lifts the obligation to send it (tryby-offline.md), for the daemon's tracker and
// after a restart from what it saved (status and the notifications read that).
func TestTotalFailureLiftsARunningDeadline(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		tr := checkedTracker(t, sim)
		inv := &spool.Invoice{OfflineMode: string(offline.Offline24), IssueDate: time.Now().In(offline.Warsaw).Format("2006-01-02"), CreatedAt: time.Now()}
		anHourLater(t, sim, "TOTAL_FAILURE", tr)
		anHourLater(t, sim, "AVAILABLE", tr)
		for name, failures := range map[string][]offline.Period{"tracker": tr.Failures(), "restarted": restarted(t, tr, Options{}, memClient(sim)).Failures()} {
			if d, err := Deadline(inv, failures); err != nil || !d.None {
				t.Errorf("%s: deadline %v (%v), want no obligation after a total failure announced while it ran", name, d, err)
			}
		}
	})
}

// TestOutageEndsWhenAnnouncedThoughNobodyWatched: a daemon stopped during an announced failure and
// started hours after it ended counts the failure's deadlines from the end the status service
// announced, not from when it looked again (tryby-offline.md: "od zakończenia awarii").
func TestOutageEndsWhenAnnouncedThoughNobodyWatched(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		tr := checkedTracker(t, sim)
		anHourLater(t, sim, "FAILURE", tr)
		anHourLater(t, sim, "AVAILABLE", nil) // the daemon is stopped
		ended := time.Now()
		time.Sleep(5 * time.Hour)
		again := restarted(t, tr, Options{}, memClient(sim))
		if err := again.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := again.Snapshot(); s.State != Available || !s.Since.Equal(ended) {
			t.Errorf("after the restart: %s since %v, want available since the announced end %v", s.State, s.Since, ended)
		}
		if f := again.Failures(); len(f) != 1 || !f[0].End.Equal(ended) {
			t.Errorf("failures %v, want one ending at %v", f, ended)
		}
	})
}

// checkedTracker is a tracker of sim's status service that has asked it once.
func checkedTracker(t *testing.T, sim *ksefsim.Server) *Tracker {
	t.Helper()
	tr := NewTracker(memClient(sim), Options{})
	if err := tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// anHourLater lets an hour pass, then has sim announce status and tr (unless nil) hear it.
func anHourLater(t *testing.T, sim *ksefsim.Server, status string, tr *Tracker) {
	t.Helper()
	time.Sleep(time.Hour)
	if err := sim.AnnounceLatarnia(status, "Awaria", "KSeF nie działa."); err != nil {
		t.Fatal(err)
	}
	if tr == nil {
		return
	}
	if err := tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}
