package ksefsim

import (
	"math"
	"sort"
	"strings"
	"time"
)

// rateLimit is one group's limits; 0 means "no limit for this window".
type rateLimit struct {
	PerSecond int `json:"perSecond"`
	PerMinute int `json:"perMinute"`
	PerHour   int `json:"perHour"`
}

// apiGroups are the groups GET /rate-limits reports (the spec's EffectiveApiRateLimits).
var apiGroups = []string{"onlineSession", "batchSession", "invoiceSend", "invoiceStatus", "sessionList", "sessionInvoiceList", "sessionMisc", "invoiceMetadata", "invoiceExport", "invoiceExportStatus", "invoiceDownload", "other"}

// rateGroup maps a spec route (method + path template) to its §9 group.
func rateGroup(method, tmpl string) string {
	switch {
	case tmpl == "/security/public-key-certificates", strings.HasPrefix(tmpl, "/auth/") && !strings.HasPrefix(tmpl, "/auth/sessions"):
		return "auth"
	case tmpl == "/sessions/online" || tmpl == "/sessions/online/{referenceNumber}/close":
		return "onlineSession"
	case tmpl == "/sessions/online/{referenceNumber}/invoices":
		return "invoiceSend"
	case tmpl == "/sessions/batch" || tmpl == "/sessions/batch/{referenceNumber}/close":
		return "batchSession"
	case tmpl == "/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}":
		return "invoiceStatus"
	case tmpl == "/sessions":
		return "sessionList"
	case tmpl == "/sessions/{referenceNumber}/invoices" || tmpl == "/sessions/{referenceNumber}/invoices/failed":
		return "sessionInvoiceList"
	case strings.HasPrefix(tmpl, "/sessions/{referenceNumber}"):
		return "sessionMisc"
	case tmpl == "/invoices/query/metadata":
		return "invoiceMetadata"
	case tmpl == "/invoices/exports":
		return "invoiceExport"
	case tmpl == "/invoices/exports/{referenceNumber}":
		return "invoiceExportStatus"
	case tmpl == "/invoices/ksef/{ksefNumber}":
		return "invoiceDownload"
	}
	return "other"
}

// specLimits is §9 as the spec states it: each group's limits from the x-rate-limits of its
// operations (every operation of a group states the same). The spec is the simulator's only copy of
// the numbers; the client keeps its own (ksef.ProductionLimits), so the two are checked against each
// other. NewServer refuses to start without the spec, so its error never reaches here.
func specLimits() map[string]rateLimit {
	limits := map[string]rateLimit{}
	sb, err := loadSpec()
	if err != nil {
		return limits
	}
	seen := map[string]bool{}
	for tmpl, item := range sb.doc.Paths.Map() {
		for method, op := range item.Operations() {
			raw, ok := op.Extensions["x-rate-limits"].(map[string]any)
			if !ok {
				continue
			}
			g := rateGroup(method, tmpl)
			if seen[g] {
				continue
			}
			if g == "other" && tmpl != "/rate-limits" {
				continue
			}
			seen[g] = true
			limits[g] = limitOf(raw)
		}
	}
	return limits
}

// limitOf reads one operation's x-rate-limits.
func limitOf(raw map[string]any) rateLimit {
	return rateLimit{PerSecond: intOf(raw["perSecond"]), PerMinute: intOf(raw["perMinute"]), PerHour: intOf(raw["perHour"])}
}

func intOf(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	}
	return 0
}

func effectiveLimits(mode string, scale float64) map[string]rateLimit {
	limits := specLimits()
	if mode != "scaled" || scale <= 0 {
		return limits
	}
	mul := func(n int) int {
		if n == 0 {
			return 0
		}
		return max(1, int(math.Ceil(float64(n)*scale)))
	}
	for g, l := range limits {
		limits[g] = rateLimit{mul(l.PerSecond), mul(l.PerMinute), mul(l.PerHour)}
	}
	return limits
}

