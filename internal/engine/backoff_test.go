package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// TestFirewallBlockWaitsLonger: a block by KSeF's firewall is weather, retried — but not before a
// minute, however few failures came before; a plain failure starts at 2 s.
func TestFirewallBlockWaitsLonger(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	blocked := fmt.Errorf("confirm: %w", &ksef.BlockedError{HTTPStatus: 403, IncidentID: "INC-1"})
	var g retryGate[string]
	if d, n := g.failed("S-1", now, blocked); d < time.Minute || n != 1 {
		t.Errorf("after a firewall block: wait %s (failure %d), want at least a minute", d, n)
	}
	if g.due("S-1", now.Add(30*time.Second)) || !g.due("S-1", now.Add(time.Minute)) {
		t.Error("the blocked session is due too early or too late")
	}
	if d, _ := g.failed("S-2", now, errors.New("disk full")); d != firstRetry {
		t.Errorf("after a plain failure: wait %s, want %s", d, firstRetry)
	}
	g.succeeded("S-1")
	if !g.due("S-1", now) {
		t.Error("success did not forget the failures")
	}
	e := &Engine{now: func() time.Time { return now }}
	if at := e.retryAt(blocked)(0); at.Sub(now) < time.Minute {
		t.Errorf("invoice retried %s after a firewall block, want at least a minute", at.Sub(now))
	}
	if ksef.IsCredentialsProblem(blocked) || credentialsProblem(blocked) != nil {
		t.Error("a firewall block was taken for bad credentials")
	}
}

func TestBackoffDelays(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := backoffDelay(i + 1); got != w {
			t.Errorf("backoffDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := backoffDelay(1000); got != maxRetry {
		t.Errorf("backoffDelay(1000) = %s", got)
	}
}
