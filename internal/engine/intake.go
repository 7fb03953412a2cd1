package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"

	"github.com/ksef-sync/ksef-sync/internal/invoicexml"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/qrfiles"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/watcher"
)

// claimJournal is what claiming and checking outbox files use.
type claimJournal interface {
	ClaimManyBytes(ctx context.Context, nip string, paths []string) ([]*spool.Invoice, [][]byte, []error)
	ByState(ctx context.Context, nip string, states ...spool.State) ([]spool.Invoice, error)
	WriteSpoolFile(name string, data []byte) (string, error)
	Original(ctx context.Context, inv *spool.Invoice) ([]byte, error)
	MarkReady(ctx context.Context, at time.Time, items []spool.Prepared) error
	Reject(ctx context.Context, rs ...spool.Rejection) error
}

// intake claims outbox files into the journal and validates them together (one journal
// transaction for the lot). Failures are logged, never returned: a file stays in the outbox (claim
// failed) or in the journal (validation failed), and the next listing or step picks it up.
func (e *Engine) intake(ctx context.Context, paths ...string) {
	claimed := e.claimAll(ctx, paths)
	if len(claimed) == 0 {
		return
	}
	if err := e.validateMany(ctx, claimed); err != nil {
		e.log.Warn("validation step failed; retried on the next step", "err", err)
	}
	e.poke()
}

// ClaimOutbox claims the given outbox files (one-pass mode) and returns the IDs claimed.
func (e *Engine) ClaimOutbox(ctx context.Context, files []watcher.File) []int64 {
	var ids []int64
	for _, inv := range e.claimAll(ctx, paths(files)) {
		ids = append(ids, inv.ID)
	}
	return ids
}

// claimAll takes ready outbox files as one lot: first by renaming each into this daemon's claim
// folder (outbox/.ksef-sync/<daemon-id>/, internal/outboxclaim), which at most one daemon on the
// share can do, then into the journal from there. A file another daemon renamed first is skipped.
func (e *Engine) claimAll(ctx context.Context, paths []string) []claimed {
	if !e.mayClaim() {
		return nil
	}
	claimed, failed := e.claimTaken(ctx, e.claims.Take(paths))
	if failed > 0 {
		e.leftGate.failed(leftoversKey, e.now(), nil)
	}
	return claimed
}

// leftoversKey is leftGate's one key: the engine has one outbox, so one claim folder.
const leftoversKey = "claim folder"

// claimTaken takes files already in our claim folder into the journal as one lot. The file name is
// unchanged by the rename, so the journal, the logs and the outputs keep the ERP's name. Files that
// cannot be claimed stay in the claim folder and are retried (retryLeftovers), except a file too
// large to be an invoice, which goes to error/ at once. It returns the claimed invoices and how
// many files failed.
func (e *Engine) claimTaken(ctx context.Context, paths []string) (lot []claimed, failed int) {
	if len(paths) == 0 {
		return nil, 0
	}
	invs, raw, errs := e.claimJ.ClaimManyBytes(ctx, e.opt.NIP, paths)
	for i, err := range errs {
		switch {
		case err == nil:
			e.log.Info("invoice claimed", "file", invs[i].FileName, "invoice", invs[i].ID, "state", spool.StateClaimed)
			lot = append(lot, claimed{Invoice: *invs[i], raw: raw[i]})
		case errors.Is(err, spool.ErrVanished), errors.Is(err, spool.ErrAlreadyClaimed):
		case errors.Is(err, spool.ErrTooLarge):
			e.rejectUnclaimable(paths[i])
		default:
			e.log.Warn("could not claim file; it stays in our claim folder and is retried", "file", filepath.Base(paths[i]),
				"dir", filepath.Dir(paths[i]), "err", err)
			failed++
		}
	}
	return lot, failed
}

// claimed is a claimed invoice and, when it was claimed just now, the original bytes committed
// with it (nil: read them from the journal).
type claimed struct {
	spool.Invoice
	raw []byte
}

// claimLeftovers claims the files in our claim folder of the outbox: renamed by an earlier process
// that died before the journal recorded them, or recorded with their removal pending, or left by a
// claim that failed. The journal's claim recognises a recorded file and only removes it, so nothing
// is claimed twice; other daemons' folders are never touched.
func (e *Engine) claimLeftovers(ctx context.Context) (lot []claimed, failed int) {
	if e.opt.Folders.Outbox == "" || !e.mayClaim() {
		return nil, 0
	}
	left, err := e.claims.Leftovers(e.opt.Folders.Outbox)
	if err != nil {
		e.log.Warn("cannot list our claim folder; retried later", "err", err)
		return nil, 1
	}
	if len(left) > 0 {
		e.log.Info("finishing claims left in our claim folder", "count", len(left), "dir", filepath.Dir(left[0]))
	}
	return e.claimTaken(ctx, left)
}

