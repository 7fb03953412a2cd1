package ksef

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/slidingwindow"
)

// Limit is one rate-limit group's budget. A zero field means "no limit for that window".
type Limit struct {
	PerSecond int `json:"perSecond"`
	PerMinute int `json:"perMinute"`
	PerHour   int `json:"perHour"`
}

// RateTable maps a §9 group name to its limit.
type RateTable map[string]Limit

// Rate-limit group names (§9).
const (
	GroupOnlineSession       = "onlineSession"
	GroupInvoiceSend         = "invoiceSend"
	GroupBatchSession        = "batchSession"
	GroupInvoiceStatus       = "invoiceStatus"
	GroupSessionList         = "sessionList"
	GroupSessionInvoiceList  = "sessionInvoiceList"
	GroupSessionMisc         = "sessionMisc"
	GroupInvoiceMetadata     = "invoiceMetadata"
	GroupInvoiceExport       = "invoiceExport"
	GroupInvoiceExportStatus = "invoiceExportStatus"
	GroupInvoiceDownload     = "invoiceDownload"
	GroupOther               = "other"
	GroupAuth                = "auth"
	// GroupStorage names pre-signed storage downloads in observations; it is not paced.
	GroupStorage = "storage"
)

// ProductionLimits is the PRD table of §9 (also the TEST default since 2.5.0).
func ProductionLimits() RateTable {
	return RateTable{
		GroupOnlineSession:       {10, 30, 120},
		GroupInvoiceSend:         {10, 30, 180},
		GroupBatchSession:        {10, 20, 60},
		GroupInvoiceStatus:       {30, 120, 1200},
		GroupSessionList:         {5, 10, 60},
		GroupSessionInvoiceList:  {10, 20, 200},
		GroupSessionMisc:         {10, 120, 1200},
		GroupInvoiceMetadata:     {8, 16, 20},
		GroupInvoiceExport:       {8, 16, 20},
		GroupInvoiceExportStatus: {10, 60, 600},
		GroupInvoiceDownload:     {8, 16, 64},
		GroupOther:               {10, 30, 120},
		GroupAuth:                {60, 0, 0},
	}
}

// groupFor classifies an API path (relative to the base URL, without query) into its §9 group.
func groupFor(method, path string) string {
	p := strings.Trim(path, "/")
	seg := strings.Split(p, "/")
	switch {
	case seg[0] == "security":
		return GroupAuth
	case seg[0] == "auth":
		if len(seg) > 1 && seg[1] == "sessions" {
			return GroupOther
		}
		return GroupAuth
	case seg[0] == "sessions":
		switch {
		case len(seg) == 1:
			return GroupSessionList
		case seg[1] == "online" && len(seg) == 4 && seg[3] == "invoices":
			return GroupInvoiceSend
		case seg[1] == "online":
			return GroupOnlineSession
		case seg[1] == "batch":
			return GroupBatchSession
		case len(seg) == 2:
			return GroupSessionMisc
		case seg[2] == "upo" || seg[len(seg)-1] == "upo":
			return GroupSessionMisc
		case seg[2] == "invoices" && (len(seg) == 3 || (len(seg) == 4 && seg[3] == "failed")):
			return GroupSessionInvoiceList
		case seg[2] == "invoices" && len(seg) == 4:
			return GroupInvoiceStatus
		}
		return GroupSessionMisc
	case seg[0] == "invoices":
		switch {
		case len(seg) >= 2 && seg[1] == "query":
			return GroupInvoiceMetadata
		case len(seg) == 2 && seg[1] == "exports" && method == http.MethodPost:
			return GroupInvoiceExport
		case len(seg) >= 2 && seg[1] == "exports":
			return GroupInvoiceExportStatus
		case len(seg) >= 2 && seg[1] == "ksef":
			return GroupInvoiceDownload
		}
	}
	return GroupOther
}

// counterKey is the name of the budget a request draws from. KSeF counts most groups as a whole,
// but every endpoint of the "other" group has its own counter (§9), so those get one each.
func counterKey(group, method, path string) string {
	if group != GroupOther {
		return group
	}
	return group + "|" + method + " " + pathTemplate(path)
}

