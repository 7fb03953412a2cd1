package ksef

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
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

// pacer keeps our own sliding 1 s / 60 s / 3600 s windows per group so KSeF never has to say 429.
// It is shared by every goroutine using the Client.
type pacer struct {
	mu     sync.Mutex
	clock  Clock
	limits RateTable
	hist   map[string][]time.Time // ascending send times within the longest window
}

// safety margin: use 90% of each budget (at least 1)
func budget(n int) int {
	if n <= 0 {
		return 0
	}
	b := n * 9 / 10
	if b < 1 {
		b = 1
	}
	return b
}

func newPacer(clock Clock, limits RateTable) *pacer {
	return &pacer{clock: clock, limits: limits, hist: map[string][]time.Time{}}
}

func (p *pacer) setLimits(t RateTable) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limits = t
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

// wait blocks until a request of the group may be sent and records it.
func (p *pacer) wait(ctx context.Context, group string) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.mu.Lock()
		d := p.reserve(group, p.clock.Now())
		p.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := p.clock.Sleep(ctx, d); err != nil {
			return fmt.Errorf("pacing %s: %w", group, err)
		}
	}
}

// reserve records a send at now and returns 0, or returns how long to wait for a free slot.
func (p *pacer) reserve(group string, now time.Time) time.Duration {
	lim, ok := p.limits[group]
	if !ok {
		return 0
	}
	windows := []struct {
		w time.Duration
		n int
	}{{time.Second, budget(lim.PerSecond)}, {time.Minute, budget(lim.PerMinute)}, {time.Hour, budget(lim.PerHour)}}
	var longest time.Duration
	for _, w := range windows {
		if w.n > 0 {
			longest = w.w
		}
	}
	if longest == 0 {
		return 0
	}
	h := p.hist[group]
	cut := sort.Search(len(h), func(i int) bool { return h[i].After(now.Add(-longest)) })
	h = h[cut:]
	var delay time.Duration
	for _, w := range windows {
		if w.n == 0 {
			continue
		}
		first := sort.Search(len(h), func(i int) bool { return h[i].After(now.Add(-w.w)) })
		if inWindow := len(h) - first; inWindow >= w.n {
			// the oldest of the last w.n sends must leave the window first
			leaves := h[len(h)-w.n].Add(w.w)
			if d := leaves.Sub(now) + time.Millisecond; d > delay {
				delay = d
			}
		}
	}
	if delay > 0 {
		p.hist[group] = h
		return delay
	}
	p.hist[group] = append(h, now)
	return 0
}

// Limits returns the rate table the pacer uses now.
func (c *Client) Limits() RateTable { return c.pacer.limitsCopy() }

// RefreshLimits fetches GET /rate-limits and adopts the server's table (groups the server does
// not list, such as the per-IP auth group, keep their current values).
func (c *Client) RefreshLimits(ctx context.Context) error {
	var out map[string]Limit
	if err := c.do(ctx, call{method: http.MethodGet, path: "/rate-limits", bearer: bearerAccess, out: &out}); err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	t := c.pacer.limitsCopy()
	for group, l := range out {
		if l.PerSecond < 0 || l.PerMinute < 0 || l.PerHour < 0 {
			continue
		}
		t[group] = l
	}
	c.pacer.setLimits(t)
	c.log.Info("rate limits adopted", "groups", len(out))
	return nil
}
