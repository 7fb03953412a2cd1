package ksefsim

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// blockFixture is a simulator on an injected clock whose sessionList counter (5/s, 10/min) for
// testNIP has just been refused with a 49 s block, as in TestRateLimit429WithRetryAfter.
type blockFixture struct {
	s      *Server
	c      *clock
	access string
}

func newBlockFixture(t *testing.T) *blockFixture {
	t.Helper()
	f := &blockFixture{c: newClock()}
	f.s = startSim(t, Options{Now: f.c.Now})
	f.access, _ = login(t, f.s, testNIP)
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

func (f *blockFixture) list(t *testing.T) resp {
	t.Helper()
	return call(t, "GET", f.s.URL()+"/sessions?sessionType=Online&pageSize=10", f.access, nil)
}

func retryAfter(t *testing.T, r resp) int {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", r.header.Get("Retry-After"), err)
	}
	return n
}

// TestRateLimitBlockDoubles: a request 1 s before a 49 s block ends breaks into it, so it is
// refused and the block starts again for 98 s; once that block has passed the counter is admitted
// again (the refused requests never took a place in the windows).
func TestRateLimitBlockDoubles(t *testing.T) {
	f := newBlockFixture(t)
	f.c.Advance(48 * time.Second)
	r := must(t, f.list(t), 429)
	if got := retryAfter(t, r); got != 98 {
		t.Errorf("Retry-After = %d, want 98 (twice the 49 s block)", got)
	}
	if !strings.Contains(string(r.body), "jest zablokowany") {
		t.Errorf("detail does not say the group is blocked: %s", r.body)
	}
	if n := f.s.Stats().RateLimited; n != 2 {
		t.Errorf("RateLimited = %d, want 2", n)
	}
	// Another counter is not blocked.
	must(t, call(t, "GET", f.s.URL()+"/rate-limits", f.access, nil), 200)
	f.c.Advance(98 * time.Second)
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

// TestRateLimitBlockCapped: breaking into the block again and again doubles it up to an hour and
// never beyond; an hour later the counter is admitted.
func TestRateLimitBlockCapped(t *testing.T) {
	f := newBlockFixture(t)
	prev := 49
	for i := range 10 {
		got := retryAfter(t, must(t, f.list(t), 429))
		if want := min(2*prev, 3600); got != want {
			t.Fatalf("break-in %d: Retry-After = %d, want %d", i+1, got, want)
		}
		prev = got
	}
	if prev != 3600 {
		t.Fatalf("last Retry-After = %d, want the 3600 s cap", prev)
	}
	if n := f.s.Stats().RateLimited; n != 11 {
		t.Errorf("RateLimited = %d, want 11", n)
	}
	f.c.Advance(time.Hour)
	// The access token has expired meanwhile; the counter is the context's, so a new login
	// reaches the same one.
	f.access, _ = login(t, f.s, testNIP)
	must(t, f.list(t), 200)
}

// TestRateLimitsOffNoBlock: with rate limits off nothing is refused or blocked.
func TestRateLimitsOffNoBlock(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{Now: c.Now, RateLimits: "off"})
	access, _ := login(t, s, testNIP)
	for range 30 {
		must(t, call(t, "GET", s.URL()+"/sessions?sessionType=Online&pageSize=10", access, nil), 200)
	}
	if n := s.Stats().RateLimited; n != 0 {
		t.Errorf("RateLimited = %d, want 0", n)
	}
}
