package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/engine"
	"github.com/ksef-sync/ksef-sync/internal/status"
)

// newAvailability builds the daemon's view of KSeF's availability: the status service ("Latarnia",
// cfg.StatusBaseURL) asked every ksef.status_interval (5 minutes; every minute while KSeF is not
// usable, and at once when KSeF stops answering), combined with what our own requests see. Every
// change is logged with its announcement text. Its Run is started and waited for by
// observability.start. announced, when not nil, hears every newly announced outage (for the
// notifier).
func newAvailability(cfg *config.Config, log *slog.Logger, announced func(why string)) *availability.Tracker {
	var client *availability.Client
	if base := cfg.StatusBaseURL(); base != "" {
		client = availability.NewClient(base, httpClient(cfg))
	}
	log = log.With("component", "availability")
	return availability.NewTracker(client, availability.Options{
		Interval: cfg.KSeF.StatusInterval.Duration,
		OnChange: func(_, now availability.Snapshot) {
			logAvailability(log, now)
			if announced != nil && now.State != availability.Unannounced && !now.State.Usable() {
				announced("KSeF " + now.String())
			}
		},
	})
}

// logAvailability says a change of KSeF's availability: a warning while invoices cannot be sent.
func logAvailability(log *slog.Logger, s availability.Snapshot) {
	attrs := []any{"state", string(s.State), "since", s.Since.Format(time.RFC3339)}
	if t := s.Text(); t != "" {
		attrs = append(attrs, "announcement", t)
	}
	if s.State.Usable() {
		log.Info("KSeF availability: "+s.String(), attrs...)
		return
	}
	log.Warn("KSeF availability: "+s.String()+"; invoices claimed now are issued offline and sent when KSeF is back", attrs...)
}

// availabilityOf is what status and the status page show of a snapshot.
func availabilityOf(s availability.Snapshot, base string) status.Availability {
	a := status.Availability{State: string(s.State), Announcement: s.Text(), StatusService: base,
		StatusError: s.StatusError, Summary: s.String()}
	if !s.Since.IsZero() {
		a.Since = s.Since.UTC().Format(time.RFC3339)
	}
	if !s.CheckedAt.IsZero() {
		a.CheckedAt = s.CheckedAt.UTC().Format(time.RFC3339)
	}
	return a
}

// trackedAvailability maps a daemon's configuration to its availability tracker, as observed maps
// it to its observer, so the engine built in openDeps asks the same tracker.
var trackedAvailability sync.Map

// availabilityFor returns cfg's daemon's tracker; nil (a nil interface) outside the daemon.
func availabilityFor(cfg *config.Config) engine.Availability {
	if v, ok := trackedAvailability.Load(cfg); ok {
		return v.(*availability.Tracker)
	}
	return nil
}

// runAvailability checks the status service until ctx ends.
func runAvailability(ctx context.Context, t *availability.Tracker) { _ = t.Run(ctx) }

// availabilityFinding is the doctor's line about KSeF's status service: what it announces now,
// since when, with the announcement's text. An announced outage is a problem to know about, not a
// fault of this installation; a status service that does not answer is only information (it has
// been down for hours before, CIRFMF/ksef-latarnia #31), ksef-sync then goes by its own observations.
func availabilityFinding(ctx context.Context, cfg *config.Config) finding {
	base := cfg.StatusBaseURL()
	check := "KSeF status service " + base
	if base == "" {
		return finding{Check: "KSeF status service", Info: "none known for this environment; set ksef.status_url to follow announcements"}
	}
	t := availability.NewTracker(availability.NewClient(base, httpClient(cfg)), availability.Options{})
	if err := t.Check(ctx); err != nil {
		return finding{Check: check, Info: "did not answer usably (" + err.Error() + "); ksef-sync goes by its own observations of KSeF"}
	}
	s := t.Snapshot()
	if !s.State.Usable() {
		return finding{Check: check, Problem: "KSeF " + s.String(),
			Fix: "nothing to fix here: invoices claimed now are issued offline (QR codes at once) and sent when KSeF is back; see `ksef-sync status` for their deadlines"}
	}
	return finding{Check: check, Info: "KSeF " + s.String()}
}

// restoreAvailability gives cfg's daemon's tracker back what the last process saved in the
// journal and has it save every change there from now on (availability.Tracker.KeepIn, issue 14).
func restoreAvailability(ctx context.Context, d *deps) {
	if t, ok := availabilityFor(d.cfg).(*availability.Tracker); ok && d.journal != nil {
		t.KeepIn(ctx, d.journal, d.log.With("component", "availability"))
	}
}
