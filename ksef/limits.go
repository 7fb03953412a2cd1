package ksef

import (
	"context"
	"fmt"
	"net/http"
)

// KSeF's documented hard limits (digest §9 and open-api.json). This is the one definition: config
// defaults, config validation, the engine and the batch builder all read these, and may only be
// stricter.
const (
	// MaxInvoiceSize is the largest invoice KSeF accepts without attachments (1 MB).
	MaxInvoiceSize = 1_000_000
	// MaxInvoiceSizeWithAttachments is the cap for invoices with attachments (3 MB).
	MaxInvoiceSizeWithAttachments = 3_000_000
	// MaxRaisedInvoiceSize is the most KSeF may raise a context's limit for an invoice without
	// attachments to (5 MB: open-api.json OnlineSessionContextLimitsOverride, "maximum": 5), and
	// so the most the config may allow.
	MaxRaisedInvoiceSize = 5 * megabyte
	// MaxBatchInvoices is the number of invoices one batch session may hold.
	MaxBatchInvoices = 10_000
	// MaxBatchPartSize is the largest archive part before encryption (100 MB).
	MaxBatchPartSize = 100_000_000
	// MaxBatchParts is the number of parts one batch package may have.
	MaxBatchParts = 50
	// MaxBatchArchive is the largest whole batch archive before encryption (5 GB).
	MaxBatchArchive = 5_000_000_000
	// OnlineSendsPerHour is the production invoiceSend budget per (context, IP).
	OnlineSendsPerHour = 180
	// ExportsPerHour is the production invoiceExport budget per (context, IP).
	ExportsPerHour = 20
	// MaxConcurrentExports is how many exports may run at once before KSeF answers 21182.
	MaxConcurrentExports = 10
	// MaxExportInvoices is the most invoices one export package holds (open-api.json
	// InvoicePackage.invoiceCount "maximum": 10000; POST /invoices/exports "Limit liczby faktur:
	// 10 000 sztuk"): a fuller answer is cut and continues in the next export.
	MaxExportInvoices = 10_000
)

// OurShare is the part of a KSeF budget ksef-sync allows itself (90 %, at least 1), leaving room for
// other tools in the same context and for clock differences.
func OurShare(limit int) int {
	if limit <= 0 {
		return 0
	}
	return max(1, limit*9/10)
}

// SessionLimits are the limits of one kind of session in a context (the spec's
// OnlineSessionEffectiveContextLimits and BatchSessionEffectiveContextLimits).
type SessionLimits struct {
	MaxInvoiceSizeInMB               int `json:"maxInvoiceSizeInMB"`
	MaxInvoiceWithAttachmentSizeInMB int `json:"maxInvoiceWithAttachmentSizeInMB"`
	MaxInvoices                      int `json:"maxInvoices"`
}

// ContextLimits are the session limits in force for our context (EffectiveContextLimits). KSeF
// sets them per context and may raise them on request or lower them (CIRFMF/ksef-docs
// limity/limity.md, "Limity na kontekst": 10 000 invoices per session by default).
type ContextLimits struct {
	OnlineSession SessionLimits `json:"onlineSession"`
	BatchSession  SessionLimits `json:"batchSession"`
}

// megabyte is how ksef-sync reads KSeF's "MB" (limity.md gives the sizes in MB only): the decimal
// reading is the smaller one, so an invoice kept to it is never refused by a KSeF counting in MiB.
const megabyte = 1_000_000

// InvoiceSizes are the largest invoices, in bytes, that KSeF accepts in this context: without an
// attachment in either kind of session (the engine picks online or batch only later), and with one
// in a batch session (the only kind that takes attachments). A size KSeF leaves at 0 counts as
// KSeF's default.
func (l ContextLimits) InvoiceSizes() (plain, withAttachment int) {
	plain, withAttachment = MaxInvoiceSize, MaxInvoiceSizeWithAttachments
	if o, b := l.OnlineSession.MaxInvoiceSizeInMB, l.BatchSession.MaxInvoiceSizeInMB; o > 0 && b > 0 {
		plain = min(o, b) * megabyte
	}
	if a := l.BatchSession.MaxInvoiceWithAttachmentSizeInMB; a > 0 {
		withAttachment = a * megabyte
	}
	return plain, withAttachment
}

// ContextLimits reads GET /limits/context.
func (c *Client) ContextLimits(ctx context.Context) (ContextLimits, error) {
	var out ContextLimits
	err := c.do(ctx, call{method: http.MethodGet, path: "/limits/context", bearer: bearerAccess, out: &out})
	if err != nil {
		return ContextLimits{}, fmt.Errorf("context limits: %w", err)
	}
	return out, nil
}
