package ksef

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"time"
)

// KSeF's firewall blocks an IP address, not a company, and the block lasts: CIRFMF/ksef-docs
// limity/limity-api.md §3 "W przypadku powtarzających się naruszeń lub skrajnego obciążenia system
// może automatycznie zastosować działania ochronne, takie jak: blokada dostępu do API KSeF dla
// danego podmiotu lub zakresu adresów IP"; CIRFMF/ksef-api #617 ("my IP was locked") and #247
// ("Imperva jest dużo bardziej restrykcyjna niż opisane limity API", one server sending for 5 NIPs).
// A daemon serving 400 companies has 400 Clients behind one address; if each backed off on its own,
// the blocked address would still knock about 400 times a minute, and repeated violations are what
// lengthen the block. So the first firewall block closes a gate that every Client of the process
// talking to the same KSeF shares: nobody sends while it is closed, then exactly one request (the
// probe) tests the firewall. A probe let through opens the gate for everyone; a probe blocked again
// closes it for longer. The first pause is short: a single 403 may be a blip (CIRFMF/ksef-api #761,
// one token refresh), and a pause shorter than the daemon's wait limit costs no operation its turn;
// a block that lasts shows itself on the probe.

const (
	// firewallRecheck is the first pause, before a probe tells a blip from a block that lasts.
	firewallRecheck = 5 * time.Second
	// firstFirewallPause is the pause once a probe was blocked too; it doubles up to the max.
	firstFirewallPause = time.Minute
	maxFirewallPause   = 16 * time.Minute
	// probePoll is how often a request waiting for the probe's outcome looks again. It waits on
	// the Client's clock (not a channel) so that tests driving that clock see every waiter asleep.
	probePoll = time.Second
)

// firewallGate is the process-wide pause after a firewall block, shared per KSeF base URL.
type firewallGate struct {
	mu sync.Mutex
	// pause is the current pause: 0 while the gate is open, else how long the last block closed
	// it for (it doubles with each probe blocked again).
	pause    time.Duration
	until    time.Time // when the probe may go out
	probing  bool      // the probe is out
	incident string    // the last block's incident number, for the errors of held requests
	since    time.Time // when the gate closed
	// closes counts the closings, so that the late block of a request let through before the gate
	// closed and reopened does not close it again.
	closes uint64
}

// gateTicket is a request the gate let through.
type gateTicket struct {
	probe  bool
	closes uint64 // the gate's closings when it was let through
	// paused says the request waited at the gate: its pacing slot and token may be stale.
	paused bool
}

type gateKey struct {
	base  string
	clock Clock
}

var (
	firewallGatesMu sync.Mutex
	firewallGates   = map[gateKey]*firewallGate{}
)

// firewallGateFor is the gate of every Client of the process talking to base on clock: with the
// real clock, every company of the daemon. Tests with an injected clock share a gate among the
// Clients on that clock; a clock that cannot be compared gets a gate of its own.
func firewallGateFor(base string, clock Clock) *firewallGate {
	if !reflect.TypeOf(clock).Comparable() {
		return &firewallGate{}
	}
	firewallGatesMu.Lock()
	defer firewallGatesMu.Unlock()
	k := gateKey{base, clock}
	g := firewallGates[k]
	if g == nil {
		g = &firewallGate{}
		firewallGates[k] = g
	}
	return g
}

// enter waits until a request may go out: at once while the gate is open; while it is closed, for
// the end of the pause and then either as the probe or until the probe was let through. With a
// wait limit on ctx (WithWaitLimit), a longer wait returns a held *BlockedError at once instead.
func (g *firewallGate) enter(ctx context.Context, clock Clock) (gateTicket, error) {
	limit, bounded := waitLimitOf(ctx)
	var waited time.Duration
	for {
		if err := ctx.Err(); err != nil {
			return gateTicket{}, err
		}
		t, wait, held := g.try(clock.Now())
		if wait <= 0 {
			t.paused = waited > 0
			return t, nil
		}
		if bounded && waited+wait > limit {
			return gateTicket{}, held
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return gateTicket{}, err
		}
		waited += wait
	}
}

// try lets a request through at now, or says how long to wait (and the error of a request that
// will not wait so long).
func (g *firewallGate) try(now time.Time) (gateTicket, time.Duration, *BlockedError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := gateTicket{closes: g.closes}
	switch {
	case g.pause == 0:
		return t, 0, nil
	case now.Before(g.until):
		left := g.until.Sub(now)
		return t, left, &BlockedError{HTTPStatus: 403, IncidentID: g.incident, Held: true, RetryAfter: left}
	case !g.probing:
		g.probing = true
		t.probe = true
		return t, 0, nil
	}
	return t, probePoll, &BlockedError{HTTPStatus: 403, IncidentID: g.incident, Held: true, RetryAfter: probePoll}
}

// blocked records a firewall block of a request let through with t. The first block (or the probe
// blocked again) closes the gate and is logged, once for the whole process; the block of a request
// that went out before the gate closed changes nothing.
func (g *firewallGate) blocked(t gateTicket, now time.Time, incident string, log *slog.Logger, op string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := g.pause == 0 && t.closes == g.closes
	if !first && !t.probe {
		return
	}
	switch {
	case first:
		g.pause, g.since, g.closes = firewallRecheck, now, g.closes+1
	case g.pause < firstFirewallPause:
		g.pause = firstFirewallPause
	default:
		g.pause = min(2*g.pause, maxFirewallPause)
	}
	g.until, g.probing = now.Add(g.pause), false
	if incident != "" {
		g.incident = incident
	}
	log.Warn("blocked by KSeF's firewall, incident "+orNone(incident)+": this IP address appears to be blocked, so every "+
		"company's requests to KSeF pause, then one request tests whether the block has lifted. If it lasts, give the "+
		"incident number to KSeF support and check how many requests this address sends to KSeF",
		"pause", g.pause, "blocked_for", now.Sub(g.since), "op", op)
}

// passed records that the firewall let a request through: the probe opens the gate for everyone.
func (g *firewallGate) passed(t gateTicket, now time.Time, log *slog.Logger) {
	if !t.probe {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	log.Info("KSeF's firewall lets requests through again; every company resumes", "blocked_for", now.Sub(g.since))
	g.pause, g.probing = 0, false
}

// unsettled records that the request let through with t got no answer (a network failure, a
// cancelled call): if it was the probe, the next request probes instead.
func (g *firewallGate) unsettled(t gateTicket) {
	if !t.probe {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.probing = false
}
