package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"

	"github.com/ksef-sync/ksef-sync/internal/invoicexml"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/watcher"
)

// intake claims one outbox file into the journal and validates it. Failures are logged, never
// returned: the file stays in the outbox (claim failed) or in the journal (validation failed), and the
// next listing or step picks it up.
func (e *Engine) intake(ctx context.Context, path string) {
	inv := e.claim(ctx, path)
	if inv == nil {
		return
	}
	if err := e.validate(ctx, inv); err != nil {
		e.log.Warn("validation step failed; retried on the next step", "file", inv.FileName, "err", err)
	}
	e.poke()
}

// ClaimOutbox claims every ready file currently in the outbox (one-pass mode). It returns the IDs
// claimed in this pass.
func (e *Engine) ClaimOutbox(ctx context.Context, files []watcher.File) []int64 {
	var ids []int64
	for _, f := range files {
		if inv := e.claim(ctx, f.Path); inv != nil {
			ids = append(ids, inv.ID)
		}
	}
	return ids
}

// claim takes one outbox file into the journal. Files that cannot be claimed stay in the outbox
// and are retried at the next listing, except a file too large to be an invoice, which goes to
// error/ at once so it does not block the outbox forever.
func (e *Engine) claim(ctx context.Context, path string) *spool.Invoice {
	inv, err := e.opt.Journal.Claim(ctx, e.opt.NIP, path)
	switch {
	case err == nil:
		e.log.Info("invoice claimed", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateClaimed)
		return inv
	case errors.Is(err, spool.ErrVanished), errors.Is(err, spool.ErrAlreadyClaimed):
	case errors.Is(err, spool.ErrTooLarge):
		e.rejectUnclaimable(path)
	default:
		e.log.Warn("could not claim file; it stays in the outbox and is retried", "file", filepath.Base(path), "err", err)
	}
	return nil
}

// rejectUnclaimable moves a file far beyond any KSeF limit straight to error/ with an explanation.
// It is streamed, never read into memory, and removed from the outbox only once the copy is durable.
func (e *Engine) rejectUnclaimable(path string) {
	name := filepath.Base(path)
	log := e.log.With("file", name)
	taken, err := listLower(e.opt.Folders.Error)
	if err != nil {
		log.Warn("cannot list the error folder", "err", err)
		return
	}
	stem := uniqueStem(taken, stemOf(name), []string{".xml", ".error.json"})
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	base := filepath.Join(e.opt.Folders.Error, stem)
	if _, err := atomicfile.WriteFrom(base+".xml", f, 0o644); err != nil {
		log.Warn("cannot copy oversized file to the error folder", "err", err)
		return
	}
	rec := ErrorRecord{Code: "too-large", Description: fmt.Sprintf("the file is larger than %d MB, far above KSeF's 1 MB invoice limit (3 MB with attachments)", spool.MaxClaimSize>>20),
		Details: []string{}, Stage: "validation", FileName: name, Time: e.now().UTC().Format(time.RFC3339),
		Hint: "This is not a single invoice: check the ERP export (it may have written a log or a whole archive into the outbox)."}
	js, _ := json.MarshalIndent(rec, "", "  ")
	if err := atomicfile.WriteFile(base+".error.json", append(js, '\n'), 0o644); err != nil {
		log.Warn("cannot write error record", "err", err)
		return
	}
	_ = f.Close()
	if err := os.Remove(path); err != nil {
		log.Warn("cannot remove oversized file from the outbox", "err", err)
	}
	log.Warn("oversized file moved to the error folder", "output", stem)
}

// validateClaimed validates every claimed invoice (after a restart, or in one-pass mode).
func (e *Engine) validateClaimed(ctx context.Context) error {
	claimed, err := e.opt.Journal.ByState(ctx, e.opt.NIP, spool.StateClaimed)
	if err != nil {
		return err
	}
	var errs []error
	for i := range claimed {
		errs = append(errs, e.validate(ctx, &claimed[i]))
	}
	return errors.Join(errs...)
}

// validate turns a claimed invoice into ready (registered bytes known) or rejected at the
// validation stage.
func (e *Engine) validate(ctx context.Context, inv *spool.Invoice) error {
	raw, err := os.ReadFile(inv.SpoolPath)
	if err != nil {
		return fmt.Errorf("read spool copy of %s: %w", inv.FileName, err)
	}
	prep, perr := invoicexml.Prepare(raw, invoicexml.Options{ContextNIP: e.opt.NIP, MaxSize: e.opt.Send.MaxInvoiceSize})
	var verr *invoicexml.Error
	if errors.As(perr, &verr) {
		return e.rejectLocally(ctx, inv, verr)
	}
	if perr != nil {
		return perr
	}
	regPath := inv.SpoolPath
	if len(prep.Conversions) > 0 {
		if regPath, err = e.opt.Journal.WriteSpoolFile(strconv.FormatInt(inv.ID, 10)+".registered.xml", prep.Bytes); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(prep.Bytes)
	err = e.opt.Journal.Transition(ctx, inv.ID, []spool.State{spool.StateClaimed}, spool.StateReady, func(r *spool.Invoice) {
		r.RegisteredPath = regPath
		r.RegisteredHash = base64.StdEncoding.EncodeToString(sum[:])
		r.RegisteredSize = int64(len(prep.Bytes))
		r.Conversion = strings.Join(prep.Conversions, "; ")
		r.InvoiceNumber = prep.InvoiceNumber
		r.IssueDate = prep.IssueDate
		r.HasAttachment = prep.HasAttachment
		r.NextAttemptAt = e.now()
	})
	if err != nil {
		return err
	}
	e.log.Info("invoice validated", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateReady,
		"invoice_number", prep.InvoiceNumber, "conversion", strings.Join(prep.Conversions, "; "))
	return nil
}

func (e *Engine) rejectLocally(ctx context.Context, inv *spool.Invoice, verr *invoicexml.Error) error {
	details := append([]string(nil), verr.Details...)
	if verr.Field != "" {
		details = append([]string{"field: " + verr.Field}, details...)
	}
	err := e.opt.Journal.Transition(ctx, inv.ID, []spool.State{spool.StateClaimed}, spool.StateRejected, func(r *spool.Invoice) {
		r.ErrCode = 0
		r.ErrDescription = verr.Description
		r.ErrDetails = details
		r.ErrStage = "validation"
		r.ErrHint = verr.Hint
		r.Outcome = "rejected"
		r.ErrKind = verr.Code
	})
	if err != nil {
		return err
	}
	e.log.Warn("invoice rejected locally", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateRejected,
		"code", verr.Code, "reason", verr.Description)
	return nil
}
