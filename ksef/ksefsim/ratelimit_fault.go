package ksefsim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// RateLimitNext makes the next request of a §9 group (such as "invoiceSend" or "batchSession")
// answer 429 with Retry-After d and blocks its counter for d, however little the group was used:
// KSeF's block is "dynamic" and "Wielokrotne przekroczenia mogą skutkować znacznym wydłużeniem
// blokady" (CIRFMF/ksef-docs limity/limity-api.md §2), so a context that exceeded its limits before
// may be blocked for far longer than one window's wait. Every request of that counter until the
// block ends is refused with what is left of it. It needs rate limits on (not "off").
func (s *Server) RateLimitNext(group string, d time.Duration) error {
	if !slices.Contains(apiGroups, group) && group != "auth" {
		return fmt.Errorf("unknown rate-limit group %q (want one of GET /rate-limits' groups, or auth)", group)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateFaults == nil {
		s.rateFaults = map[string]time.Duration{}
	}
	s.rateFaults[group] = max(d, time.Second)
	return nil
}

// takeRateFaultLocked starts the block RateLimitNext armed for group on key, and returns its length
// (0: none armed). Callers hold s.mu.
func (s *Server) takeRateFaultLocked(group, key string, now time.Time) time.Duration {
	d, ok := s.rateFaults[group]
	if !ok {
		return 0
	}
	delete(s.rateFaults, group)
	s.limiter.startBlock(key, now, d)
	return d
}

// serveRateLimitAdmin implements POST /admin/ratelimit/next?group=invoiceSend&seconds=600.
func (s *Server) serveRateLimitAdmin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/admin/ratelimit/context" {
		s.serveContextRateAdmin(w, r) // ratelimit_testdata.go
		return
	}
	secs, err := strconv.Atoi(r.URL.Query().Get("seconds"))
	if r.Method != http.MethodPost || r.URL.Path != "/admin/ratelimit/next" || err != nil || secs < 1 {
		http.Error(w, "POST /admin/ratelimit/next?group=GROUP&seconds=N (N ≥ 1)", http.StatusBadRequest)
		return
	}
	if err := s.RateLimitNext(r.URL.Query().Get("group"), time.Duration(secs)*time.Second); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
