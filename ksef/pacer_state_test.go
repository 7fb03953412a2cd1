package ksef

import (
	"testing"
	"time"
)

// TestOtherGroupPerEndpoint: each endpoint of the "other" group has its own counter (§9); the
// other groups are counted as a whole.
func TestOtherGroupPerEndpoint(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"GET", "/rate-limits", "other|GET /rate-limits"},
		{"GET", "/limits/context", "other|GET /limits/context"},
		{"DELETE", "/auth/sessions/current", "other|DELETE /auth/sessions/current"},
		{"DELETE", "/auth/sessions/20250101-AU-1234567890-ABCDEF0123-01", "other|DELETE /auth/sessions/{id}"},
		{"GET", "/sessions/20250101-SO-1234567890-ABCDEF0123-01", GroupSessionMisc},
		{"POST", "/auth/challenge", GroupAuth},
	}
	for _, tt := range tests {
		if got := counterKey(groupFor(tt.method, tt.path), tt.method, tt.path); got != tt.want {
			t.Errorf("%s %s: counter %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
	clk := newFakeClock()
	p := newPacer(clk, RateTable{GroupOther: {PerSecond: 2}})
	now := clk.Now()
	a, b := counterKey(GroupOther, "GET", "/rate-limits"), counterKey(GroupOther, "GET", "/limits/context")
	for range OurShare(2) {
		if d := p.reserve(a, now); d != 0 {
			t.Fatalf("first requests waited %s", d)
		}
	}
	if d := p.reserve(a, now); d == 0 {
		t.Fatal("the endpoint's own budget was not enforced")
	}
	if d := p.reserve(b, now); d != 0 {
		t.Fatalf("another endpoint of the other group had to wait %s: counters are shared", d)
	}
}

// TestPacerStateAcrossProcesses: the history saved by one client stops a new client (a new process)
// from bursting into the same windows.
func TestPacerStateAcrossProcesses(t *testing.T) {
	clk := newFakeClock()
	limits := RateTable{GroupInvoiceExport: {PerSecond: 8, PerMinute: 16, PerHour: 20}, GroupOther: {PerSecond: 10, PerMinute: 30, PerHour: 120}}
	first, err := New(Options{BaseURL: "http://127.0.0.1:1/v2", Clock: clk, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	for range OurShare(16) {
		clk.Advance(time.Second)
		if d := first.pacer.reserve(GroupInvoiceExport, clk.Now()); d != 0 {
			t.Fatalf("waited %s", d)
		}
	}
	first.pacer.reserve(counterKey(GroupOther, "GET", "/rate-limits"), clk.Now())
	saved := first.PacerState()
	if len(saved[GroupInvoiceExport]) != OurShare(16) || len(saved["other|GET /rate-limits"]) != 1 {
		t.Fatalf("saved state %v", saved)
	}

	second, err := New(Options{BaseURL: "http://127.0.0.1:1/v2", Clock: clk, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if d := second.pacer.reserve(GroupInvoiceExport, clk.Now()); d != 0 {
		t.Fatal("precondition: a fresh client does not know the history")
	}
	third, err := New(Options{BaseURL: "http://127.0.0.1:1/v2", Clock: clk, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	third.RestorePacerState(saved)
	d := third.pacer.reserve(GroupInvoiceExport, clk.Now())
	if d <= 0 || d > time.Minute {
		t.Fatalf("restored client waits %s, want the rest of the minute window", d)
	}
	// saved times from a clock that was ahead never block for longer than a window
	future := PacerState{GroupInvoiceExport: {clk.Now().Add(48 * time.Hour)}}
	fourth, _ := New(Options{BaseURL: "http://127.0.0.1:1/v2", Clock: clk, Limits: limits})
	fourth.RestorePacerState(future)
	if got := fourth.PacerState()[GroupInvoiceExport]; len(got) != 1 || got[0].After(clk.Now()) {
		t.Fatalf("future event not clamped: %v", got)
	}
}

// TestPacerRecordedChangesOnlyWithTheHistory: the counter a saver watches moves with every send
// the pacer records and with a restored history, and not when time passes, a request waits, or
// nothing happens; so a saver that skips an unchanged counter never misses a send.
func TestPacerRecordedChangesOnlyWithTheHistory(t *testing.T) {
	clk := newFakeClock()
	c, err := New(Options{BaseURL: "http://127.0.0.1:1/v2", Clock: clk, Limits: RateTable{GroupOther: {PerSecond: 1}, GroupAuth: {PerSecond: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	start := c.PacerRecorded()
	key := counterKey(GroupOther, "GET", "/rate-limits")
	if d := c.pacer.reserve(key, clk.Now()); d != 0 {
		t.Fatalf("first request waited %s", d)
	}
	afterSend := c.PacerRecorded()
	if afterSend == start {
		t.Fatal("a recorded send left the counter unchanged")
	}
	if d := c.pacer.reserve(key, clk.Now()); d == 0 {
		t.Fatal("precondition: the second request in the same second must wait")
	}
	clk.Advance(time.Hour)
	_ = c.PacerState()
	if got := c.PacerRecorded(); got != afterSend {
		t.Fatalf("counter moved from %d to %d without a send", afterSend, got)
	}
	if d := c.pacer.reserve(GroupAuth, clk.Now()); d != 0 { // a per-IP counter
		t.Fatalf("auth request waited %s", d)
	}
	afterIP := c.PacerRecorded()
	if afterIP == afterSend {
		t.Fatal("a send counted per IP left the counter unchanged")
	}
	c.RestorePacerState(PacerState{key: {clk.Now()}})
	if c.PacerRecorded() == afterIP {
		t.Fatal("a restored history left the counter unchanged")
	}
}
