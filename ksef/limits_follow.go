package ksef

import (
	"context"
	"strings"
	"sync"
	"time"
)

// KSeF's rate limits change while a daemon runs: CIRFMF/ksef-docs limity/limity-api.md §5 "limity
// mają charakter dynamiczny … dopuszcza się ich czasowe obniżenie", and in production a context's
// limits may be raised on request (CIRFMF/ksef-api #698). So the table GET /rate-limits gives is
// read again now and then, and soon after KSeF refused a request with 429 (a sign that its limits
// are lower than ours), rather than once at start.
const (
	// LimitsRereadEvery is how long an adopted rate table is used before it is read again.
	LimitsRereadEvery = time.Hour
	// limitsRereadAfter429 is the least time between two reads when KSeF answered 429 since the
	// last one: a burst of 429s costs one read, not one each ("other" group: 120 an hour).
	limitsRereadAfter429 = time.Minute
	// limitsRetryFailed is how soon a read that failed is tried again.
	limitsRetryFailed = 5 * time.Minute
)

// Rate-limit groups KSeF announced for the session closes (CIRFMF/ksef-api #863, MF, 2026-09-14:
// "operacje zamknięcia sesji zostaną wydzielone do osobnych grup"); until GET /rate-limits
// reports them, a close counts with its session's open, as open-api.json states today.
const (
	GroupOnlineSessionClose = "onlineSessionClose"
	GroupBatchSessionClose  = "batchSessionClose"
)

// closeGroups maps a session group to the group of its close, once KSeF reports that group.
var closeGroups = map[string]string{GroupOnlineSession: GroupOnlineSessionClose, GroupBatchSession: GroupBatchSessionClose}

// groupOf is the §9 group of a request: groupFor's, except that a session close moves to its own
// group as soon as the adopted table has one (#863). Groups KSeF reports that we cannot place
// (the "anonymous" and "global" of a comment in #863) stay in the table unused.
func (p *pacer) groupOf(method, path string) string {
	g := groupFor(method, path)
	closeGroup, ok := closeGroups[g]
	if !ok || !strings.HasSuffix(strings.TrimRight(path, "/"), "/close") {
		return g
	}
	p.mu.Lock()
	_, reported := p.limits[closeGroup]
	p.mu.Unlock()
	if reported {
		return closeGroup
	}
	return g
}

// limitsFollow is when the rate table was last read and whether it is due again.
type limitsFollow struct {
	mu      sync.Mutex
	tried   time.Time // the last read's start (zero: never read)
	failed  bool      // the last read failed
	refused bool      // KSeF answered 429 since the last read
	busy    bool      // a read is under way
}

// refusedByKSeF notes a 429 from KSeF (never one from our own pacer): the table is read again soon.
func (f *limitsFollow) refusedByKSeF() {
	f.mu.Lock()
	f.refused = true
	f.mu.Unlock()
}

// due says whether the table should be read at now.
func (f *limitsFollow) due(now time.Time) bool {
	since := now.Sub(f.tried)
	switch {
	case f.busy:
		return false
	case f.tried.IsZero():
		return true
	case f.refused:
		return since >= limitsRereadAfter429
	case f.failed:
		return since >= limitsRetryFailed
	}
	return since >= LimitsRereadEvery
}

// begin starts a read at now, unless one is under way (only) or it is not due (when onlyDue).
func (f *limitsFollow) begin(now time.Time, onlyDue bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy || (onlyDue && !f.due(now)) {
		return false
	}
	f.busy, f.tried, f.refused = true, now, false
	return true
}

// end records the read's outcome.
func (f *limitsFollow) end(failed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.busy, f.failed = false, failed
}

// RefreshLimitsIfDue reads GET /rate-limits again when it is due: never read yet, LimitsRereadEvery
// after the last read, a minute after a 429 from KSeF, five minutes after a failed read. It says
// whether it read. The caller owns the timing: the daemon's loop calls it at every step, which
// costs nothing when no read is due and needs no goroutine of its own.
func (c *Client) RefreshLimitsIfDue(ctx context.Context) (bool, error) {
	if !c.pacer.follow.begin(c.clock.Now(), true) {
		return false, nil
	}
	err := c.fetchLimits(ctx)
	c.pacer.follow.end(err != nil)
	return true, err
}

// RefreshLimits fetches GET /rate-limits and adopts the server's table (groups the server does
// not list, such as the per-IP auth group, keep their current values).
func (c *Client) RefreshLimits(ctx context.Context) error {
	started := c.pacer.follow.begin(c.clock.Now(), false)
	err := c.fetchLimits(ctx)
	if started {
		c.pacer.follow.end(err != nil)
	}
	return err
}

// HourlyShare is our share (OurShare) of the hourly budget of group in the table the client uses
// now, or of def before KSeF reported one. The engine's online sends and pull's exports plan with
// it, so a context whose limits KSeF lowered or raised plans with those.
func (c *Client) HourlyShare(group string, def int) int {
	c.pacer.mu.Lock()
	l, ok := c.pacer.limits[group]
	c.pacer.mu.Unlock()
	if !ok || l.PerHour <= 0 {
		return OurShare(def)
	}
	return OurShare(l.PerHour)
}
