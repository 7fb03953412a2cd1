package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

// TestOfflineDeadlineEvent: a real journal with an offline24 invoice issued on a Friday before
// Easter 2026: its deadline is Tuesday 7 April (Easter Monday is free). offline_deadline is told once
// on the day, once more when it is missed, never on the days before.
func TestOfflineDeadlineEvent(t *testing.T) {
	ctx := context.Background()
	const nip = "5265877635"
	j, _ := spooltest.ReadyOffline(t, t.TempDir(), nip, "2026-04-03")
	n := New(Options{})
	now := time.Date(2026, 4, 6, 12, 0, 0, 0, offline.Warsaw) // Easter Monday
	w := &Watch{Journal: j, NIPs: []string{nip}, Notifier: n, Now: func() time.Time { return now },
		since: now, seen: map[int64]bool{}, stalled: map[int64]bool{}} // as Run starts it
	var told []string
	for _, at := range []time.Time{now, now.Add(20 * time.Hour), now.Add(22 * time.Hour), now.Add(40 * time.Hour), now.Add(50 * time.Hour)} {
		now = at
		if err := w.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range n.pending {
		if e.Kind == OfflineDeadline {
			told = append(told, e.Time.In(offline.Warsaw).Format("01-02 15h")+" "+e.Text)
		}
	}
	if len(told) != 2 || !strings.HasPrefix(told[0], "04-07 08h") || !strings.Contains(told[0], "today, 2026-04-07") ||
		!strings.HasPrefix(told[1], "04-08 04h") || !strings.Contains(told[1], "MISSED") {
		t.Errorf("told:\n%s\nwant due today on 7 April and missed on 8 April", strings.Join(told, "\n"))
	}

	// A FAILURE announced while that deadline ran, as the daemon's tracker saved it, moves the
	// deadline to 7 business days after the failure ends: 8 April is no longer past it.
	failure := availability.Saved{History: []availability.Segment{{State: availability.Failure,
		Start: time.Date(2026, 4, 7, 10, 0, 0, 0, offline.Warsaw), End: time.Date(2026, 4, 7, 18, 0, 0, 0, offline.Warsaw)}}}
	if err := j.SetMeta(ctx, availability.MetaKey, availability.MarshalSaved(failure)); err != nil {
		t.Fatal(err)
	}
	n = New(Options{})
	w = &Watch{Journal: j, NIPs: []string{nip}, Notifier: n, Now: func() time.Time { return now },
		since: now, seen: map[int64]bool{}, stalled: map[int64]bool{}}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range n.pending {
		if e.Kind == OfflineDeadline {
			t.Errorf("told %q although the failure moved the deadline to 16 April", e.Text)
		}
	}
}
