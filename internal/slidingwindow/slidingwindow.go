// Package slidingwindow counts events over sliding time windows. It is the one rate-budget type of
// ksef-sync: the KSeF client's pacer (1 s / 60 s / 1 h per endpoint group), the engine's online-send
// budget and the pull's hourly export budget all use it, so "how many in the last hour" has one
// answer everywhere.
//
// A Log is not safe for concurrent use; its owner guards it. It holds only times, so its state can
// be saved (Events) and restored (Restore) to keep a budget across processes.
package slidingwindow

import (
	"sort"
	"time"
)

// Window is one limit: at most Limit events in any period of length Span. A Limit of 0 means "no
// limit for this span".
type Window struct {
	Span  time.Duration
	Limit int
}

// Log remembers event times (ascending) within the longest of its windows.
type Log struct {
	windows []Window
	events  []time.Time
}

// New returns an empty log that enforces every window with a positive limit.
func New(windows ...Window) *Log {
	l := &Log{}
	l.SetWindows(windows...)
	return l
}

// SetWindows replaces the limits (for example when KSeF reports new ones); the history stays.
func (l *Log) SetWindows(windows ...Window) {
	l.windows = l.windows[:0]
	for _, w := range windows {
		if w.Limit > 0 && w.Span > 0 {
			l.windows = append(l.windows, w)
		}
	}
}

// longest is the longest span with a limit; older events no longer matter.
func (l *Log) longest() time.Duration {
	var d time.Duration
	for _, w := range l.windows {
		d = max(d, w.Span)
	}
	return d
}

// prune drops events that left every window.
func (l *Log) prune(now time.Time) {
	cutoff := now.Add(-l.longest())
	cut := sort.Search(len(l.events), func(i int) bool { return l.events[i].After(cutoff) })
	l.events = l.events[cut:]
}

// inSpan counts the events in (now-span, now].
func (l *Log) inSpan(now time.Time, span time.Duration) int {
	cutoff := now.Add(-span)
	first := sort.Search(len(l.events), func(i int) bool { return l.events[i].After(cutoff) })
	return len(l.events) - first
}

// Wait reports how long from now until one more event fits every window (0: it fits now). Nothing
// is recorded.
func (l *Log) Wait(now time.Time) time.Duration {
	l.prune(now)
	var wait time.Duration
	for _, w := range l.windows {
		if l.inSpan(now, w.Span) < w.Limit {
			continue
		}
		// The oldest of the last Limit events must leave the window first.
		leaves := l.events[len(l.events)-w.Limit].Add(w.Span)
		wait = max(wait, leaves.Sub(now)+time.Millisecond)
	}
	return wait
}

// Reserve records an event at now when it fits every window and returns 0; otherwise it records
// nothing and returns how long to wait.
func (l *Log) Reserve(now time.Time) time.Duration {
	if d := l.Wait(now); d > 0 {
		return d
	}
	l.Add(now)
	return 0
}

// Add records an event at now unconditionally (a request that was sent, fitting or not, counts).
func (l *Log) Add(now time.Time) {
	l.prune(now)
	i := sort.Search(len(l.events), func(i int) bool { return l.events[i].After(now) })
	l.events = append(l.events, time.Time{})
	copy(l.events[i+1:], l.events[i:])
	l.events[i] = now
}

// Available is how many more events fit every window at now.
func (l *Log) Available(now time.Time) int {
	l.prune(now)
	avail := -1
	for _, w := range l.windows {
		n := max(0, w.Limit-l.inSpan(now, w.Span))
		if avail < 0 || n < avail {
			avail = n
		}
	}
	if avail < 0 {
		return int(^uint(0) >> 1) // no limit at all
	}
	return avail
}

// Events returns the remembered event times (ascending) still inside the longest window at now,
// for saving.
func (l *Log) Events(now time.Time) []time.Time {
	l.prune(now)
	return append([]time.Time(nil), l.events...)
}

// Restore adds saved event times (any order) to the log.
func (l *Log) Restore(events []time.Time) {
	for _, e := range events {
		l.Add(e)
	}
}
