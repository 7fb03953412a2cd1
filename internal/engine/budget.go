package engine

import (
	"sync"
	"time"
)

// slidingCount remembers events in a sliding window so auto mode can tell whether one more online
// send fits the hourly budget. The client's pacer would wait rather than fail; this lets the engine
// choose a batch instead of waiting.
type slidingCount struct {
	mu     sync.Mutex
	window time.Duration
	limit  int
	events []time.Time
}

func newSlidingCount(window time.Duration, limit int) *slidingCount {
	return &slidingCount{window: window, limit: limit}
}

func (s *slidingCount) add(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	s.events = append(s.events, now)
}

func (s *slidingCount) available(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	return max(0, s.limit-len(s.events))
}

func (s *slidingCount) prune(now time.Time) {
	cut := 0
	for cut < len(s.events) && now.Sub(s.events[cut]) >= s.window {
		cut++
	}
	s.events = s.events[cut:]
}
