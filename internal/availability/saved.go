package availability

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/spool"
)

// MetaKey is the journal meta key under which the daemon keeps the tracker's Saved memory: the
// daemon restores it at start-up, and `status` and the notifications read the announced failures
// from it, so every process computes the same deadlines.
const MetaKey = "ksef_availability"

// Saved is what the tracker must remember across a restart (issue 14): the states it saw with
// their times, so that an invoice claimed during an outage but validated after a restart is still
// issued offline in the same mode, and deadlines keep counting from the same outage ends and
// failures; and the announcement in force, so the state holds until the status service is asked
// again (a KSeF answer in between must not end an announced failure).
type Saved struct {
	History   []Segment `json:"history"`
	Announced Status    `json:"announced,omitempty"`
	Messages  []Message `json:"messages,omitempty"`
}

// Save returns the tracker's memory.
func (t *Tracker) Save() Saved {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Saved{History: slices.Clone(t.history), Announced: t.snap.Announced, Messages: slices.Clone(t.snap.Messages)}
}

// Persist has save called with the tracker's memory after every change of state, in order, from
// the goroutine that caused the change. Call it once, before Run.
func (t *Tracker) Persist(save func(Saved)) {
	t.persistMu.Lock()
	defer t.persistMu.Unlock()
	t.persist = save
}

func (t *Tracker) save() {
	t.persistMu.Lock()
	defer t.persistMu.Unlock()
	if t.persist != nil {
		t.persist(t.Save())
	}
}

// Restore takes back what an earlier process saved; call it before Run. When the saved history
// ends in a current state, the tracker goes on in that state from its saved start, as if it had
// never stopped: the status service's next answer continues it or ends it, at the end its
// announcements give (announcedEnd) or else at that answer, exactly as it would have without the
// restart. An outage we observed ourselves (unannounced) goes on until
// a KSeF request succeeds, as it would have. What this process has seen already wins over the
// saved history from its first state on. Without a status service to ask, a saved announcement is
// history only, ended now: the state starts unknown.
func (t *Tracker) Restore(s Saved) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.history) > 0 {
		t.history = t.capped(append(savedBefore(s.History, t.history[0].Start), t.history...))
		return
	}
	t.history = t.capped(slices.Clone(s.History))
	if n := len(t.history); n > 0 && t.history[n-1].End.IsZero() {
		t.continueFrom(&t.history[n-1], s)
	}
}

// savedBefore is the saved history before first, its last segment ending there at the latest.
func savedBefore(saved []Segment, first time.Time) []Segment {
	n := 0
	for n < len(saved) && saved[n].Start.Before(first) {
		n++
	}
	out := slices.Clone(saved[:n])
	if n > 0 && (out[n-1].End.IsZero() || out[n-1].End.After(first)) {
		out[n-1].End = first
	}
	return out
}

// continueFrom makes the saved current segment last this process's state. Callers hold mu.
func (t *Tracker) continueFrom(last *Segment, s Saved) {
	if t.client == nil && last.State != Unannounced && last.State != Available {
		// An announcement nobody will ask about again (the status service is no longer
		// configured) must not hold the queue, nor make later claims offline, for ever: it ended
		// at the latest now.
		last.End = t.opts.Now()
		return
	}
	t.snap.State, t.snap.Since = last.State, last.Start
	t.snap.Announced, t.snap.Messages = s.Announced, slices.Clone(s.Messages)
	if last.State == Unannounced {
		t.snap.Failures, t.snap.FailingSince = t.opts.FailThreshold, last.Start
	}
}

// capped keeps the newest Options.History segments.
func (t *Tracker) capped(h []Segment) []Segment {
	if len(h) > t.opts.History {
		return h[len(h)-t.opts.History:]
	}
	return h
}

// MarshalSaved is the meta value of s.
func MarshalSaved(s Saved) string {
	b, _ := json.Marshal(s) // plain data: cannot fail
	return string(b)
}

// UnmarshalSaved reads a meta value; an unreadable one is an error, for the caller to log.
func UnmarshalSaved(v string) (Saved, error) {
	var s Saved
	err := json.Unmarshal([]byte(v), &s)
	return s, err
}

// FailuresIn returns the announced failures of a saved meta value, for offline.ForInvoice in a
// process that has no tracker (status, notifications); none when it is empty or unreadable.
func FailuresIn(v string) []offline.Period {
	if v == "" {
		return nil
	}
	s, err := UnmarshalSaved(v)
	if err != nil {
		return nil
	}
	return failures(s.History)
}

// Deadline is the legal sending deadline of an offline invoice as the journal records it (mode,
// P_1, claim time, the outage it counts from), moved by the announced failures known. It is the
// one computation of that deadline: the engine (with its tracker's Failures), `status` and the
// offline_deadline notification (with JournalFailures) all call it, so they never disagree.
func Deadline(inv *spool.Invoice, failures []offline.Period) (offline.Deadline, error) {
	return offline.ForInvoice(inv.OfflineMode, inv.IssueDate, inv.CreatedAt,
		offline.Period{Start: inv.OutageStart, End: inv.OutageEnd}, failures)
}

// JournalFailures returns the announced failures the daemon saved in j, for a process without a
// tracker; none when nothing readable is saved.
func JournalFailures(ctx context.Context, j *spool.Journal) []offline.Period {
	v, _, err := j.Meta(ctx, MetaKey)
	if err != nil {
		return nil
	}
	return FailuresIn(v)
}

// KeepIn restores what an earlier process saved in j (MetaKey) and has every change saved there
// from now on; call it before Run and before the engine validates anything. Without it an invoice
// claimed during an outage but validated after a restart would be issued online, and deadlines
// moved by a failure would fall back after one. A failed save is logged; the next change saves
// again.
func (t *Tracker) KeepIn(ctx context.Context, j *spool.Journal, log *slog.Logger) {
	if v, found, err := j.Meta(ctx, MetaKey); err != nil {
		log.Warn("cannot read the saved KSeF availability history; starting without it", "err", err)
	} else if found {
		if s, err := UnmarshalSaved(v); err != nil {
			log.Warn("ignoring an unreadable saved KSeF availability history", "err", err)
		} else {
			t.Restore(s)
		}
	}
	t.Persist(func(s Saved) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := j.SetMeta(sctx, MetaKey, MarshalSaved(s)); err != nil {
			log.Warn("cannot save KSeF's availability history; a restart now would forget the latest change", "err", err)
		}
	})
}
