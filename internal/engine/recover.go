package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/spool"
)

// recoverJournal is what start-up recovery uses.
type recoverJournal interface {
	RecoverClaims(ctx context.Context) error
	Sessions(ctx context.Context, nip string, states ...string) ([]spool.Session, error)
	PutSession(ctx context.Context, s spool.Session) error
}

// recoverKSeF is what start-up recovery asks of KSeF.
type recoverKSeF interface {
	CloseOnlineSession(ctx context.Context, sessionRef string) error
}

// Recover runs at start-up, before anything is sent: it finishes interrupted claims (in the journal
// and in our claim folder of the outbox), validates what
// was claimed, and closes online sessions left open by a previous process (their keys died with it).
// Invoices whose send outcome is unknown are reconciled by the next confirm step, which reads
// KSeF's session lists before any invoice is sent again.
func (e *Engine) Recover(ctx context.Context) error {
	if err := e.recoverJ.RecoverClaims(ctx); err != nil {
		return fmt.Errorf("recover claims: %w", err)
	}
	// Files renamed into our claim folder by a process that died before the journal had them (or
	// before it removed them) are claimed now; validateClaimed below takes them on.
	if _, failed := e.claimLeftovers(ctx); failed > 0 {
		e.leftGate.failed(leftoversKey, e.now(), nil)
	}
	e.nextSweep = e.now().Add(sweepEvery)
	// An output write cut short by a crash leaves a hidden temporary file; the journal still says
	// the outputs are not written, so they are written again under the reserved names.
	for _, dir := range []string{e.opt.Folders.Sent, e.opt.Folders.Error} {
		if n, err := atomicfile.RemoveTemps(dir); err == nil && n > 0 {
			e.log.Info("removed temporary files left by an interrupted write", "dir", dir, "count", n)
		}
	}
	var errs []error
	errs = append(errs, e.validateClaimed(ctx))
	errs = append(errs, e.closeStaleOnlineSessions(ctx))
	errs = append(errs, e.confirm(ctx))
	if err := errors.Join(errs...); err != nil {
		// Recovery is retried by every later step; a KSeF outage at start-up must not stop the daemon.
		e.log.Warn("recovery incomplete; will keep trying", "err", err)
	}
	return nil
}

func (e *Engine) closeStaleOnlineSessions(ctx context.Context) error {
	open, err := e.recoverJ.Sessions(ctx, e.opt.NIP, "open")
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range open {
		if s.Kind != "online" {
			continue
		}
		if err := e.recoverK.CloseOnlineSession(ctx, s.Ref); err != nil {
			e.log.Info("could not close online session from a previous run; KSeF closes it after 12 h", "session", s.Ref, "err", err)
		}
		s.State, s.UpdatedAt = "closed", e.now()
		errs = append(errs, e.recoverJ.PutSession(ctx, s))
	}
	return errors.Join(errs...)
}
