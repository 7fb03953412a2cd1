package status

import (
	"context"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

// TestOfflineDeadlineMovedByAnnouncedFailure: a FAILURE announced while an offline24 deadline runs
// moves it to 7 business days after the failure ends. `status` (another process, reading the
// journal) shows the same deadline the daemon's engine computes from its tracker: both call
// availability.Deadline, status with the failures the tracker saved in the journal.
func TestOfflineDeadlineMovedByAnnouncedFailure(t *testing.T) {
	ctx := context.Background()
	const nip = "5265877635"
	j, _ := spooltest.ReadyOffline(t, t.TempDir(), nip, "2026-06-01")
	at := func(day string, h int) time.Time {
		d, _ := time.ParseInLocation("2006-01-02", day, offline.Warsaw)
		return d.Add(time.Duration(h) * time.Hour)
	}
	now := at("2026-06-03", 9) // the unmoved deadline, 2 June, has passed

	got, _, err := offlineInvoices(ctx, j, nip, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Deadline != "2026-06-02" || got[0].Warning != "deadline missed" {
		t.Fatalf("without a failure: %+v, want 2026-06-02, missed", got)
	}

	// The daemon's tracker saw a FAILURE from 1 June 10:00 to 2 June 8:00 and saved it.
	tr := availability.NewTracker(nil, availability.Options{})
	tr.Restore(availability.Saved{History: []availability.Segment{
		{State: availability.Available, Start: at("2026-05-30", 0), End: at("2026-06-01", 10)},
		{State: availability.Failure, Start: at("2026-06-01", 10), End: at("2026-06-02", 8)},
		{State: availability.Available, Start: at("2026-06-02", 8)}}})
	must(t, j.SetMeta(ctx, availability.MetaKey, availability.MarshalSaved(tr.Save())))
	got, _, err = offlineInvoices(ctx, j, nip, now)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := j.OfflinePending(ctx, nip)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := availability.Deadline(&pending[0], tr.Failures()) // what the engine computes
	if err != nil {
		t.Fatal(err)
	}
	// 7 business days after 2 June: 4 June (Corpus Christi) skipped.
	if len(got) != 1 || got[0].Deadline != "2026-06-12" || got[0].Warning != "" || engine.String() != got[0].Deadline {
		t.Fatalf("with the failure: %+v, engine's deadline %s; want both 2026-06-12, no warning", got, engine)
	}
}

// TestAvailabilityLineLanguage: the availability line of `status` and the page is Polish by
// default and English with language = "en" (issue 11 §4); KSeF's announcement is passed on as is.
func TestAvailabilityLineLanguage(t *testing.T) {
	a := &Availability{State: "failure", Since: "2026-12-02T14:30:00Z", Announcement: "Trwa awaria systemu KSeF",
		Summary: "failure announced since 2026-12-02 15:30 (Warsaw): Trwa awaria systemu KSeF"}
	for _, c := range []struct {
		lang msg.Lang
		a    *Availability
		want string
	}{
		{"", a, "ogłoszona awaria od 2026-12-02 15:30 (czas warszawski): Trwa awaria systemu KSeF"},
		{msg.EN, a, "failure announced since 2026-12-02 15:30 (Warsaw): Trwa awaria systemu KSeF"},
		{"", &Availability{State: "available", Since: "2026-07-01T10:00:00Z", StatusError: "HTTP 503"},
			"dostępny od 2026-07-01 12:00 (czas warszawski); serwis statusowy: HTTP 503"},
		{"", &Availability{State: "unknown"}, "nieznana (brak jeszcze wiadomości od KSeF i jego serwisu statusowego)"},
		{"", nil, "nieznana (żaden działający proces nie obserwuje serwisu statusowego KSeF)"},
		{msg.EN, nil, "unknown (no running daemon is watching KSeF's status service)"},
	} {
		if got := AvailabilityLine(c.lang, c.a); got != c.want {
			t.Errorf("%q %+v: %q, want %q", c.lang, c.a, got, c.want)
		}
	}
}
