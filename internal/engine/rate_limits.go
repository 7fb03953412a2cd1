package engine

import "github.com/ksef-sync/ksef-sync/ksef"

// rateLimitsKSeF is what the online budget asks of KSeF's rate table.
type rateLimitsKSeF interface {
	HourlyShare(group string, def int) int
}

// onlinePerHour is how many invoices auto mode sends online in any hour before it turns to batch:
// the configured number when set, else our share of the invoiceSend group's hourly limit in the
// table the client has adopted from GET /rate-limits (KSeF lowers a context's limits for a while
// or raises them on request: CIRFMF/ksef-docs limity/limity-api.md §5, CIRFMF/ksef-api #698), or of
// ksef.OnlineSendsPerHour before KSeF has reported one.
func (e *Engine) onlinePerHour() int {
	if n := e.opt.Send.OnlinePerHour; n > 0 {
		return n
	}
	return e.rateK.HourlyShare(ksef.GroupInvoiceSend, ksef.OnlineSendsPerHour)
}
