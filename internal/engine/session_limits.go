package engine

import (
	"context"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// How many invoices one batch session may hold is KSeF's limit for our context: 10 000 by default,
// raised on request or lowered by KSeF (CIRFMF/ksef-docs limity/limity.md, "Limity na kontekst";
// GET /limits/context). A batch over it fails as a whole with 420 "Przekroczony limit faktur w
// sesji", and after three such sessions its invoices would go to error/ though nothing is wrong
// with them. So before batches are cut, the limit is read (at most hourly) and the smaller of it
// and send.max_batch_invoices is used. Online sessions need no look: KSeF refuses the invoice past
// the limit with 21155 and the engine goes on in a new session (sendFailed).
//
// The largest invoice is KSeF's limit for the context too: 1 MB, 3 MB with an attachment, by
// default, raised on request up to 5 MB and 10 MB ("kontekstu - np. zwiększenie maksymalnego
// rozmiaru faktury", limity.md "Dostosowanie limitów"). Validation refused everything over the
// defaults, so a company whose limit KSeF had raised could not send what KSeF would take. Now an
// invoice over the default makes the engine read the limits (the same hourly read), and the limit
// in force decides; send.max_invoice_size, when set, may only be stricter.

// limitsKSeF is what reading the context's session limits asks of KSeF.
type limitsKSeF interface {
	ContextLimits(ctx context.Context) (ksef.ContextLimits, error)
}

const (
	// limitsEvery is how long a read of the context's limits is used before it is read again.
	limitsEvery = time.Hour
	// limitsRetry is how soon a failed read is tried again; meanwhile the configuration decides.
	limitsRetry = 5 * time.Minute
)

// knownLimits is what the engine knows of KSeF's session limits for our context.
type knownLimits struct {
	limits ksef.ContextLimits
	known  bool      // false: never read (the configuration and KSeF's defaults decide)
	next   time.Time // when to read them again
}

// batchMax is how many invoices one batch session may take now.
func (e *Engine) batchMax(ctx context.Context) int {
	e.readContextLimits(ctx)
	if n := e.ctxLimits.limits.BatchSession.MaxInvoices; n > 0 && n < e.opt.Send.MaxBatchInvoices {
		return n
	}
	return e.opt.Send.MaxBatchInvoices
}

// invoiceSizes are the largest invoices, without and with an attachment, that validation lets
// through for lot. KSeF is asked only when one of lot's files is over its default limit (a
// conversion to UTF-8 may double it), so ordinary invoices never wait for a login.
func (e *Engine) invoiceSizes(ctx context.Context, lot []claimed) (plain, withAttachment int) {
	for i := range lot {
		if 2*lot[i].OrigSize > ksef.MaxInvoiceSize {
			e.readContextLimits(ctx)
			break
		}
	}
	plain, withAttachment = e.ctxLimits.limits.InvoiceSizes() // KSeF's defaults while not known
	if set := e.opt.Send.MaxInvoiceSize; set > 0 && (set < plain || !e.ctxLimits.known) {
		plain = set // stricter, or what the user knows of the context while KSeF cannot be asked
	}
	return plain, withAttachment
}

// readContextLimits reads the context's session limits when the last read is due for renewal. A
// failed read keeps what an earlier one learnt.
func (e *Engine) readContextLimits(ctx context.Context) {
	now := e.now()
	if now.Before(e.ctxLimits.next) {
		return
	}
	l, err := e.limitsK.ContextLimits(ctx)
	if err != nil {
		e.ctxLimits.next = now.Add(max(limitsRetry, ksef.RetryAfterHint(err)))
		e.log.Info("could not read KSeF's session limits for this context; batches follow send.max_batch_invoices and invoice sizes the last limits known (KSeF's defaults if none)",
			"max_batch_invoices", e.opt.Send.MaxBatchInvoices, "err", err)
		return
	}
	e.noteLimitChanges(l)
	e.ctxLimits = knownLimits{limits: l, known: true, next: now.Add(limitsEvery)}
}

// noteLimitChanges logs what in l changes what the engine does: fewer invoices per batch than
// configured, or invoice sizes other than validation used so far (KSeF's defaults before the first
// read).
func (e *Engine) noteLimitChanges(l ksef.ContextLimits) {
	n, was := l.BatchSession.MaxInvoices, e.ctxLimits.limits.BatchSession.MaxInvoices
	if n > 0 && n < e.opt.Send.MaxBatchInvoices && n != was {
		e.log.Info("KSeF allows fewer invoices per batch session in this context than send.max_batch_invoices; batches are cut to its limit",
			"limit", n, "max_batch_invoices", e.opt.Send.MaxBatchInvoices)
	}
	plain, withAttachment := l.InvoiceSizes()
	if oldPlain, oldAttach := e.ctxLimits.limits.InvoiceSizes(); plain != oldPlain || withAttachment != oldAttach {
		e.log.Info("KSeF's invoice size limits for this context changed; validation follows them",
			"max_invoice_size", plain, "max_invoice_size_with_attachment", withAttachment)
	}
}