// pathTemplate replaces identifiers in a path (reference numbers, NIPs, KSeF numbers) by {id}.
func pathTemplate(path string) string {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	for i, s := range seg {
		if strings.ContainsAny(s, "0123456789") {
			seg[i] = "{id}"
		}
	}
	return "/" + strings.Join(seg, "/")
}

// groupOfKey is the limit group a counter key belongs to.
func groupOfKey(key string) string {
	g, _, _ := strings.Cut(key, "|")
	return g
}

// pacer keeps our own sliding 1 s / 60 s / 3600 s windows per counter so KSeF never has to say 429.
// It is shared by every goroutine using the Client. The unauthenticated auth group is counted per
// IP by KSeF, so its log is shared by every Client in the process (processIP).
type pacer struct {
	mu      sync.Mutex
	clock   Clock
	limits  RateTable
	logs    map[string]*slidingwindow.Log // per counter key, within our share of each window
	blocks  blocks                        // KSeF's blocks after a 429, per counter key
	ip      *ipCounters
	observe observer
	// follow is when the table was last read from KSeF (limits_follow.go).
	follow limitsFollow
	// recorded counts the sends recorded in logs (and histories restored): PacerRecorded.
	recorded atomic.Uint64
}

// ipCounters are per-IP counters (the auth group).
type ipCounters struct {
	sync.Mutex
	logs     map[string]*slidingwindow.Log
	blocks   blocks
	recorded atomic.Uint64 // as pacer.recorded, for logs
}

// processIP is shared by every real-clock Client of the process: two companies in one daemon share
// the IP and so share this budget. Clients with an injected clock (tests) keep their own.
var processIP = &ipCounters{logs: map[string]*slidingwindow.Log{}, blocks: blocks{}}

func perIP(group string) bool { return group == GroupAuth }

// perIPJitter is how unevenly the requests of a per-IP group may reach KSeF compared with when
// they were paced. Every client of the process draws from that budget at once: a daemon serving
// many companies (issue 13) logs dozens in together, each over its own connections, and on a busy
// machine a request may wait a second between its slot and the wire. Counting our share of each
// window over the window plus that second keeps any real window of arrivals within the limit;
// two thirds of the count, tried first, still let BenchmarkCompanies100x20 meet 16 answers 429.
const perIPJitter = time.Second

// windowsFor is the pacer's windows for a counter of group under the limit l.
func windowsFor(group string, l Limit) []slidingwindow.Window {
	ws := windowsOf(l)
	if perIP(group) {
		for i := range ws {
			ws[i].Span += perIPJitter
		}
	}
	return ws
}

func newPacer(clock Clock, limits RateTable) *pacer {
	ip := processIP
	if _, real := clock.(WallClock); !real {
		ip = &ipCounters{logs: map[string]*slidingwindow.Log{}, blocks: blocks{}}
	}
	return &pacer{clock: clock, limits: limits, logs: map[string]*slidingwindow.Log{}, blocks: blocks{}, ip: ip}
}

// windowsOf turns a group's limit into our share of each of its windows.
func windowsOf(l Limit) []slidingwindow.Window {
	return []slidingwindow.Window{
		{Span: time.Second, Limit: OurShare(l.PerSecond)},
		{Span: time.Minute, Limit: OurShare(l.PerMinute)},
		{Span: time.Hour, Limit: OurShare(l.PerHour)},
	}
}

func (p *pacer) setLimits(t RateTable) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limits = t
	for key, log := range p.logs {
		log.SetWindows(windowsFor(groupOfKey(key), t[groupOfKey(key)])...)
	}
}

func (p *pacer) limitsCopy() RateTable {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(RateTable, len(p.limits))
	for k, v := range p.limits {
		out[k] = v
	}
	return out
}

// waitLimitKey carries WithWaitLimit's bound in a context.
type waitLimitKey struct{}

// WithWaitLimit bounds how long one call made with ctx may wait inside the client before a request:
// for a slot in our own budget or for the end of a block KSeF set with a 429 (Retry-After). A call
// that would wait longer returns a *RateLimitError at once, without sending anything, whose
// RetryAfter says when the group may be used again; the caller decides what to do meanwhile. A 503
// whose Retry-After is longer than the limit is returned too (an *UnavailableError with its
// RetryAfter) rather than slept. The daemon's loop uses it so that a long Retry-After does not stop
// it taking in and rejecting files.
func WithWaitLimit(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, waitLimitKey{}, d)
}

