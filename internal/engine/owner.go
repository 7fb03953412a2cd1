package engine

import (
	"errors"

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
	switch {
	case errors.As(err, &c): // its time changes at every refresh; the other process does not
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
