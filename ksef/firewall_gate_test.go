package ksef

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

// steppedClock is time the test moves from one wake-up to the next. Unlike fakeClock, Sleep does
// not move it: it blocks until the test has moved the clock to its end, so goroutines sleeping
// together wake together, and the test knows when every goroutine is asleep (nothing in flight).
type steppedClock struct {
	mu       sync.Mutex
	asleep   *sync.Cond
	now      time.Time
	sleepers map[*sleeper]bool
}

type sleeper struct {
	wake time.Time
	done chan struct{}
}

func newSteppedClock(start time.Time) *steppedClock {
	c := &steppedClock{now: start, sleepers: map[*sleeper]bool{}}
	c.asleep = sync.NewCond(&c.mu)
	return c
}

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *steppedClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{wake: c.now.Add(d), done: make(chan struct{})}
	c.sleepers[s] = true
	c.asleep.Broadcast()
	c.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.sleepers, s)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// step waits until n goroutines sleep, then moves the clock to the earliest wake-up and wakes
// every sleeper due. It reports false when ctx ends first.
func (c *steppedClock) step(ctx context.Context, n int) bool {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.asleep.Broadcast()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.sleepers) < n {
		if ctx.Err() != nil {
			return false
		}
		c.asleep.Wait()
	}
	var next time.Time
	for s := range c.sleepers {
		if next.IsZero() || s.wake.Before(next) {
			next = s.wake
		}
	}
	c.now = next
	for s := range c.sleepers {
		if !s.wake.After(c.now) {
			close(s.done)
			delete(c.sleepers, s)
		}
	}
	return true
}

// blockIP blocks the test's own address at the simulator's firewall through its admin API and
// returns the block's status.
func blockIP(t *testing.T, sim *ksefsim.Server, minutes int) ksefsim.IPBlockStatus {
	t.Helper()
	return firewallAdmin(t, sim, http.MethodPost, fmt.Sprintf(`{"minutes": %d}`, minutes))
}

func firewallAdmin(t *testing.T, sim *ksefsim.Server, method, body string) ksefsim.IPBlockStatus {
	t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(sim.URL(), "/v2")+"/admin/firewall/block-ip", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st ksefsim.IPBlockStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s block-ip: %d %v", method, resp.StatusCode, err)
	}
	return st
}

// TestFirewallBlockPausesEveryClient: 50 companies in one process, each with its own Client, each
// asking KSeF something once a minute, when KSeF's firewall blocks the address for 5 minutes
// (CIRFMF/ksef-docs limity/limity-api.md §3: "blokada dostępu do API KSeF dla danego podmiotu lub
// zakresu adresów IP"). The first block pauses every Client, and only single probes test the
// firewall (after 5 s, then 1, 2 and 4 minutes more): a handful of requests reach the blocked address instead of
// about 50 a minute plus each one's retries. The block is logged once per pause, not per company,
// and every company works again once a probe is let through.
func TestFirewallBlockPausesEveryClient(t *testing.T) {
	const companies = 50
	clk := newSteppedClock(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	sim := simtest.Start(t, ksefsim.Options{Now: clk.Now})
	simtest.CheckSpec(t, sim)
	var logs testutil.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	lastOK := make([]time.Time, companies)
	var wg sync.WaitGroup
	for i, nip := range testutil.ValidNIPs(companies) {
		c, err := New(Options{BaseURL: sim.URL(), Context: ContextIdentifier{Type: "Nip", Value: nip},
			Auth: TokenAuth{Token: sim.Token(nip)}, Clock: clk, Logger: log.With("company", nip)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// each company's turn comes at its own second of the minute
			for err := clk.Sleep(ctx, time.Duration(i+1)*time.Second); err == nil; err = clk.Sleep(ctx, time.Minute) {
				if _, err := c.ContextLimits(ctx); err == nil {
					mu.Lock()
					lastOK[i] = clk.Now()
					mu.Unlock()
				}
			}
		}()
	}

	var blockStart time.Time
	for end := clk.Now().Add(15 * time.Minute); clk.Now().Before(end); {
		if blockStart.IsZero() && !clk.Now().Before(end.Add(-13*time.Minute)) {
			blockStart = clk.Now()
			if st := blockIP(t, sim, 5); !st.Active || st.IP != "127.0.0.1" {
				t.Fatalf("block: %+v", st)
			}
		}
		if !clk.step(ctx, companies) {
			t.Fatal("the companies did not all come to rest")
		}
	}
	cancel()
	wg.Wait()

	refused := firewallAdmin(t, sim, http.MethodGet, "").Refused
	if refused == 0 || refused > 5 {
		t.Errorf("%d requests reached the blocked address during its 5 minutes, want a handful of probes", refused)
	}
	if n := strings.Count(logs.String(), "this IP address appears to be blocked"); n == 0 || n > refused {
		t.Errorf("the block was logged %d times for %d refused requests, want once per pause", n, refused)
	}
	blockEnd := blockStart.Add(5 * time.Minute)
	for i, ok := range lastOK {
		if !ok.After(blockEnd) {
			t.Fatalf("company %d: last success at %s, block ended at %s", i, ok.Format(time.TimeOnly), blockEnd.Format(time.TimeOnly))
		}
	}
	t.Logf("refused during the block: %d", refused)
}

// TestFirewallPauseHoldsBoundedCalls: a call whose caller will not wait long (the daemon's loop,
// WithWaitLimit) waits out the short first pause after a firewall block, but is not sent while the
// longer pause after a blocked probe lasts: it fails at once with a held BlockedError saying how
// much of the pause is left, which RetryAfterHint passes on.
func TestFirewallPauseHoldsBoundedCalls(t *testing.T) {
	e := newEnv(t, ksefsim.Options{}, nil)
	if err := e.c.Login(e.ctx); err != nil {
		t.Fatal(err)
	}
	blockIP(t, e.sim, 5)
	bounded := WithWaitLimit(e.ctx, 15*time.Second)
	for range 3 {
		_, err := e.c.ContextLimits(bounded)
		var b *BlockedError
		if !errors.As(err, &b) || !b.Held || b.RetryAfter != firstFirewallPause || RetryAfterHint(err) != firstFirewallPause || !IsTransient(err) {
			t.Fatalf("a call during the pause: %v (%+v), want a held block with a minute left", err, b)
		}
		if !strings.Contains(err.Error(), "requests to KSeF are paused for 1m0s more") || b.IncidentID == "" {
			t.Fatalf("message: %v", err)
		}
	}
	if refused := e.sim.IPBlockStatus().Refused; refused != 2 {
		t.Fatalf("%d requests reached the blocked address, want the first and one probe", refused)
	}
}
