package availability

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/offline"
)

// State is KSeF's availability as the daemon understands it.
type State string

// The states. The four announced ones come from the status service; Unannounced is our own
// observation: KSeF stops answering while the status service says AVAILABLE or cannot be reached.
const (
	Unknown      State = "unknown" // nothing heard yet
	Available    State = "available"
	Maintenance  State = "maintenance"
	Failure      State = "failure"
	TotalFailure State = "total-failure"
	Unannounced  State = "unavailable-not-announced"
)

// Usable reports whether invoices can be sent to KSeF now.
func (s State) Usable() bool { return s == Available || s == Unknown }

// announcedOutage reports whether s is an outage the status service announced.
func (s State) announcedOutage() bool {
	return s == Maintenance || s == Failure || s == TotalFailure
}

// Snapshot is the tracker's current view, for status, doctor and the log.
type Snapshot struct {
	State State
	Since time.Time // when State began (the announcement's start when it names one)
	// Announced is the status service's last answer (StatusUnknown when it has not answered usably),
	// with its announcement texts.
	Announced Status
	Messages  []Message
	CheckedAt time.Time // last check of the status service, successful or not
	// StatusError is why the last check gave no usable answer ("" when it did).
	StatusError string
	// FailingSince is the start of the current run of failed KSeF requests (zero while KSeF answers).
	FailingSince time.Time
	Failures     int
	LastError    string // the last failed KSeF request, as the caller described it
}