// sweepEvery is how often the claim folder is looked at when no claim failed: a safety net for a
// file left there by a path nobody foresaw, at the cost of one listing.
const sweepEvery = 5 * time.Minute

// retryLeftovers claims the files waiting in our claim folder: with backoff after a failed claim,
// and otherwise every sweepEvery. The watcher never lists that folder, so nothing else would offer
// them again before a restart.
func (e *Engine) retryLeftovers(ctx context.Context) {
	now := e.now()
	if failing := e.leftGate.failing(leftoversKey); failing && !e.leftGate.due(leftoversKey, now) ||
		!failing && now.Before(e.nextSweep) {
		return
	}
	e.nextSweep = now.Add(sweepEvery)
	claimed, failed := e.claimLeftovers(ctx)
	if failed > 0 {
		e.leftGate.failed(leftoversKey, e.now(), nil)
	} else {
		e.leftGate.succeeded(leftoversKey)
	}
	if len(claimed) > 0 {
		if err := e.validateMany(ctx, claimed); err != nil {
			e.log.Warn("validation step failed; retried on the next step", "err", err)
		}
	}
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
	if _, err := atomicfile.WriteFrom(base+xmlExt(name), f, 0o644); err != nil {
		log.Warn("cannot copy oversized file to the error folder", "err", err)
		return
	}
	rec := ErrorRecord{Code: "too-large", Description: e.opt.Lang.T(msg.DescFileTooLarge, spool.MaxClaimSize>>20),
		Details: []string{}, Stage: "validation", FileName: name, Time: e.now().UTC().Format(time.RFC3339),
		Hint: e.opt.Lang.T(msg.HintFileTooLarge)}
	rec.Company = e.opt.Company
	js, _ := marshalRecord(rec)
	if err := atomicfile.WriteFile(base+".error.json", js, 0o644); err != nil {
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
	invs, err := e.claimJ.ByState(ctx, e.opt.NIP, spool.StateClaimed)
	if err != nil || len(invs) == 0 {
		return err
	}
	lot := make([]claimed, len(invs))
	for i := range invs {
		lot[i].Invoice = invs[i]
	}
	return e.validateMany(ctx, lot)
}

// verdict is the outcome of checking one claimed invoice.
type verdict struct {
	file    string
	offline spool.Offline // how it is issued (offline.go)
	prep    *invoicexml.Prepared
	regPath string
	verr    *invoicexml.Error
}

// validateMany turns claimed invoices into ready ones (registered bytes known) or rejects them at
// the validation stage, recording all verdicts in two journal transactions.
func (e *Engine) validateMany(ctx context.Context, invs []claimed) error {
	verdicts := make(map[int64]verdict, len(invs))
	var ready, rejected []int64
	var errs []error
	checked := e.checkAll(ctx, invs)
	for i := range invs {
		v, err := checked[i].v, checked[i].err
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v.file = invs[i].FileName
		if v.prep != nil {
			v.offline = e.issuance(&invs[i].Invoice, v.prep)
			sum := sha256.Sum256(v.prep.Bytes)
			if err := e.technicalCorrection(ctx, &v.offline, v.prep.InvoiceNumber, base64.StdEncoding.EncodeToString(sum[:])); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		verdicts[invs[i].ID] = v
		if v.verr != nil {
			rejected = append(rejected, invs[i].ID)
		} else {
			ready = append(ready, invs[i].ID)
		}
	}
	errs = append(errs, e.markReady(ctx, ready, verdicts), e.markInvalid(ctx, rejected, verdicts))
	return errors.Join(errs...)
}

// checked is check's answer for one invoice.
type checked struct {
	v   verdict
	err error
}

// checkAll checks invs on every core: parsing and schema-checking each invoice is independent
// work, and it was most of a burst's claim-and-validate phase on one core. The answers keep the
// order of invs; what depends on earlier verdicts (technical corrections) stays in validateMany.
func (e *Engine) checkAll(ctx context.Context, invs []claimed) []checked {
	opts := invoicexml.Options{ContextNIP: e.opt.NIP, Lang: e.opt.Lang, CheckPartyNIPs: e.opt.CheckPartyNIPs}
	opts.MaxSize, opts.MaxSizeWithAttachment = e.invoiceSizes(ctx, invs)
	out := make([]checked, len(invs))
	workers := min(runtime.GOMAXPROCS(0), len(invs))
	if workers <= 1 {
		for i := range invs {
			out[i].v, out[i].err = e.check(ctx, &invs[i], opts)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(invs); i = int(next.Add(1) - 1) {
				out[i].v, out[i].err = e.check(ctx, &invs[i], opts)
			}
		}()
	}
	wg.Wait()
	return out
}

// check prepares one invoice's bytes for KSeF as opts say, keeping a converted copy in the spool.
// The bytes are the ones just claimed, or else read from the journal.
func (e *Engine) check(ctx context.Context, c *claimed, opts invoicexml.Options) (verdict, error) {
	inv, raw := &c.Invoice, c.raw
	if raw == nil {
		var err error
		if raw, err = e.claimJ.Original(ctx, inv); err != nil {
			return verdict{}, err
		}
	}
	prep, perr := invoicexml.Prepare(raw, opts)
	var verr *invoicexml.Error
	if errors.As(perr, &verr) {
		return verdict{verr: verr}, nil
	}
	if perr != nil {
		return verdict{}, perr
	}
	regPath := inv.SpoolPath
	if len(prep.Conversions) > 0 {
		var err error
		if regPath, err = e.claimJ.WriteSpoolFile(strconv.FormatInt(inv.ID, 10)+".registered.xml", prep.Bytes); err != nil {
			return verdict{}, err
		}
	}
	return verdict{prep: prep, regPath: regPath}, nil
}

func (e *Engine) markReady(ctx context.Context, ids []int64, verdicts map[int64]verdict) error {
	if len(ids) == 0 {
		return nil
	}
	items := make([]spool.Prepared, len(ids))
	for i, id := range ids {
		v := verdicts[id]
		sum := sha256.Sum256(v.prep.Bytes)
		items[i] = spool.Prepared{ID: id, RegisteredPath: v.regPath, RegisteredHash: base64.StdEncoding.EncodeToString(sum[:]),
			RegisteredSize: int64(len(v.prep.Bytes)), Conversion: strings.Join(v.prep.Conversions, "; "),
			InvoiceNumber: v.prep.InvoiceNumber, IssueDate: v.prep.IssueDate, HasAttachment: v.prep.HasAttachment,
			Offline: v.offline}
	}
	if err := e.claimJ.MarkReady(ctx, e.now(), items); err != nil {
		return err
	}
	for _, id := range ids {
		p := verdicts[id].prep
		e.log.Info("invoice validated", "file", verdicts[id].file, "invoice", id, "state", spool.StateReady,
			"invoice_number", p.InvoiceNumber, "conversion", p.ConversionText(msg.EN))
		e.logIssuance(verdicts[id].file, id, p.IssueDate, verdicts[id].offline)
		e.writeQR(verdicts[id].file, p)
	}
	return nil
}

// writeQR writes the invoice's QR codes into the QR folder, when one is configured: the ERP prints
// them on the buyer's copy at once, even while KSeF is down. A failure is logged and never stops
// the invoice.
func (e *Engine) writeQR(file string, p *invoicexml.Prepared) {
	if e.opt.QR.Dir == "" {
		return
	}
	issued, err := time.Parse("2006-01-02", p.IssueDate)
	if err == nil {
		_, err = qrfiles.Write(e.opt.QR.Dir, qrfiles.Invoice{Stem: stemOf(file), XML: p.Bytes, SellerNIP: p.SellerNIP,
			IssueDate: issued, QRBase: e.opt.QRBase, ContextType: "Nip", ContextValue: e.opt.NIP}, e.opt.QR.Signer)
	}
	if err != nil {
		e.log.Warn("QR codes not written; the invoice goes on", "file", file, "err", err)
	}
}

func (e *Engine) markInvalid(ctx context.Context, ids []int64, verdicts map[int64]verdict) error {
	if len(ids) == 0 {
		return nil
	}
	rs := make([]spool.Rejection, len(ids))
	for i, id := range ids {
		v := verdicts[id].verr
		details := append([]string(nil), v.Details...)
		if v.Field != "" {
			details = append([]string{"field: " + v.Field}, details...)
		}
		rs[i] = spool.Rejection{ID: id, Kind: v.Code, Description: v.Description, Details: details,
			Stage: "validation", Hint: v.Hint, InvoiceNumber: v.InvoiceNumber}
	}
	if err := e.claimJ.Reject(ctx, rs...); err != nil {
		return err
	}
	for _, id := range ids {
		v := verdicts[id].verr
		e.log.Warn("invoice rejected locally", "file", verdicts[id].file, "invoice", id, "state", spool.StateRejected, "code", v.Code, "reason", v.Error())
	}
	return nil
}
