package ksefsim

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// listingSim is a simulator on an injected clock with testNIP logged in, whose session list
// (GET /sessions, the sessionList group: 5/s, 10/min) the rate-limit tests call.
type listingSim struct {
	s      *Server
	c      *clock
	access string
}

func newListingSim(t *testing.T, opts Options) *listingSim {
	t.Helper()
	f := &listingSim{c: newClock()}
	opts.Now = f.c.Now
	f.s = startSim(t, opts)
	f.access, _ = login(t, f.s, testNIP)
	return f
}

func (f *listingSim) list(t *testing.T) resp {
	t.Helper()
	return call(t, "GET", f.s.URL()+"/sessions?sessionType=Online&pageSize=10", f.access, nil)
}

// newBlockFixture is a listingSim whose sessionList counter has just been refused with a 49 s
// block, as in TestRateLimit429WithRetryAfter.
func newBlockFixture(t *testing.T) *listingSim {
	t.Helper()
	f := newListingSim(t, Options{})
	for range 5 {
		must(t, f.list(t), 200)
	}
	f.c.Advance(time.Second)
	for range 5 {
		must(t, f.list(t), 200)
	}
	f.c.Advance(10 * time.Second)
	// The oldest of the 10 requests in the minute window was made 11 s ago.
	if got := retryAfter(t, must(t, f.list(t), 429)); got != 49 {
		t.Fatalf("Retry-After = %d, want 49", got)
	}
	return f
}

func retryAfter(t *testing.T, r resp) int {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", r.header.Get("Retry-After"), err)
	}
	return n
}

// TestRateLimitBlockRefusesEarlyRequests: a request 1 s before a 49 s block ends is refused with
// what is left of the block (KSeF: "kolejne żądania są tymczasowo blokowane"), though the windows
// alone would admit it; the block does not move, and at its end the counter is admitted again (the
// refused request never took a place in the windows).
func TestRateLimitBlockRefusesEarlyRequests(t *testing.T) {
	f := newBlockFixture(t)
	f.c.Advance(48 * time.Second)
	r := must(t, f.list(t), 429)
	if got := retryAfter(t, r); got != 1 {
		t.Errorf("Retry-After = %d, want 1 (what is left of the 49 s block)", got)
	}
	if !strings.Contains(string(r.body), "jest zablokowany") {
		t.Errorf("detail does not say the group is blocked: %s", r.body)
	}
	if n := f.s.Stats().RateLimited; n != 2 {
		t.Errorf("RateLimited = %d, want 2", n)
	}
	// Another counter is not blocked.
	must(t, call(t, "GET", f.s.URL()+"/rate-limits", f.access, nil), 200)
	f.c.Advance(time.Second)
	must(t, f.list(t), 200)
}

// TestRateLimitBlockEndAdmits: a client that sleeps exactly Retry-After arrives at the block's
// end and is admitted by the windows.
func TestRateLimitBlockEndAdmits(t *testing.T) {
	f := newBlockFixture(t)
	f.c.Advance(49 * time.Second)
	must(t, f.list(t), 200)
	if n := f.s.Stats().RateLimited; n != 1 {
		t.Errorf("RateLimited = %d, want 1", n)
	}
}

// TestRateLimitNextBlocksLong: RateLimitNext (POST /admin/ratelimit/next) refuses the next request
// of the group however little it was used, with the Retry-After asked for, and blocks its counter
// that long; other groups go on.
func TestRateLimitNextBlocksLong(t *testing.T) {
	f := newListingSim(t, Options{})
	s, c, access, list := f.s, f.c, f.access, func() resp { return f.list(t) }
	must(t, call(t, "POST", s.AdminURL()+"/ratelimit/next?group=sessionList&seconds=600", "", nil), 204)
	must(t, call(t, "POST", s.AdminURL()+"/ratelimit/next?group=nosuch&seconds=600", "", nil), 400)
	if got := retryAfter(t, must(t, list(), 429)); got != 600 {
		t.Fatalf("Retry-After = %d, want 600", got)
	}
	must(t, call(t, "GET", s.URL()+"/rate-limits", access, nil), 200)
	c.Advance(599 * time.Second)
	if got := retryAfter(t, must(t, list(), 429)); got != 1 {
		t.Errorf("Retry-After 1 s before the end = %d, want 1", got)
	}
	c.Advance(time.Second)
	must(t, list(), 200)
	if n := s.Stats().RateLimited; n != 2 {
		t.Errorf("RateLimited = %d, want 2", n)
	}
}

// TestRateLimitsOffNoBlock: with rate limits off nothing is refused or blocked.
func TestRateLimitsOffNoBlock(t *testing.T) {
	f := newListingSim(t, Options{RateLimits: "off"})
	for range 30 {
		must(t, f.list(t), 200)
	}
	if n := f.s.Stats().RateLimited; n != 0 {
		t.Errorf("RateLimited = %d, want 0", n)
	}
}
