package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/spool"
)

// A duplicate whose original another tool registered (issue 10 §7) is accepted with the original's
// KSeF number, but its UPO lives in that tool's session: KSeF may refuse it to us for good (403
// insufficient-resource-access, 21173 "no such session", 404). Without a bound its outputs would be retried every 5 minutes for ever
// and the ERP would never hear of the invoice. So after maxUPOAttempts failed attempts (spaced
// 2 s, 4 s, 8 s, … as every output retry) the outputs are written without a UPO, and .ksef.json,
// the log and `status` say so plainly. Invoices registered in our own sessions always get their UPO:
// KSeF owes it to us, and a failure there is weather that passes.

// maxUPOAttempts bounds how often the UPO of an invoice registered in another tool's session is
// asked for before its outputs are written without one.
const maxUPOAttempts = 5

// upoAttempts counts, per invoice, UPO downloads that failed in a row. In memory: after a restart
// an invoice gets its attempts again, which is still bounded.
type upoAttempts struct {
	mu    sync.Mutex
	fails map[int64]int
}

func (a *upoAttempts) failed(id int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fails == nil {
		a.fails = map[int64]int{}
	}
	a.fails[id]++
	return a.fails[id]
}

func (a *upoAttempts) forget(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.fails, id)
}

// upoOrReason returns the invoice's UPO, or, once the UPO of an invoice registered in another
// tool's session has failed maxUPOAttempts times, no UPO and why. Any other failure is returned as
// an error, and the outputs are retried later.
func (e *Engine) upoOrReason(ctx context.Context, inv *spool.Invoice) ([]byte, *upoGap, error) {
	upo, err := e.fetchUPO(ctx, inv)
	if err == nil {
		e.upoTries.forget(inv.ID)
		return upo, nil, nil
	}
	if errors.Is(err, errNoUPOSession) {
		return nil, &upoGap{unnamed: true, last: err}, nil // asking again cannot help
	}
	if ctx.Err() != nil || rateLimited(err) {
		return nil, nil, err // not KSeF refusing the UPO: asked again once the group may be used
	}
	n := e.upoTries.failed(inv.ID)
	if n < maxUPOAttempts {
		return nil, nil, err
	}
	foreign, ferr := e.foreignSession(ctx, inv)
	if ferr != nil || !foreign {
		return nil, nil, err
	}
	e.upoTries.forget(inv.ID)
	return nil, &upoGap{attempts: n, session: inv.SessionRef, last: err}, nil
}

// upoGap is why an accepted invoice's outputs are written without a UPO: in the configured
// language for upoMissing in .ksef.json (a bookkeeper reads it), in English for the log.
type upoGap struct {
	attempts int
	session  string
	unnamed  bool // KSeF did not name the session that registered the invoice (CIRFMF/ksef-api #450)
	last     error
}

func (g *upoGap) text(l msg.Lang) string {
	if g.unnamed {
		return l.T(msg.UPOMissingUnnamed)
	}
	return l.T(msg.UPOMissingForeign, g.attempts, g.session, g.last.Error())
}

// errNoUPOSession: an accepted duplicate whose registering session is unknown (KSeF named one that
// does not hold the original, CIRFMF/ksef-api #450). KSeF gives a UPO only by session
// (GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo), so there is none to ask for.
var errNoUPOSession = errors.New("KSeF did not name the session that registered the invoice")

// foreignSession reports whether inv was registered in a session that is not one of ours: a
// duplicate whose original another tool sent. Asked only after repeated UPO failures.
func (e *Engine) foreignSession(ctx context.Context, inv *spool.Invoice) (bool, error) {
	if inv.UpoURL != "" || inv.SessionRef == "" {
		return false, nil // KSeF gave us a UPO link, or there is no session to speak of
	}
	ours, err := e.outJ.Sessions(ctx, e.opt.NIP)
	if err != nil {
		return false, err
	}
	for _, s := range ours {
		if s.Ref == inv.SessionRef {
			return false, nil
		}
	}
	return true, nil
}

// noUPO remembers, between staging an invoice's outputs and marking it done, which invoices are
// written without a UPO and why.
type noUPO struct {
	mu     sync.Mutex
	reason map[int64]string
}

func (n *noUPO) set(id int64, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.reason == nil {
		n.reason = map[int64]string{}
	}
	n.reason[id] = reason
}

// take returns and forgets id's reason ("" when its UPO was written).
func (n *noUPO) take(id int64) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.reason[id]
	delete(n.reason, id)
	return r
}
