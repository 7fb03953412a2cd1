package engine

import (
	"errors"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// Retries of a step that keeps failing for the same thing (an invoice's outputs, a session's
// verdicts) are spaced out: 2 s, 4 s, 8 s, … up to 5 minutes, so a persistent failure neither
// hammers KSeF nor writes a log line every poll. Success forgets the failures.
const (
	firstRetry = 2 * time.Second
	maxRetry   = 5 * time.Minute
)

// backoffDelay is the wait after the n-th consecutive failure (n ≥ 1).
func backoffDelay(n int) time.Duration {
	return min(firstRetry<<min(n-1, 16), maxRetry)
}

// retryGate remembers, per key, how often a step failed in a row and when it may run again. It
// lives in memory: after a restart every step is tried at once, which is what recovery wants.
type retryGate[K comparable] struct {
	mu    sync.Mutex
	fails map[K]gateEntry
}

type gateEntry struct {
	n    int
	next time.Time
}

// due reports whether the step for k may run at now.
func (g *retryGate[K]) due(k K, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.fails[k]
	return !ok || !now.Before(e.next)
}

// failed records a failure for k at now and returns the wait before the next try, and how many
// failures in a row k has had. KSeF's own hint for the cause is a floor: Retry-After for a 429,
// a minute for its firewall (hammering a block makes it last).
func (g *retryGate[K]) failed(k K, now time.Time, cause error) (time.Duration, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails == nil {
		g.fails = map[K]gateEntry{}
	}
	e := g.fails[k]
	e.n++
	d := max(backoffDelay(e.n), ksef.RetryAfterHint(cause))
	e.next = now.Add(d)
	g.fails[k] = e
	return d, e.n
}

// failing reports whether k has failures on record.
func (g *retryGate[K]) failing(k K) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.fails[k]
	return ok
}

// succeeded forgets k's failures.
func (g *retryGate[K]) succeeded(k K) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.fails, k)
}

// rateLimited reports a call refused by a rate limit (KSeF's 429 or our own pacer holding it back
// past the loop's wait): it says nothing about the request, so it never counts as one of the
// failed attempts that end in a decision.
func rateLimited(err error) bool {
	var rl *ksef.RateLimitError
	return errors.As(err, &rl)
}
