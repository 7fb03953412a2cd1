package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/offline"
)

// offlineDeadlines sends offline_deadline once when an offline invoice's legal sending deadline is
// less than one business day away and once more when it is missed (tryby-offline.md; the engine
// logs the same). The journal is read at most once a minute.
func (w *Watch) offlineDeadlines(ctx context.Context, nip string, now time.Time) error {
	if now.Before(w.deadlinesAt[nip]) {
		return nil
	}
	if w.deadlinesAt == nil {
		w.deadlinesAt, w.deadlineTold = map[string]time.Time{}, map[int64]int{}
	}
	w.deadlinesAt[nip] = now.Add(time.Minute)
	pending, err := w.Journal.OfflinePending(ctx, nip)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	failures := availability.JournalFailures(ctx, w.Journal) // the daemon's tracker saves them on every change
	for i := range pending {
		inv := &pending[i]
		d, err := availability.Deadline(inv, failures)
		if err != nil {
			continue
		}
		level, text := 0, ""
		switch {
		case offline.Missed(d, now):
			level, text = 2, fmt.Sprintf("offline invoice %s (%s mode) MISSED its legal deadline %s for reaching KSeF", inv.InvoiceNumber, inv.OfflineMode, d)
		case offline.LessThanOneBusinessDayLeft(d, now):
			level, text = 1, fmt.Sprintf("offline invoice %s (%s mode) must reach KSeF today, %s (its legal deadline)", inv.InvoiceNumber, inv.OfflineMode, d)
		}
		if level <= w.deadlineTold[inv.ID] {
			continue
		}
		w.deadlineTold[inv.ID] = level
		w.Notifier.Add(Event{Kind: OfflineDeadline, Company: nip, File: inv.FileName, Text: text, Time: now})
	}
	return nil
}
