package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
)

// TestPullOneOffBareDatesAreDaysInPoland drives `pull -since D1 -until D2 -out DIR` with bare dates,
// as README's Commands table shows them: the range is every invoice stored from the start of D1 to
// the end of D2 in Poland, the days the inbox's {yyyy}/{mm} folders count in. Read as UTC midnights,
// -until left out the whole last day and -since the first hour of the first one.
func TestPullOneOffBareDatesAreDaysInPoland(t *testing.T) {
	p := newPullE2E(t, 0, time.Now().AddDate(0, 0, -40), "")
	n := time.Now().In(plzone.Warsaw).AddDate(0, 0, -20)
	last := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, plzone.Warsaw) // D2, midnight in Poland
	first := last.AddDate(0, 0, -2)                                            // D1
	at := func(day time.Time, h, m int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}

	want := p.seed("sales", []time.Time{
		at(first, 0, 30), // the first half hour of D1 in Poland: still D1-1 in UTC
		at(last, 12, 0),  // midday of the last day
		at(last, 23, 30), // the last half hour of D2 in Poland
	})
	p.seed("sales", []time.Time{
		at(first, -1, 0),                 // 23:00 the day before D1
		at(last.AddDate(0, 0, 1), 0, 30), // after D2 in Poland, though still D2 in UTC
	})
	out := filepath.Join(p.dir, "redownload")
	res := p.pull(pullHangGuard, "-since", first.Format("2006-01-02"), "-until", last.Format("2006-01-02"), "-out", out)
	if !strings.Contains(res, "written: 3\n") {
		t.Errorf("one-off output:\n%s", res)
	}
	assertPullInbox(t, out, want)
	assertPullInbox(t, p.inbox, nil)
}