// limiter keeps, per key, the ascending times of admitted requests over the last hour, and the
// key's block if a 429 started one.
type limiter struct {
	hits   map[string][]time.Time
	blocks map[string]block
}

// block is a refusal period started by a 429: every request of the key before until is refused.
type block struct {
	until  time.Time
	length time.Duration
}

// blockedWindow is admit's "why" for a request refused because it came during a block.
const blockedWindow = "block"

// maxBlock caps a block lengthened by repeated violations.
const maxBlock = time.Hour

// admit records a request at now unless the key is blocked or a window is full; then it returns
// the wait until the key may send again and why ("second", "minute", "hour" or blockedWindow).
//
// Official KSeF (CIRFMF/ksef-docs, limity/limity-api.md, "Ogólne zasady limitów" §2): "W przypadku
// przekroczenia limitów żądań API zwracany jest kod HTTP 429 Too Many Requests, a kolejne żądania
// są tymczasowo blokowane." and "Wielokrotne przekroczenia mogą skutkować znacznym wydłużeniem
// blokady." So a 429 blocks the key until its Retry-After, and a request sent before then is
// refused too instead of being judged by the windows alone: a client that ignores Retry-After for
// its other calls of the group must be caught here, not only in production. The docs call the
// block's length "dynamic" without a formula; doubling the broken block, capped at an hour, is our
// model of it.
func (l *limiter) admit(key string, lim rateLimit, now time.Time) (bool, time.Duration, string) {
	if wait, blocked := l.breakIn(key, now); blocked {
		return false, wait, blockedWindow
	}
	ts := l.hits[key]
	cut := sort.Search(len(ts), func(i int) bool { return ts[i].After(now.Add(-time.Hour)) })
	if cut > 0 {
		ts = append(ts[:0], ts[cut:]...)
	}
	wait, why := windowWait(ts, lim, now)
	if wait > 0 {
		l.hits[key] = ts
		l.startBlock(key, now, wait)
		return false, wait, why
	}
	l.hits[key] = append(ts, now)
	return true, 0, ""
}

// windowWait is the wait until the oldest request of the most violated window leaves it, 0 when
// every window has room.
func windowWait(ts []time.Time, lim rateLimit, now time.Time) (time.Duration, string) {
	var wait time.Duration
	var why string
	for _, w := range []struct {
		limit int
		span  time.Duration
		name  string
	}{{lim.PerSecond, time.Second, "second"}, {lim.PerMinute, time.Minute, "minute"}, {lim.PerHour, time.Hour, "hour"}} {
		if w.limit <= 0 {
			continue
		}
		from := sort.Search(len(ts), func(i int) bool { return ts[i].After(now.Add(-w.span)) })
		if len(ts)-from >= w.limit {
			// The request fits once the limit-th most recent hit has left the window.
			leave := ts[len(ts)-w.limit].Add(w.span).Sub(now)
			if leave > wait {
				wait, why = leave, w.name
			}
		}
	}
	return wait, why
}

// startBlock blocks key for wait from now: the window's own wait, so a client that sleeps the
// Retry-After (wait rounded up) never breaks into the block.
func (l *limiter) startBlock(key string, now time.Time, wait time.Duration) {
	if l.blocks == nil {
		l.blocks = map[string]block{}
	}
	l.blocks[key] = block{until: now.Add(wait), length: wait}
}

// breakIn reports whether key is blocked at now; if so the request is a repeated violation and the
// block starts again from now, twice as long as the one broken into (at most maxBlock). An expired
// block is forgotten, so the map holds only keys blocked now.
func (l *limiter) breakIn(key string, now time.Time) (time.Duration, bool) {
	b, ok := l.blocks[key]
	if !ok {
		return 0, false
	}
	if !now.Before(b.until) {
		delete(l.blocks, key)
		return 0, false
	}
	length := min(2*b.length, maxBlock)
	l.blocks[key] = block{until: now.Add(length), length: length}
	return length, true
}
