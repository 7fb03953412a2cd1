package status

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Tracker is what the running daemon knows beyond the journal: the last warning or error it logged
// and whether KSeF answered its last request. The daemon writes it into the journal with every
// heartbeat, so `status` in another process reports it too.
type Tracker struct {
	mu          sync.Mutex
	now         func() time.Time
	lastErr     string
	lastErrAt   time.Time
	lastErrComp string
	avail       int // 1, 0, -1 unknown
	availAt     time.Time
	onChange    []func(Change)
	changed     chan struct{}
}

// Change is one noteworthy transition the notifier may turn into an event.
type Change struct {
	Kind string // ksef_unavailable | pull_failing
	Text string
	Time time.Time
}

// NewTracker returns a tracker that knows nothing yet; now is the clock (time.Now when nil).
func NewTracker(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, avail: -1, changed: make(chan struct{}, 1)}
}

// Changed is signalled when the last error or KSeF's reachability changes, so the daemon can write
// its heartbeat at once instead of at the next tick.
func (t *Tracker) Changed() <-chan struct{} { return t.changed }

func (t *Tracker) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// OnChange registers fn for transitions; fn must not block.
func (t *Tracker) OnChange(fn func(Change)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onChange = append(t.onChange, fn)
}

// Snapshot returns the last error, its time, and KSeF's reachability (1, 0, -1) with its time.
func (t *Tracker) Snapshot() (lastErr string, lastErrAt time.Time, avail int, availAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr, t.lastErrAt, t.avail, t.availAt
}

// Request is the KSeF client's observer hook: status 0 (no answer) or 5xx means KSeF is not
// available; any other answer means it is.
func (t *Tracker) Request(group string, status int, d time.Duration) {
	up := 1
	if status == 0 || status >= 500 {
		up = 0
	}
	t.setAvailable(up, "KSeF did not answer a request (endpoint group "+group+")")
}

// PacerWait satisfies the observer hook; waiting for our own budget says nothing about KSeF.
func (t *Tracker) PacerWait(string, time.Duration) {}

func (t *Tracker) setAvailable(up int, why string) {
	t.mu.Lock()
	was := t.avail
	t.avail, t.availAt = up, t.now()
	fns := t.onChange
	at := t.availAt
	t.mu.Unlock()
	if was != up {
		t.signal()
	}
	if was != 0 && up == 0 {
		for _, fn := range fns {
			fn(Change{Kind: "ksef_unavailable", Text: why, Time: at})
		}
	}
}

// Announced reports an outage KSeF's status service announces (why says which, since when, and its
// text): the notifier's ksef_unavailable, even while no request of ours fails (nothing is sent
// during an announced outage).
func (t *Tracker) Announced(why string) {
	t.mu.Lock()
	fns := t.onChange
	t.mu.Unlock()
	for _, fn := range fns {
		fn(Change{Kind: "ksef_unavailable", Text: why, Time: t.now()})
	}
}

func (t *Tracker) record(comp string, r slog.Record) {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	t.mu.Lock()
	t.lastErr, t.lastErrAt, t.lastErrComp = msg, r.Time, comp
	if t.lastErrAt.IsZero() {
		t.lastErrAt = t.now()
	}
	fns := t.onChange
	t.mu.Unlock()
	t.signal()
	if comp == "pull" {
		for _, fn := range fns {
			fn(Change{Kind: "pull_failing", Text: msg, Time: r.Time})
		}
	}
}

// Handler wraps h so that every warning and error is also remembered as the last error.
func (t *Tracker) Handler(h slog.Handler) slog.Handler { return &trackHandler{next: h, t: t} }

type trackHandler struct {
	next slog.Handler
	t    *Tracker
	comp string
}

func (h *trackHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *trackHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.t.record(h.comp, r)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *trackHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := &trackHandler{next: h.next.WithAttrs(as), t: h.t, comp: h.comp}
	for _, a := range as {
		if a.Key == "component" {
			c.comp = a.Value.String()
		}
	}
	return c
}

func (h *trackHandler) WithGroup(name string) slog.Handler {
	return &trackHandler{next: h.next.WithGroup(name), t: h.t, comp: h.comp}
}