func waitLimitOf(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(waitLimitKey{}).(time.Duration)
	return d, ok
}

// blocks are the blocks KSeF set with a 429, per counter key: when the key may be used again.
// CIRFMF/ksef-docs limity/limity-api.md §2: after a 429 "kolejne żądania są tymczasowo blokowane
// [...] Dokładny czas blokady jest zwracany w nagłówku odpowiedzi Retry-After [...] Wielokrotne
// przekroczenia mogą skutkować znacznym wydłużeniem blokady." A request sent during the block is
// refused and may lengthen it, so no call of the key goes before its end, whichever goroutine
// makes it.
type blocks map[string]time.Time

// left is how long key stays blocked at now (0: not blocked; a block that has ended is forgotten).
func (b blocks) left(key string, now time.Time) time.Duration {
	until, ok := b[key]
	if !ok {
		return 0
	}
	if !now.Before(until) {
		delete(b, key)
		return 0
	}
	return until.Sub(now)
}

// block records that KSeF refuses key's requests until until (a later block is never shortened).
func (p *pacer) block(key string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, unlock := p.blocksOf(key)
	defer unlock()
	if until.After(b[key]) {
		b[key] = until
	}
	p.follow.refusedByKSeF() // only KSeF's 429 blocks a key: its limits may be lower than ours
}

// blocksOf is the block table key belongs to (the process's, locked, for a per-IP group) and what
// to call when done with it. Callers hold p.mu.
func (p *pacer) blocksOf(key string) (blocks, func()) {
	if perIP(groupOfKey(key)) {
		p.ip.Lock()
		return p.ip.blocks, p.ip.Unlock
	}
	return p.blocks, func() {}
}

// wait blocks until a request on counter key may be sent and records it. With a wait limit on ctx
// (WithWaitLimit), a wait that would take longer returns a *RateLimitError at once instead.
func (p *pacer) wait(ctx context.Context, key string) error {
	group := groupOfKey(key)
	limit, bounded := waitLimitOf(ctx)
	var waited time.Duration
	defer func() { p.observe.pacerWait(group, waited) }()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.mu.Lock()
		d, blocked := p.next(key, p.clock.Now())
		p.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if bounded && waited+d > limit {
			return &RateLimitError{Group: group, RetryAfter: d, Ours: !blocked}
		}
		if err := p.clock.Sleep(ctx, d); err != nil {
			return fmt.Errorf("pacing %s: %w", group, err)
		}
		waited += d
	}
}

// next reserves a send on key at now (0) or says how long to wait: for the end of KSeF's block
// (blocked) or for a free slot in our budget. Callers hold p.mu.
func (p *pacer) next(key string, now time.Time) (wait time.Duration, blocked bool) {
	if d := p.blockLeft(key, now); d > 0 {
		return d, true
	}
	return p.reserve(key, now), false
}

// blockLeft is how long KSeF's block on key lasts from now; callers hold p.mu.
func (p *pacer) blockLeft(key string, now time.Time) time.Duration {
	b, unlock := p.blocksOf(key)
	defer unlock()
	return b.left(key, now)
}

// reserve records a send at now and returns 0, or returns how long to wait for a free slot;
// callers hold p.mu.
func (p *pacer) reserve(key string, now time.Time) time.Duration {
	group := groupOfKey(key)
	lim, ok := p.limits[group]
	if !ok {
		return 0
	}
	if perIP(group) {
		p.ip.Lock()
		defer p.ip.Unlock()
	}
	wait := p.logFor(key, group, lim).Reserve(now)
	if wait == 0 {
		p.recordedFor(group).Add(1)
	}
	return wait
}

// logFor is the log of counter key, made for the group's limit lim on first use: in the process's
// per-IP counters for a per-IP group, else in the pacer's. Callers hold p.mu, and p.ip for a per-IP
// group.
func (p *pacer) logFor(key, group string, lim Limit) *slidingwindow.Log {
	logs := p.logs
	if perIP(group) {
		logs = p.ip.logs
	}
	log := logs[key]
	if log == nil {
		log = slidingwindow.New(windowsFor(group, lim)...)
		logs[key] = log
	}
	return log
}

