package engine

import (
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/slidingwindow"
)

// slidingCount remembers online sends in the last hour so auto mode can tell whether one more fits
// the hourly budget. The client's pacer would wait rather than fail; this lets the engine choose a
// batch instead of waiting. The mutex is here because dispatch and confirm share it.
type slidingCount struct {
	mu     sync.Mutex
	log    *slidingwindow.Log
	window time.Duration
	// limit is the budget now, asked at every use so that a new one applies at once (the online
	// budget follows the rate table KSeF reports, rate_limits.go); applied is the one in log.
	limit   func() int
	applied int
}

func newSlidingCount(window time.Duration, limit int) *slidingCount {
	return newFollowingCount(window, func() int { return limit })
}

// newFollowingCount is a slidingCount whose limit may change; the history stays.
func newFollowingCount(window time.Duration, limit func() int) *slidingCount {
	s := &slidingCount{log: slidingwindow.New(), window: window, limit: limit}
	s.follow()
	return s
}

// follow applies the current limit; callers hold s.mu (or own s alone).
func (s *slidingCount) follow() {
	if n := s.limit(); n != s.applied {
		s.log.SetWindows(slidingwindow.Window{Span: s.window, Limit: n})
		s.applied = n
	}
}

func (s *slidingCount) add(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follow()
	s.log.Add(now)
}

func (s *slidingCount) available(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follow()
	return s.log.Available(now)
}
