package engine

import (
	"context"
	"errors"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
)

// newOwnerGuard returns the keeper of this daemon's owner record in the outbox; nil without one.
func newOwnerGuard(opt Options, id string) *outboxclaim.Guard {
	if opt.Folders.Outbox == "" {
		return nil
	}
	return outboxclaim.NewGuard(opt.Folders.Outbox, id, outboxclaim.Me(opt.Folders.State), opt.Now)
}

// mayClaim says whether this daemon may take files from its outbox now: not while another live
// process uses our daemon id there (both would take each other's claims for their own and send
// them twice), nor while the owner record cannot be read or written. It refreshes our record
// every outboxclaim.RefreshEvery; a refusal is logged once, and again only when it changes.
func (e *Engine) mayClaim() bool {
	if e.owner == nil {
		return true
	}
	err := e.owner.Check()
	var c *outboxclaim.Conflict
	problem := ""
	e.ownerConflict = nil
	switch {
	case errors.As(err, &c): // its time changes at every refresh; the other process does not
		e.ownerConflict = c
		problem = "id in use by " + c.Other.Instance
	case err != nil:
		problem = err.Error()
	}
	if problem != e.ownerProblem {
		switch {
		case errors.As(err, &c):
			e.log.Error("not claiming files in this outbox: "+c.Error(), "outbox", e.opt.Folders.Outbox)
		case err != nil:
			e.log.Warn("cannot keep our owner record in the outbox; not claiming files there until it works", "err", err)
		case e.ownerProblem != "":
			e.log.Info("claiming files in the outbox again: our daemon id is ours alone there", "outbox", e.opt.Folders.Outbox)
		}
		e.ownerProblem = problem
	}
	return err == nil
}

// copiedJournal returns the conflict when another live process uses our daemon id in the outbox, nil
// otherwise. Our journal is then a copy of that process's journal (a copied state folder, a cloned
// VM), or that process took the id over while we were paused past outboxclaim.FreshFor: sending,
// confirming or writing outputs from it would register that process's invoices a second time and
// write their outputs twice. Nothing moves until the other process stops. Claiming also waits when
// the record cannot be read, but invoices already in the journal keep moving then: a share that is
// briefly unreachable must not stop them.
func (e *Engine) copiedJournal() *outboxclaim.Conflict {
	e.mayClaim()
	return e.ownerConflict
}

// awaitOwnID waits, checking every tick, until no other live process uses our daemon id in the
// outbox; false when ctx ends first. Start-up recovery waits for it: it would send and confirm from
// the copied journal too.
func (e *Engine) awaitOwnID(ctx context.Context) bool {
	if e.copiedJournal() == nil {
		return true
	}
	tick := time.NewTicker(e.opt.Send.PollInterval)
	defer tick.Stop()
	for e.copiedJournal() != nil {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}