// recordedFor is the count of recorded sends that the group's sends add to (PacerRecorded).
func (p *pacer) recordedFor(group string) *atomic.Uint64 {
	if perIP(group) {
		return &p.ip.recorded
	}
	return &p.recorded
}

// PacerRecorded is a number that changes whenever a send is recorded in the history PacerState
// returns (or a history is restored), and only then: a saver that finds it unchanged has nothing
// new to save. Sends only leave the history by growing old, and an old one saved is harmless
// (the pacer drops it when it next looks).
func (c *Client) PacerRecorded() uint64 {
	return c.pacer.recorded.Load() + c.pacer.ip.recorded.Load()
}

// PacerState is the pacer's history: per counter key, the send times still inside its longest
// window. It is what a restarted process needs so it does not burst into a 429 (issue 11 item 7).
type PacerState map[string][]time.Time

// PacerState returns the pacer's history for saving (per-IP counters included).
func (c *Client) PacerState() PacerState {
	p := c.pacer
	now := p.clock.Now()
	out := PacerState{}
	p.mu.Lock()
	for key, log := range p.logs {
		if ev := log.Events(now); len(ev) > 0 {
			out[key] = ev
		}
	}
	p.mu.Unlock()
	p.ip.Lock()
	for key, log := range p.ip.logs {
		if ev := log.Events(now); len(ev) > 0 {
			out[key] = ev
		}
	}
	p.ip.Unlock()
	return out
}

// RestorePacerState adds a saved history (from this or an earlier process) to the pacer. Times in
// the future (a clock set back) are clamped to now, so they cannot block for longer than a window.
func (c *Client) RestorePacerState(st PacerState) {
	p := c.pacer
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, events := range st {
		group := groupOfKey(key)
		lim, ok := p.limits[group]
		if !ok || len(events) == 0 {
			continue
		}
		clamped := make([]time.Time, 0, len(events))
		for _, e := range events {
			if e.After(now) {
				e = now
			}
			clamped = append(clamped, e)
		}
		if perIP(group) {
			p.ip.Lock()
		}
		p.logFor(key, group, lim).Restore(clamped)
		p.recorded.Add(1)
		if perIP(group) {
			p.ip.Unlock()
		}
	}
}

// Limits returns the rate table the pacer uses now.
func (c *Client) Limits() RateTable { return c.pacer.limitsCopy() }

// fetchLimits reads GET /rate-limits and adopts the server's table (groups the server does not
// list, such as the per-IP auth group, keep their current values).
func (c *Client) fetchLimits(ctx context.Context) error {
	// Each member is read on its own: open-api.json does not close EffectiveApiRateLimits to other
	// properties, and one KSeF adds later (not a group's limits) must not cost us the whole table.
	var out map[string]json.RawMessage
	if err := c.do(ctx, call{method: http.MethodGet, path: "/rate-limits", bearer: bearerAccess, out: &out}); err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	old := c.pacer.limitsCopy()
	t := c.pacer.limitsCopy()
	for group, raw := range out {
		var l Limit
		if json.Unmarshal(raw, &l) != nil || l.PerSecond < 0 || l.PerMinute < 0 || l.PerHour < 0 {
			continue
		}
		t[group] = l
	}
	c.pacer.setLimits(t)
	if changed := changedGroups(old, t); len(changed) > 0 {
		c.log.Info("rate limits adopted", "groups", len(out), "changed", changed)
	} else {
		c.log.Debug("rate limits unchanged", "groups", len(out))
	}
	return nil
}

// changedGroups lists the groups whose limits differ between two tables, with their new values.
func changedGroups(old, cur RateTable) []string {
	var out []string
	for g, l := range cur {
		if o, ok := old[g]; !ok || o != l {
			out = append(out, fmt.Sprintf("%s=%d/%d/%d", g, l.PerSecond, l.PerMinute, l.PerHour))
		}
	}
	sort.Strings(out)
	return out
}