// Text is the announcement text for people: titles and texts of the current messages.
func (s Snapshot) Text() string {
	var parts []string
	for _, m := range s.Messages {
		t := strings.TrimSpace(strings.Join(nonEmpty(m.Title, m.Text), ": "))
		if t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "; ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Options tune a Tracker; zero values take the defaults.
type Options struct {
	// Interval between checks of the status service (default 5 minutes).
	Interval time.Duration
	// FailingInterval between checks while KSeF does not answer or an outage is announced
	// (default 1 minute), so its end is seen soon.
	FailingInterval time.Duration
	// FailThreshold is how many KSeF requests in a row must fail before KSeF counts as unavailable
	// (default 3): one lost connection is weather, not an outage.
	FailThreshold int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnChange, when set, hears every change of State (for the log); called without locks held,
	// from the goroutine that caused the change.
	OnChange func(old, new Snapshot)
	// History is how many past states are kept for ModeAt (default 256).
	History int
}

// Segment is one stretch of time in one state, as the tracker saw it.
type Segment struct {
	State State     `json:"state"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"` // zero while current
	Text  string    `json:"text,omitempty"`
}

// Tracker combines the status service's announcements with our own observations of KSeF. It is
// safe for concurrent use; Run owns the checking loop.
type Tracker struct {
	client *Client
	opts   Options
	kick   chan struct{}

	mu      sync.Mutex
	snap    Snapshot
	history []Segment // oldest first; the last one is current
	// ended are the status service's announcements (GET /messages) read when it said an announced
	// outage is over, for the announced end of it (derive); nil otherwise.
	ended []Message

	// persist, when set, saves the tracker's memory after every change (Persist); persistMu keeps
	// the saves in order, so the last one written is the newest state.
	persistMu sync.Mutex
	persist   func(Saved)
}

// NewTracker returns a tracker that asks client (nil: observations only).
func NewTracker(client *Client, opts Options) *Tracker {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Minute
	}
	if opts.FailingInterval <= 0 {
		opts.FailingInterval = time.Minute
	}
	if opts.FailingInterval > opts.Interval {
		opts.FailingInterval = opts.Interval
	}
	if opts.FailThreshold <= 0 {
		opts.FailThreshold = 3
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.History <= 0 {
		opts.History = 256
	}
	return &Tracker{client: client, opts: opts, kick: make(chan struct{}, 1), snap: Snapshot{State: Unknown}}
}

// Snapshot returns the current view.
func (t *Tracker) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.snap
	s.Messages = append([]Message(nil), s.Messages...)
	return s
}

// Kick asks Run to check the status service at once. It never blocks.
func (t *Tracker) Kick() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// Observe records the outcome of one KSeF request at time at: ok when KSeF answered (any HTTP
// answer from KSeF itself, even an error about the invoice), not ok when it did not (no connection,
// timeout, 5xx, an HTML page instead of KSeF's JSON). The first failure kicks a status check.
func (t *Tracker) Observe(ok bool, err error, at time.Time) {
	t.mu.Lock()
	old := t.snap
	if ok {
		t.snap.FailingSince, t.snap.Failures = time.Time{}, 0
	} else {
		if t.snap.Failures == 0 {
			t.snap.FailingSince = at
		}
		t.snap.Failures++
		if err != nil {
			t.snap.LastError = err.Error()
		}
	}
	changed := t.recompute(at)
	t.mu.Unlock()
	if !ok && old.Failures == 0 {
		t.Kick()
	}
	t.notify(old, changed)
}

// Check asks the status service once and records the answer. An unusable answer is recorded as
// StatusUnknown with its reason; the error is returned for callers that want it (doctor).
func (t *Tracker) Check(ctx context.Context) error {
	if t.client == nil {
		return errors.New("no status service configured")
	}
	r, err := t.client.Status(ctx)
	var ended []Message
	if err == nil && r.Status == StatusAvailable && t.Snapshot().State.announcedOutage() {
		// Best effort: without them the outage ends when we learn of it, as it did before.
		ended, _ = t.client.Messages(ctx)
	}
	at := t.opts.Now()
	t.mu.Lock()
	old := t.snap
	t.ended = ended
	t.snap.CheckedAt = at
	if err != nil {
		t.snap.Announced, t.snap.Messages, t.snap.StatusError = StatusUnknown, nil, err.Error()
	} else {
		if r.Status == StatusAvailable && old.Announced != StatusAvailable && old.Announced != StatusUnknown {
			// The announced outage ended: the failures it explained say nothing about KSeF now.
			t.snap.FailingSince, t.snap.Failures = time.Time{}, 0
		}
		t.snap.Announced, t.snap.Messages, t.snap.StatusError = r.Status, r.Messages, ""
	}
	changed := t.recompute(at)
	t.ended = nil
	t.mu.Unlock()
	t.notify(old, changed)
	return err
}

func (t *Tracker) notify(old Snapshot, changed bool) {
	if !changed {
		return
	}
	t.save()
	if t.opts.OnChange != nil {
		t.opts.OnChange(old, t.Snapshot())
	}
}

// Run checks the status service now, then every Interval (FailingInterval while KSeF is not
// usable), and at once after Kick, until ctx ends.
func (t *Tracker) Run(ctx context.Context) error {
	for {
		_ = t.Check(ctx) // recorded in the snapshot
		wait := t.opts.Interval
		if !t.Snapshot().State.Usable() {
			wait = t.opts.FailingInterval
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		case <-t.kick:
			timer.Stop()
		}
	}
}

// recompute derives the state from the announcement and the observations; it reports whether the
// state changed. Callers hold mu.
func (t *Tracker) recompute(at time.Time) bool {
	state, since := t.derive(at)
	if state == t.snap.State {
		return false
	}
	t.snap.State, t.snap.Since = state, since
	// An announcement may name a start before states we recorded (an outage we saw as
	// unannounced): from that start on the announced state is the legal one.
	for n := len(t.history); n > 0 && !t.history[n-1].Start.Before(since); n-- {
		t.history = t.history[:n-1]
	}
	if n := len(t.history); n > 0 {
		t.history[n-1].End = since
	}
	t.history = append(t.history, Segment{State: state, Start: since, Text: t.snap.Text()})
	t.history = t.capped(t.history)
	return true
}

func (t *Tracker) derive(at time.Time) (State, time.Time) {
	s := &t.snap
	switch s.Announced {
	case StatusMaintenance:
		return Maintenance, announcedSince(s.Messages, at)
	case StatusFailure:
		return Failure, announcedSince(s.Messages, at)
	case StatusTotalFailure:
		return TotalFailure, announcedSince(s.Messages, at)
	}
	if s.Failures >= t.opts.FailThreshold {
		return Unannounced, s.FailingSince
	}
	if s.Announced == StatusAvailable && t.snap.State.announcedOutage() {
		return Available, announcedEnd(t.ended, t.snap.Since, at)
	}
	if s.Announced == StatusAvailable || (s.Failures == 0 && t.snap.State != Unknown) {
		return Available, at
	}
	if s.Failures == 0 && !s.CheckedAt.IsZero() {
		// The status service gave nothing usable, but nothing says KSeF is down either.
		return Available, at
	}
	return t.snap.State, t.snap.Since
}

// announcedSince is the earliest start the announcements name, if it lies in the past; otherwise
// the time we learned of it.
func announcedSince(ms []Message, at time.Time) time.Time {
	since := at
	for _, m := range ms {
		if !m.Start.IsZero() && m.Start.Before(since) && (m.End.IsZero() || m.End.After(at)) {
			since = m.Start.Time
		}
	}
	return since
}

// announcedEnd is when an announced outage that began at start ended: the latest end the status
// service gives its announcements between start and at, when we learn of it only at at. The
// deadlines of the unavailability and failure modes count from the end of the outage itself ("do
// następnego dnia roboczego po zakończeniu niedostępności", "od zakończenia awarii",
// tryby-offline.md), not from when a daemon that was stopped, or a status service that was down,
// let us see it; an end we cannot read leaves at, the old reading. It is never later than at, so
// a misread end can only bring a deadline forward.
func announcedEnd(ms []Message, start, at time.Time) time.Time {
	var end time.Time
	for _, m := range ms {
		if e := m.End.Time; !e.IsZero() && !e.Before(start) && !e.After(at) && e.After(end) {
			end = e
		}
	}
	if end.IsZero() {
		return at
	}
	return end
}

// Claim is what ModeAt says about an invoice claimed at a given time.
type Claim struct {
	// Offline is true when KSeF was not usable at that time: the invoice is issued offline.
	Offline bool
	// Mode is the legal offline mode and Outage the period it counts from (End zero while it
	// lasts); pass both to offline.Compute.
	Mode   offline.Mode
	Outage offline.Period
	State  State
	Text   string // the announcement text of that time
}

// ModeAt returns the legal offline mode of an invoice claimed at time at, from the states the
// tracker has seen:
//
//   - announced FAILURE: offline.Failure (7 business days after the failure ends);
//   - announced TOTAL_FAILURE: offline.TotalFailure (no obligation);
//   - announced MAINTENANCE: offline.Unavailable (unavailability announced by the ministry: next
//     business day after it ends);
//   - unavailable but not announced: offline.Offline24. The law's unavailability and failure modes
//     need an announcement; without one the taxpayer's own offline24 mode is the one that holds, and
//     its deadline is the earliest, so it is the safe choice. If a failure is announced later, it
//     moves the deadline: pass Failures to offline.Compute.
//
// A time before anything was observed, or while KSeF was available, gives Offline false.
func (t *Tracker) ModeAt(at time.Time) Claim {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.history) - 1; i >= 0; i-- {
		seg := t.history[i]
		if at.Before(seg.Start) {
			continue
		}
		if !seg.End.IsZero() && !at.Before(seg.End) {
			break
		}
		c := Claim{State: seg.State, Text: seg.Text, Outage: seg.period()}
		switch seg.State {
		case Failure:
			c.Offline, c.Mode = true, offline.Failure
		case TotalFailure:
			c.Offline, c.Mode = true, offline.TotalFailure
		case Maintenance:
			c.Offline, c.Mode = true, offline.Unavailable
		case Unannounced:
			c.Offline, c.Mode = true, offline.Offline24
		default:
			c.Outage = offline.Period{}
		}
		return c
	}
	return Claim{State: Unknown}
}

