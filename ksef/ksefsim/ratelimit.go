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

// limiter keeps, per key, the ascending times of admitted requests over the last hour.
type limiter struct {
	hits map[string][]time.Time
}

// admit records a request at now unless a window is full; then it returns the wait until the
// oldest request of the violated window leaves it.
func (l *limiter) admit(key string, lim rateLimit, now time.Time) (bool, time.Duration, string) {
	ts := l.hits[key]
	cut := sort.Search(len(ts), func(i int) bool { return ts[i].After(now.Add(-time.Hour)) })
	if cut > 0 {
		ts = append(ts[:0], ts[cut:]...)
	}
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
	if wait > 0 {
		l.hits[key] = ts
		return false, wait, why
	}
	l.hits[key] = append(ts, now)
	return true, 0, ""
}
