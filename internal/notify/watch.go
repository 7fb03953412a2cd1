package notify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/spool"
)

// Watch turns what the journal shows into events: new rejections, invoices KSeF has not finished
// send_timeout after they were sent, and credentials nearing their expiry. Polling the journal keeps
// the engine untouched and sees what every process (daemon, `send`) records.
type Watch struct {
	Journal     *spool.Journal
	NIPs        []string
	SendTimeout time.Duration
	Every       time.Duration // poll interval; 2 s when 0
	CredsExpire time.Time     // zero when unknown
	Now         func() time.Time
	Notifier    *Notifier
	// Outbox and Patterns: files matching a pattern that stay in the outbox for OutboxStall (10
	// minutes when 0) could not be claimed: stalled.
	Outbox      string
	Patterns    []string
	OutboxStall time.Duration
	// OnError reports a failed poll (the journal busy or gone); the next poll retries.
	OnError func(error)

	since   time.Time
	seen    map[int64]bool
	stalled map[int64]bool
	credsAt int // the last credentials_expiring threshold told (days)

	outboxAt   time.Time
	outboxSeen map[string]time.Time // name → mtime already reported

	deadlinesAt  map[string]time.Time // per NIP: next look at offline deadlines (deadline.go)
	deadlineTold map[int64]int        // per invoice: 1 due today told, 2 missed told
}

// ExpiryWarnings are the days before expiry at which credentials_expiring is sent.
var ExpiryWarnings = []int{30, 7, 1}

// Run polls until ctx ends. Rejections recorded before Run started are not reported again.
func (w *Watch) Run(ctx context.Context) {
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Every <= 0 {
		w.Every = 2 * time.Second
	}
	w.since, w.seen, w.stalled = w.Now(), map[int64]bool{}, map[int64]bool{}
	w.prime(ctx)
	t := time.NewTicker(w.Every)
	defer t.Stop()
	for {
		if err := w.Poll(ctx); err != nil && ctx.Err() == nil && w.OnError != nil {
			w.OnError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll looks once.
func (w *Watch) Poll(ctx context.Context) error {
	now := w.Now()
	w.credentials(now)
	w.outbox(now)
	for _, nip := range w.NIPs {
		if err := w.rejections(ctx, nip); err != nil {
			return err
		}
		if err := w.stalledInvoices(ctx, nip, now); err != nil {
			return err
		}
		if err := w.offlineDeadlines(ctx, nip, now); err != nil {
			return err
		}
	}
	return nil
}

// prime marks the rejections inside the first overlap as seen: they happened before this run.
func (w *Watch) prime(ctx context.Context) {
	for _, nip := range w.NIPs {
		rej, _ := w.Journal.RejectionsSince(ctx, nip, w.since.Add(-overlap), 100000)
		for _, r := range rej {
			w.seen[r.ID] = true
		}
	}
}

// overlap re-reads a little of the past: a transaction that committed late may carry an earlier
// updated_at than the newest row already seen. seen keeps every ID reported once.
const overlap = time.Minute

func (w *Watch) rejections(ctx context.Context, nip string) error {
	for {
		rej, err := w.Journal.RejectionsSince(ctx, nip, w.since.Add(-overlap), 1000)
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		fresh := 0
		for i := range rej {
			r := &rej[i]
			if r.UpdatedAt.After(w.since) {
				w.since = r.UpdatedAt
			}
			if w.seen[r.ID] {
				continue
			}
			w.seen[r.ID] = true
			fresh++
			code := r.ErrKind
			if r.ErrStage != "validation" {
				code = fmt.Sprint(r.ErrCode)
			}
			w.Notifier.Add(Event{Kind: Rejected, Company: nip, File: r.FileName, Code: code, Text: r.ErrDescription, Time: r.UpdatedAt})
		}
		if len(rej) < 1000 || fresh == 0 {
			return nil
		}
	}
}

func (w *Watch) stalledInvoices(ctx context.Context, nip string, now time.Time) error {
	if w.SendTimeout <= 0 {
		return nil
	}
	st, err := w.Journal.Stalled(ctx, nip, now.Add(-w.SendTimeout), 1000)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	for _, inv := range st {
		if w.stalled[inv.ID] {
			continue
		}
		w.stalled[inv.ID] = true
		w.Notifier.Add(Event{Kind: Stalled, Company: nip, File: inv.FileName, Time: now,
			Text: fmt.Sprintf("KSeF has not finished it %s after it was sent (state %s, session %s)",
				now.Sub(inv.UpdatedAt).Round(time.Minute), inv.State, inv.SessionRef)})
	}
	return nil
}

func (w *Watch) credentials(now time.Time) {
	if w.CredsExpire.IsZero() {
		return
	}
	left := w.CredsExpire.Sub(now)
	crossed := 0
	for _, days := range ExpiryWarnings {
		if left <= time.Duration(days)*24*time.Hour {
			crossed = days
		}
	}
	if crossed == 0 || (w.credsAt != 0 && crossed >= w.credsAt) {
		return
	}
	w.credsAt = crossed
	days := int(left.Hours() / 24)
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	text := fmt.Sprintf("the KSeF credentials are due to stop working on %s (in %d %s)", w.CredsExpire.Format("2006-01-02"), days, unit)
	if left <= 0 {
		text = "the KSeF credentials were due to stop working on " + w.CredsExpire.Format("2006-01-02") + ": check that the login still works (ksef-sync auth check)"
	}
	w.Notifier.Add(Event{Kind: CredentialsExpiring, Text: text, Time: now})
}

// outbox lists the outbox at most once a minute (it may be a share) for files nobody claimed.
func (w *Watch) outbox(now time.Time) {
	if w.Outbox == "" || now.Sub(w.outboxAt) < time.Minute {
		return
	}
	w.outboxAt = now
	stall := w.OutboxStall
	if stall <= 0 {
		stall = 10 * time.Minute
	}
	if w.outboxSeen == nil {
		w.outboxSeen = map[string]time.Time{}
	}
	entries, err := os.ReadDir(w.Outbox)
	if err != nil {
		return // the engine reports an unreadable outbox itself
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !w.matches(e.Name()) || now.Sub(info.ModTime()) < stall {
			continue
		}
		if seen, ok := w.outboxSeen[e.Name()]; ok && seen.Equal(info.ModTime()) {
			continue
		}
		w.outboxSeen[e.Name()] = info.ModTime()
		w.Notifier.Add(Event{Kind: Stalled, File: e.Name(), Time: now,
			Text: fmt.Sprintf("still in the outbox %s after it was written: it could not be claimed (locked or unreadable?)", now.Sub(info.ModTime()).Round(time.Minute))})
	}
}

func (w *Watch) matches(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") || strings.HasSuffix(lower, ".tmp") || strings.HasSuffix(lower, ".part") {
		return false
	}
	for _, p := range w.Patterns {
		if ok, _ := filepath.Match(strings.ToLower(p), lower); ok {
			return true
		}
	}
	return false
}