func (s Segment) period() offline.Period { return offline.Period{Start: s.Start, End: s.End} }

// Failures returns the announced failures the tracker knows of, oldest first (End zero while one
// lasts): offline.ForInvoice moves a deadline when one of them began while it ran.
func (t *Tracker) Failures() []offline.Period {
	t.mu.Lock()
	defer t.mu.Unlock()
	return failures(t.history)
}

func failures(history []Segment) []offline.Period {
	var out []offline.Period
	for _, seg := range history {
		switch seg.State {
		case Failure:
			out = append(out, seg.period())
		case TotalFailure:
			p := seg.period()
			p.Total = true
			out = append(out, p)
		}
	}
	return out
}

// String is one line for the log, status and doctor, e.g. "failure announced since 2026-12-02
// 10:30 (Warsaw): Awaria: KSeF nie działa".
func (s Snapshot) String() string {
	var b strings.Builder
	switch s.State {
	case Unknown:
		b.WriteString("unknown (nothing heard from KSeF or its status service yet)")
	case Available:
		b.WriteString("available")
	case Unannounced:
		b.WriteString("unavailable, not announced")
	default:
		b.WriteString(string(s.State) + " announced")
	}
	if !s.Since.IsZero() && s.State != Unknown {
		b.WriteString(" since " + s.Since.In(offline.Warsaw).Format("2006-01-02 15:04") + " (Warsaw)")
	}
	if t := s.Text(); t != "" {
		b.WriteString(": " + t)
	}
	if s.State == Unannounced && s.LastError != "" {
		b.WriteString(" (last error: " + s.LastError + ")")
	}
	if s.StatusError != "" {
		b.WriteString("; status service: " + s.StatusError)
	}
	return b.String()
}
