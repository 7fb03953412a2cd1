package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// sessionLister is what reconciling a lost batch open asks of KSeF.
type sessionLister interface {
	ListSessions(ctx context.Context, f ksef.SessionListFilter, fn func(ksef.SessionListItem) error) error
}

// clockSkew widens the window in which a lost open is looked for: KSeF stamps dateCreated with its
// own clock.
const clockSkew = 2 * time.Minute

// reconcileLostOpen runs after opening a batch session failed in a way that may have reached KSeF
// (a 5xx, a dropped connection: issue 10 §6). KSeF may have opened it, but only its answer carries
// the part upload addresses, so such a session can never be used: nothing is uploaded to it, it is
// never closed, it registers nothing, and KSeF cancels it when its upload time passes ("Cancelled:
// przekroczono czas na wysyłkę w sesji wsadowej", GET /sessions in open-api.json). Before the
// invoices go into another session, KSeF's session list is read, and every batch session opened
// since just before the attempt that the journal does not know is recorded as abandoned and named
// in the log, so no session of ours is left unaccounted for. It is never closed: it might be
// another tool's.
func (e *Engine) reconcileLostOpen(ctx context.Context, attempted time.Time, cause error) {
	if e.listK == nil || ctx.Err() != nil {
		return
	}
	known, err := e.recoverJ.Sessions(ctx, e.opt.NIP)
	if err != nil {
		e.log.Warn("batch open outcome unknown; could not read our sessions", "err", err)
		return
	}
	ours := make(map[string]bool, len(known))
	for _, s := range known {
		ours[s.Ref] = true
	}
	from := attempted.Add(-clockSkew)
	var lost []ksef.SessionListItem
	err = e.listK.ListSessions(ctx, ksef.SessionListFilter{SessionType: "Batch", Statuses: []string{"InProgress"}, DateCreatedFrom: &from},
		func(s ksef.SessionListItem) error {
			if !ours[s.ReferenceNumber] && s.TotalInvoiceCount == 0 {
				lost = append(lost, s)
			}
			return nil
		})
	if err != nil {
		e.log.Warn("batch open outcome unknown and KSeF's session list could not be read; the invoices wait and go into a new session",
			"err", fmt.Errorf("%w (open: %v)", err, cause))
		return
	}
	if len(lost) == 0 {
		e.log.Info("batch open did not reach KSeF (no new session in its list); the invoices go into a new session", "err", cause)
		return
	}
	for _, s := range lost {
		if err := e.sendJ.PutSession(ctx, spool.Session{Ref: s.ReferenceNumber, NIP: e.opt.NIP, Kind: "batch", State: "abandoned",
			CreatedAt: s.DateCreated, UpdatedAt: e.now()}); err != nil {
			e.log.Warn("recording a lost batch session failed", "session", s.ReferenceNumber, "err", err)
			continue
		}
		e.log.Warn("KSeF opened a batch session but its answer was lost: it cannot be used (only that answer has the upload "+
			"addresses), registers nothing and expires; the invoices go into a new session", "session", s.ReferenceNumber, "err", cause)
	}
}
