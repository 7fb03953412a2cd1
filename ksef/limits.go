package ksef

// KSeF's documented hard limits (digest §9 and open-api.json). This is the one definition: config
// defaults, config validation, the engine and the batch builder all read these, and may only be
// stricter.
const (
	// MaxInvoiceSize is the largest invoice KSeF accepts without attachments (1 MB).
	MaxInvoiceSize = 1_000_000
	// MaxInvoiceSizeWithAttachments is the cap for invoices with attachments (3 MB), the most the
	// config may allow.
	MaxInvoiceSizeWithAttachments = 3_000_000
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
)

// OurShare is the part of a KSeF budget ksef-sync allows itself (90 %, at least 1), leaving room for
// other tools in the same context and for clock differences.
func OurShare(limit int) int {
	if limit <= 0 {
		return 0
	}
	return max(1, limit*9/10)
}
