package ksef

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

// pacer keeps our own sliding 1 s / 60 s / 3600 s windows per group so KSeF never has to say 429.
// It is shared by every goroutine using the Client.
type pacer struct {
	mu      sync.Mutex
	clock   Clock
	limits  RateTable
	logs    map[string]*slidingwindow.Log // per group, within our share of each window
	observe observer
}

func newPacer(clock Clock, limits RateTable) *pacer {
	return &pacer{clock: clock, limits: limits, logs: map[string]*slidingwindow.Log{}}
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
	for group, log := range p.logs {
		log.SetWindows(windowsOf(t[group])...)
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

// wait blocks until a request of the group may be sent and records it.
func (p *pacer) wait(ctx context.Context, group string) error {
	var waited time.Duration
	defer func() { p.observe.pacerWait(group, waited) }()
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
		waited += d
	}
}

// reserve records a send at now and returns 0, or returns how long to wait for a free slot.
func (p *pacer) reserve(group string, now time.Time) time.Duration {
	lim, ok := p.limits[group]
	if !ok {
		return 0
	}
	log := p.logs[group]
	if log == nil {
		log = slidingwindow.New(windowsOf(lim)...)
		p.logs[group] = log
	}
	return log.Reserve(now)
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
