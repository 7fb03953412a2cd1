package testutil

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a time source the test moves by hand: Now stands still until Advance moves it, and
// Sleep advances it instead of waiting, so code that sleeps on it runs at once.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads start until it is advanced.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Sleep moves the clock by d at once; a cancelled ctx is an error, as for a real sleep.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// OffsetClock is real time plus an offset the test moves, for a simulator whose high-water mark
// must pass freshly seeded invoices without sleeping. Unlike Clock it keeps ticking, because the
// simulator's rate limiter counts in its own time.
type OffsetClock struct{ off atomic.Int64 }

func (c *OffsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *OffsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }
