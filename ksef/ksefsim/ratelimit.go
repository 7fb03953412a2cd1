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

// limiter keeps, per key, the ascending times of admitted requests over the last hour, and until
// when the key is blocked if a 429 started a block.
type limiter struct {
	hits   map[string][]time.Time
	blocks map[string]time.Time
}

// blockedWindow is admit's "why" for a request refused because it came during a block.
const blockedWindow = "block"

// admit records a request at now unless the key is blocked or a window is full; then it returns
// the wait until the key may send again and why ("second", "minute", "hour" or blockedWindow).
//
// Official KSeF (CIRFMF/ksef-docs, limity/limity-api.md, "Ogólne zasady limitów" §2): "W przypadku
// przekroczenia limitów żądań API zwracany jest kod HTTP 429 Too Many Requests, a kolejne żądania
// są tymczasowo blokowane. [...] Dokładny czas blokady jest zwracany w nagłówku odpowiedzi
// Retry-After." So a 429 blocks the key until its Retry-After, and a request sent before then is
// refused with what is left of the block instead of being judged by the windows alone: a client
// that ignores Retry-After for its other calls of the group is caught here, not only in
// production. The same text says the block's length is "dynamic" and that "Wielokrotne
// przekroczenia mogą skutkować znacznym wydłużeniem blokady", without a formula. A model that
// lengthened the block at every early request would lock out for good two well-behaved clients of
// one context (two daemons sharing an outbox), each learning of the other's block only by breaking
// into it; so the simulator does not guess: a long block is set on demand (RateLimitNext).
func (l *limiter) admit(key string, lim rateLimit, now time.Time) (bool, time.Duration, string) {
	if wait := l.blockLeft(key, now); wait > 0 {
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

// startBlock blocks key for wait from now. After a window's refusal wait is the window's own wait,
// so a client that sleeps the Retry-After (wait rounded up) never arrives during the block.
func (l *limiter) startBlock(key string, now time.Time, wait time.Duration) {
	if l.blocks == nil {
		l.blocks = map[string]time.Time{}
	}
	l.blocks[key] = now.Add(wait)
}

// blockLeft is how long key stays blocked at now (0: not blocked). An expired block is forgotten,
// so the map holds only keys blocked now.
func (l *limiter) blockLeft(key string, now time.Time) time.Duration {
	until, ok := l.blocks[key]
	if !ok {
		return 0
	}
	if !now.Before(until) {
		delete(l.blocks, key)
		return 0
	}
	return until.Sub(now)
}
