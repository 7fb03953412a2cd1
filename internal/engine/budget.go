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
	mu  sync.Mutex
	log *slidingwindow.Log
}

func newSlidingCount(window time.Duration, limit int) *slidingCount {
	return &slidingCount{log: slidingwindow.New(slidingwindow.Window{Span: window, Limit: limit})}
}

func (s *slidingCount) add(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Add(now)
}

func (s *slidingCount) available(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Available(now)
}
