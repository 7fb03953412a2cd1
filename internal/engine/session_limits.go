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

// batchLimit is what the engine knows of KSeF's batch session limit for our context.
type batchLimit struct {
	maxInvoices int       // 0: not known (the configuration decides)
	next        time.Time // when to read it again
}

// batchMax is how many invoices one batch session may take now.
func (e *Engine) batchMax(ctx context.Context) int {
	e.readBatchLimit(ctx)
	if n := e.batchLimit.maxInvoices; n > 0 && n < e.opt.Send.MaxBatchInvoices {
		return n
	}
	return e.opt.Send.MaxBatchInvoices
}

// readBatchLimit reads the context's session limits when the last read is due for renewal.
func (e *Engine) readBatchLimit(ctx context.Context) {
	now := e.now()
	if now.Before(e.batchLimit.next) {
		return
	}
	l, err := e.limitsK.ContextLimits(ctx)
	if err != nil {
		e.batchLimit.next = now.Add(max(limitsRetry, ksef.RetryAfterHint(err)))
		e.log.Info("could not read KSeF's session limits for this context; batches follow send.max_batch_invoices",
			"max_batch_invoices", e.opt.Send.MaxBatchInvoices, "err", err)
		return
	}
	n := l.BatchSession.MaxInvoices
	if n > 0 && n < e.opt.Send.MaxBatchInvoices && n != e.batchLimit.maxInvoices {
		e.log.Info("KSeF allows fewer invoices per batch session in this context than send.max_batch_invoices; batches are cut to its limit",
			"limit", n, "max_batch_invoices", e.opt.Send.MaxBatchInvoices)
	}
	e.batchLimit = batchLimit{maxInvoices: n, next: now.Add(limitsEvery)}
}
