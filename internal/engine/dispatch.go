package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// dispatchJournal is what sending ready invoices uses.
type dispatchJournal interface {
	ByState(ctx context.Context, nip string, states ...spool.State) ([]spool.Invoice, error)
	WaitingSessions(ctx context.Context, nip string, state spool.State) ([]spool.Waiting, error)
	HashesTaken(ctx context.Context, nip string) (map[string]bool, error)
	FindAccepted(ctx context.Context, nip, registeredHash string) (*spool.Invoice, bool, error)
	InFlight(ctx context.Context, nip, registeredHash string, exceptID int64) (bool, error)
	Accept(ctx context.Context, regs ...spool.Registration) error
	MarkSending(ctx context.Context, ids []int64, s spool.Sending) error
	MarkSubmitted(ctx context.Context, id int64, invoiceRef string) error
	MarkBatchSubmitted(ctx context.Context, ids []int64) error
	Retry(ctx context.Context, ids []int64, notBefore func(attempts int) time.Time) error
	Defer(ctx context.Context, ids []int64, notBefore func(attempts int) time.Time) error
	PutSession(ctx context.Context, s spool.Session) error
	Registered(ctx context.Context, inv *spool.Invoice) ([]byte, error)
	CopiesInJournal(ctx context.Context, ids []int64) (map[int64][]byte, error)
}

// dispatchKSeF is what sending ready invoices asks of KSeF.
type dispatchKSeF interface {
	OpenOnlineSession(ctx context.Context, form ksef.FormCode) (*ksef.OnlineSession, error)
	SendInvoice(ctx context.Context, s *ksef.OnlineSession, invoiceXML []byte, opt ksef.SendOptions) (*ksef.SentInvoice, error)
	CloseOnlineSession(ctx context.Context, sessionRef string) error
	SessionStatus(ctx context.Context, sessionRef string) (*ksef.SessionStatus, error)
	ForgetPublicKeys()
	OpenBatchSession(ctx context.Context, form ksef.FormCode, pkg *ksef.BatchPackage, offlineMode bool) (*ksef.BatchSession, error)
	UploadBatchParts(ctx context.Context, bs *ksef.BatchSession, pkg *ksef.BatchPackage) error
	CloseBatchSession(ctx context.Context, sessionRef string) error
}

// onlineState is the one online session the engine keeps open while it is useful. Its AES key lives
// only in memory, so after a restart the old session is closed and a new one opened.
type onlineState struct {
	session  *ksef.OnlineSession
	lastUsed time.Time
	sent     int
}

// dispatch sends ready invoices once the gather window has passed: one invoice online, several by
// batch (auto mode), attachments always by batch.
func (e *Engine) dispatch(ctx context.Context, flush bool) error {
	if e.announcedOutage() { // offline.go: invoices wait, safe in the journal
		return nil
	}
	if e.permissionsMissing() { // permissions.go: the company has not granted the permission to send
		return nil
	}
	e.gatherDue = time.Time{}
	if !flush && e.burstArriving(ctx) {
		return nil
	}
	ready, err := e.due(ctx)
	if err != nil || len(ready) == 0 {
		return err
	}
	if !flush && !e.sendNow(ready) {
		return nil
	}
	// Only now, when they are about to go, are the invoices looked up against earlier sends: doing
	// it at every step while a burst gathers cost two journal queries per invoice per step (40 % of
	// the daemon's CPU in a 10,000-invoice burst).
	if ready, err = e.sendable(ctx, ready); err != nil || len(ready) == 0 {
		return err
	}
	e.offlineFirst(ready)
	corrections, rest := technicalCorrections(ready) // offline.go: online sessions only
	online, batch := e.split(rest)
	online = append(corrections, online...)
	var errs []error
	for _, group := range byDeclaredMode(batch) {
		for len(group) > 0 {
			n := batchCut(group, e.batchMax(ctx))
			errs = append(errs, e.sendBatch(ctx, group[:n]))
			group = group[n:]
		}
	}
	for i := range online {
		if err := e.sendOnline(ctx, &online[i]); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// burstArriving reports, from a summary of the ready invoices, that a burst is still being handed
// over by the watcher and keeps gathering (see gathered): reading every ready invoice at each step
// of a 10,000-invoice burst would only find that out again.
func (e *Engine) burstArriving(ctx context.Context) bool {
	if e.backlog == nil || e.backlog() == 0 {
		return false
	}
	ws, err := e.sendJ.WaitingSessions(ctx, e.opt.NIP, spool.StateReady)
	if err != nil || len(ws) == 0 {
		return false // the full look decides (and reports the error)
	}
	n, first := 0, ws[0].Claimed
	for _, w := range ws {
		n, first = n+w.Count, minTime(first, w.Claimed)
	}
	return n < e.opt.Send.MaxBatchInvoices && e.now().Sub(first) < maxGather
}

// maxBatchBytes keeps a batch's raw invoices well inside KSeF's archive limits (50 parts of
// 100 MB, 5 GB in all) even if compression gains nothing.
const maxBatchBytes = 4_000_000_000

// batchCut returns how many of the invoices fit into one batch session.
func batchCut(invs []spool.Invoice, maxCount int) int {
	var total int64
	for i, inv := range invs {
		total += inv.RegisteredSize
		if i == maxCount || (i > 0 && total > maxBatchBytes) {
			return i
		}
	}
	return len(invs)
}

// sendable returns the due invoices that still need sending, after settling the ones that do not:
// bytes KSeF already accepted earlier are marked accepted with the known KSeF number, and a second
// copy of bytes that are in flight waits for the first.
func (e *Engine) sendable(ctx context.Context, ready []spool.Invoice) ([]spool.Invoice, error) {
	taken, err := e.sendJ.HashesTaken(ctx, e.opt.NIP)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(ready))
	out := ready[:0]
	for _, inv := range ready {
		if seen[inv.RegisteredHash] {
			continue
		}
		seen[inv.RegisteredHash] = true
		if !taken[inv.RegisteredHash] {
			out = append(out, inv) // nothing else holds these bytes: settleKnown would find nothing
			continue
		}
		settled, err := e.settleKnown(ctx, inv)
		if err != nil {
			return nil, err
		}
		if !settled {
			out = append(out, inv)
		}
	}
	return out, nil
}

// due returns the ready invoices whose next attempt is due.
func (e *Engine) due(ctx context.Context) ([]spool.Invoice, error) {
	ready, err := e.sendJ.ByState(ctx, e.opt.NIP, spool.StateReady)
	if err != nil {
		return nil, err
	}
	now := e.now()
	out := ready[:0]
	for _, inv := range ready {
		if !inv.NextAttemptAt.After(now) || e.resumed(&inv) { // resumed: offline.go, an outage ended
			out = append(out, inv)
		}
	}
	return out, nil
}

func (e *Engine) settleKnown(ctx context.Context, inv spool.Invoice) (bool, error) {
	prev, ok, err := e.sendJ.FindAccepted(ctx, e.opt.NIP, inv.RegisteredHash)
	if err != nil {
		return false, err
	}
	if ok && prev.ID != inv.ID {
		err := e.sendJ.Accept(ctx, spool.Registration{ID: inv.ID, KsefNumber: prev.KsefNumber,
			AcquisitionDate: prev.AcquisitionDate, UpoURL: prev.UpoURL, UpoPath: prev.UpoPath,
			SessionRef: prev.SessionRef, InvoiceRef: prev.InvoiceRef, Mode: prev.Mode, InvoicingMode: prev.InvoicingMode})
		if err == nil {
			e.log.Info("invoice already registered earlier; not sent again", "file", inv.FileName, "invoice", inv.ID,
				"state", spool.StateAccepted, "ksef_number", prev.KsefNumber)
		}
		return true, err
	}
	inFlight, err := e.sendJ.InFlight(ctx, e.opt.NIP, inv.RegisteredHash, inv.ID)
	return inFlight, err
}

// sendNow decides whether the ready invoices go now: a lone invoice after a quiet period goes at
// once, everything else when gathered.
func (e *Engine) sendNow(ready []spool.Invoice) bool {
	lone := e.loneAfterQuiet(ready)
	for _, inv := range ready {
		if inv.CreatedAt.After(e.lastArrival) {
			e.lastArrival = inv.CreatedAt
		}
	}
	if lone {
		e.log.Info("lone invoice after a quiet period; sending at once, without the gather window",
			"file", ready[0].FileName, "invoice", ready[0].ID)
		return true
	}
	if e.gathered(ready) {
		return true
	}
	e.gatherDue = e.gatherDeadline(ready)
	return false
}

// gatherDeadline is when gathering ready ends if nothing else arrives: the loop wakes then instead
// of at its next poll tick (up to a poll interval later).
func (e *Engine) gatherDeadline(ready []spool.Invoice) time.Time {
	window := e.opt.Send.GatherWindow
	oldest, newest := ready[0].CreatedAt, ready[0].CreatedAt
	for _, inv := range ready {
		oldest, newest = minTime(oldest, inv.CreatedAt), maxTime(newest, inv.CreatedAt)
	}
	return minTime(newest.Add(window), oldest.Add(5*window))
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loneAfterQuiet reports whether ready is one invoice that arrived when nothing else was: no other
// invoice in the gather window before it, none handed over by the watcher and waiting to be claimed,
// and room in the online budget. The bookkeeper waiting for its KSeF number gets it without the
// gather window; invoices that arrive while it is being sent are not quiet and gather as before, so
// a burst still ends in one batch.
func (e *Engine) loneAfterQuiet(ready []spool.Invoice) bool {
	if len(ready) != 1 || ready[0].HasAttachment || e.opt.Send.Mode == "batch" {
		return false
	}
	if e.backlog != nil && e.backlog() > 0 {
		return false
	}
	if e.budget.available(e.now()) < 1 {
		return false
	}
	return ready[0].CreatedAt.Sub(e.lastArrival) >= e.opt.Send.GatherWindow
}

// gathered reports whether invoices arriving close together have stopped arriving, or the oldest
// has waited long enough.
func (e *Engine) gathered(ready []spool.Invoice) bool {
	if len(ready) >= e.opt.Send.MaxBatchInvoices {
		return true
	}
	window := e.opt.Send.GatherWindow
	oldest, newest := ready[0].CreatedAt, ready[0].CreatedAt
	for _, inv := range ready {
		if inv.CreatedAt.Before(oldest) {
			oldest = inv.CreatedAt
		}
		if inv.CreatedAt.After(newest) {
			newest = inv.CreatedAt
		}
	}
	now := e.now()
	if e.backlog != nil && e.backlog() > 0 && now.Sub(oldest) < maxGather {
		return false // a burst is still arriving: one big batch beats many small ones
	}
	return now.Sub(newest) >= window || now.Sub(oldest) >= 5*window || e.outboxQuiet(now, window)
}

// outboxQuiet reports whether nothing has arrived in the outbox for a whole gather window and
// everything that did is claimed: the watcher holds no file and has handed over none that waits.
// A burst found at start-up (or dropped at once) then goes as soon as its last lot is claimed,
// instead of a window after that claim; files still arriving keep the watcher busy or recent.
func (e *Engine) outboxQuiet(now time.Time, window time.Duration) bool {
	if e.opt.Watcher == nil || e.backlog == nil || e.backlog() > 0 {
		return false
	}
	idle, last := e.opt.Watcher.Quiet()
	return idle && !last.IsZero() && now.Sub(last) >= window
}

// maxGather bounds how long a burst may keep the oldest invoice waiting.
const maxGather = time.Minute

func (e *Engine) split(ready []spool.Invoice) (online, batch []spool.Invoice) {
	withAttachment, plain := partition(ready, hasAttachment) // attachments go by batch only
	online, rest := e.splitPlain(plain)
	if len(withAttachment) == 0 {
		return online, rest // no copy of a burst's records
	}
	return online, append(withAttachment, rest...)
}

func hasAttachment(inv *spool.Invoice) bool { return inv.HasAttachment }

// splitPlain decides how invoices without attachments go: all online or all by batch.
func (e *Engine) splitPlain(plain []spool.Invoice) (online, batch []spool.Invoice) {
	switch e.opt.Send.Mode {
	case "online":
		return plain, nil
	case "batch":
		return nil, plain
	}
	if len(plain) >= e.opt.Send.BatchThreshold || len(plain) > e.budget.available(e.now()) {
		return nil, plain
	}
	return plain, nil
}

// sendOnline sends one invoice in the reusable online session.
func (e *Engine) sendOnline(ctx context.Context, inv *spool.Invoice) error {
	s, err := e.onlineSession(ctx)
	if err != nil {
		return e.deferInvoice(ctx, inv, err)
	}
	data, err := e.sendJ.Registered(ctx, inv)
	if err != nil {
		return err
	}
	err = e.sendJ.MarkSending(ctx, []int64{inv.ID}, spool.Sending{Mode: "online", SessionRef: s.ReferenceNumber})
	if err != nil {
		return err
	}
	e.log.Info("sending invoice online", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateSending, "session", s.ReferenceNumber)
	e.budget.add(e.now())
	sent, err := e.sendK.SendInvoice(ctx, s, data, e.sendOptions(inv))
	e.online.lastUsed = e.now()
	if err != nil {
		return e.sendFailed(ctx, inv, err)
	}
	e.online.sent++
	e.keyRefusals = keyRefusals{} // session_keys.go: KSeF decrypts our keys again
	err = e.sendJ.MarkSubmitted(ctx, inv.ID, sent.ReferenceNumber)
	if err == nil {
		e.log.Info("invoice submitted", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateSubmitted,
			"session", s.ReferenceNumber, "reference", sent.ReferenceNumber)
	}
	return err
}

// sendFailed decides what a failed online send means. A clear refusal by KSeF or a rate limit means
// the invoice was not taken, so it goes back to ready. Anything ambiguous (timeouts, dropped
// connections, 5xx) may have reached KSeF: the invoice stays in sending and is reconciled against
// the session's invoice list before anything is sent again.
func (e *Engine) sendFailed(ctx context.Context, inv *spool.Invoice, err error) error {
	if rateLimited(err) {
		// A 429 (or our own pacer holding the call back) means KSeF did not take the invoice: it
		// goes back to ready until the group may be used again.
		return e.backToReady(ctx, inv, err)
	}
	var apiErr *ksef.APIError
	if errors.As(err, &apiErr) && apiErr.HTTPStatus >= 400 && apiErr.HTTPStatus < 500 {
		var paused error
		switch {
		case apiErr.HasCode(21180) && e.online.sent == 0:
			// The first send into a fresh session: KSeF may have failed to decrypt its key
			// (session_keys.go). Either way the invoice goes into a new session.
			paused = e.firstSendRefused(ctx)
		case apiErr.HasCode(21180) || apiErr.HasCode(21173) || apiErr.HasCode(21155) || apiErr.HasCode(21184):
			// The session is used up, or service work holds it (21184 "Sesja tymczasowo
			// niedostępna", MF: "rekomendowanym rozwiązaniem jest otwarcie nowej sesji i
			// kontynuowanie wysyłki", CIRFMF/ksef-api #864): the invoice goes into a new one.
			e.dropOnline(ctx)
		case apiErr.HTTPStatus == http.StatusForbidden:
			// Not this session's to use: KSeF answers 403 insufficient-resource-access ("Brak
			// dostępu do wskazanego zasobu.") for a session of another context (CIRFMF/ksef-api
			// #826). Sending into it again cannot succeed; a new session is opened with the
			// credentials as they are now, and KSeF's 403 there (missing permissions) defers it.
			e.dropOnline(ctx)
		case apiErr.HTTPStatus == 400:
			// KSeF refused this request outright (malformed, sizes or hashes wrong): sending the
			// same bytes again cannot succeed, so the bookkeeper gets the reason.
			return e.reject(ctx, inv, refusalStatus(apiErr), "ksef")
		}
		// 401/403 and the like are about credentials or permissions: the invoice waits until the
		// administrator fixes them.
		e.holdForPermissions(err) // permissions.go: a 403 missing-permissions holds the company's sending
		return errors.Join(e.backToReady(ctx, inv, err), paused)
	}
	e.log.Warn("send outcome unknown; will reconcile with KSeF before any resend", "file", inv.FileName,
		"invoice", inv.ID, "state", spool.StateSending, "err", err)
	if ctx.Err() == nil {
		e.dropOnline(ctx)
	}
	return nil
}

func refusalStatus(e *ksef.APIError) ksef.Status {
	st := ksef.Status{Code: e.HTTPStatus, Description: e.Error()}
	for _, d := range e.Codes {
		st.Code, st.Description = d.Code, d.Description
		st.Details = append(st.Details, d.Details...)
	}
	return st
}

func (e *Engine) deferInvoice(ctx context.Context, inv *spool.Invoice, cause error) error {
	if !e.holdForPermissions(cause) { // permissions.go says what the company must grant
		e.log.Warn("cannot send now; will retry", "file", inv.FileName, "invoice", inv.ID, "err", cause)
	}
	err := e.sendJ.Defer(ctx, []int64{inv.ID}, e.retryAt(cause))
	return errors.Join(err, credentialsProblem(cause), keysProblem(cause))
}

// ErrCredentials marks a step that failed because KSeF refused our login. Retrying does not help
// until someone fixes the token or certificate; `send` stops at once, the daemon keeps trying and
// says so in the log.
var ErrCredentials = errors.New("KSeF refused the login: check the token or certificate (ksef-sync auth check)")

func credentialsProblem(err error) error {
	if ksef.IsCredentialsProblem(err) {
		return fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return nil
}

// backToReady sends a sending or submitted invoice back to ready: KSeF has no record of it or asked
// for it again.
func (e *Engine) backToReady(ctx context.Context, inv *spool.Invoice, cause error) error {
	err := e.sendJ.Retry(ctx, []int64{inv.ID}, e.retryAt(cause))
	if err == nil {
		e.log.Warn("invoice will be sent again later", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateReady, "err", cause)
	}
	return err
}

// retryAt says when an invoice that has been tried attempts times may be tried again after cause:
// the growing delay, but never sooner than KSeF's own hint (Retry-After, a minute for its firewall).
func (e *Engine) retryAt(cause error) func(attempts int) time.Time {
	hint := max(ksef.RetryAfterHint(cause), e.keyPauseLeft()) // no session opens before a pause ends
	return func(attempts int) time.Time { return e.now().Add(max(retryDelay(attempts), hint)) }
}

// retryDelay grows with the attempts and is capped: the journal owns long-term retry, so an
// invoice waits at most a minute between tries and is never dropped. (The client already retried
// each call a few times; this is the slower, outer loop.)
func retryDelay(attempts int) time.Duration {
	d := 2 * time.Second << min(attempts, 5)
	return min(d, time.Minute)
}

func (e *Engine) onlineSession(ctx context.Context) (*ksef.OnlineSession, error) {
	s := e.online.session
	if s != nil && s.ValidUntil.After(e.now().Add(10*time.Minute)) && e.online.sent < 9000 {
		return s, nil
	}
	e.closeOnline(ctx)
	if err := e.keysPaused(); err != nil {
		return nil, err // session_keys.go: KSeF could not decrypt our keys in the last sessions
	}
	s, err := e.sendK.OpenOnlineSession(ctx, ksef.FormFA3)
	if err != nil {
		return nil, err // the client's error already says "open online session"
	}
	vu := s.ValidUntil
	if err := e.sendJ.PutSession(ctx, spool.Session{Ref: s.ReferenceNumber, NIP: e.opt.NIP, Kind: "online", State: "open",
		CreatedAt: e.now(), UpdatedAt: e.now(), ValidUntil: &vu}); err != nil {
		return nil, err
	}
	e.log.Info("online session opened", "session", s.ReferenceNumber)
	e.online = onlineState{session: s, lastUsed: e.now()}
	return s, nil
}

func (e *Engine) closeIdleOnline(ctx context.Context, force bool) {
	if e.online.session == nil {
		return
	}
	if force || e.now().Sub(e.online.lastUsed) >= e.opt.Send.SessionIdleClose {
		e.closeOnline(ctx)
	}
}

// closeOnline closes the current online session so KSeF prepares its collective UPO, and records it
// closed. A session KSeF says it cannot close because of its status (21180 "Status sesji {code}
// uniemożliwia jej zamknięcie", open-api.json) is closed already, or failed (415), as confirm.go
// takes it for a batch. Any other failure leaves it open in the journal: the next start closes it
// (recover.go), and KSeF closes it 12 h after the open anyway (ksef-docs sesja-interaktywna.md:
// "Czas życia sesji interaktywnej wynosi 12 godzin od momentu jej utworzenia").
func (e *Engine) closeOnline(ctx context.Context) {
	s := e.online.session
	if s == nil {
		return
	}
	e.online = onlineState{}
	err := e.sendK.CloseOnlineSession(ctx, s.ReferenceNumber)
	var api *ksef.APIError
	switch {
	case err == nil:
		e.log.Info("online session closed", "session", s.ReferenceNumber)
	case errors.As(err, &api) && api.HasCode(21180):
		e.log.Info("online session already closed at KSeF", "session", s.ReferenceNumber, "err", err)
	default:
		e.log.Warn("closing online session failed; KSeF closes it after 12 h", "session", s.ReferenceNumber, "err", err)
		return
	}
	_ = e.sendJ.PutSession(ctx, spool.Session{Ref: s.ReferenceNumber, NIP: e.opt.NIP, Kind: "online", State: "closed", UpdatedAt: e.now()})
}

// dropOnline leaves the current online session for good (a send showed it cannot, or should not,
// take more) and closes it as a courtesy, so KSeF makes its UPO now rather than after 12 h and the
// journal does not list it open until the next start. The close is bounded: KSeF may be the reason
// the session is dropped, and the step should not wait on it for long.
func (e *Engine) dropOnline(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, dropCloseTimeout)
	defer cancel()
	e.closeOnline(ctx)
}

// dropCloseTimeout bounds the courtesy close of a dropped online session.
const dropCloseTimeout = 15 * time.Second

// sendBatch packages invoices, opens a batch session, uploads and closes it. The journal marks the
// invoices sending before the close, the one call that makes KSeF register them.
func (e *Engine) sendBatch(ctx context.Context, invs []spool.Invoice) error {
	pkg, names, err := e.buildPackage(ctx, invs)
	if err != nil {
		return err
	}
	defer func() { _ = pkg.Remove() }()
	if err := e.keysPaused(); err != nil {
		return e.deferAll(ctx, invs, err) // session_keys.go: no session opens before the pause ends
	}
	attempted := e.now()
	bs, err := e.sendK.OpenBatchSession(ctx, ksef.FormFA3, pkg, declaresOffline(&invs[0]))
	if err != nil {
		if ksef.MayHaveReachedKSeF(err) {
			e.reconcileLostOpen(ctx, attempted, err) // lost_open.go: never blindly opened again
		}
		return e.deferAll(ctx, invs, err) // the client's error says "open batch session"
	}
	ref := bs.ReferenceNumber
	if err := e.sendJ.PutSession(ctx, spool.Session{Ref: ref, NIP: e.opt.NIP, Kind: "batch", State: "open", CreatedAt: e.now(), UpdatedAt: e.now()}); err != nil {
		return err
	}
	ids := make([]int64, len(invs))
	for i := range invs {
		ids[i] = invs[i].ID
	}
	err = e.sendJ.MarkSending(ctx, ids, spool.Sending{Mode: "batch", SessionRef: ref, BatchFileNames: names})
	if err != nil {
		return err
	}
	e.log.Info("batch session opened", "session", ref, "invoices", len(invs), "parts", len(pkg.Parts), "bytes", pkg.FileSize)
	if err := e.sendK.UploadBatchParts(ctx, bs, pkg); err != nil {
		return e.abandonBatch(ctx, ref, ids, err) // the client's error says "upload batch parts"
	}
	return e.closeBatch(ctx, ref, ids)
}

func (e *Engine) closeBatch(ctx context.Context, ref string, ids []int64) error {
	if err := e.sendJ.PutSession(ctx, spool.Session{Ref: ref, NIP: e.opt.NIP, Kind: "batch", State: "closing", UpdatedAt: e.now()}); err != nil {
		return err
	}
	if err := e.sendK.CloseBatchSession(ctx, ref); err != nil {
		// The close may have reached KSeF (a rate limit says it did not); either way reconciliation
		// reads the session status and closes it (again) if it is still open.
		what := "batch close outcome unknown; will reconcile"
		if rateLimited(err) {
			what = "batch close held back by a rate limit; will close it when the group may be used"
		}
		e.log.Warn(what, "session", ref, "err", err)
		return nil
	}
	return e.batchClosed(ctx, ref, ids)
}

func (e *Engine) batchClosed(ctx context.Context, ref string, ids []int64) error {
	if err := e.sendJ.PutSession(ctx, spool.Session{Ref: ref, NIP: e.opt.NIP, Kind: "batch", State: "closed", UpdatedAt: e.now()}); err != nil {
		return err
	}
	err := e.sendJ.MarkBatchSubmitted(ctx, ids)
	if err == nil {
		e.log.Info("batch submitted", "session", ref, "invoices", len(ids), "state", spool.StateSubmitted)
	}
	return err
}

// abandonBatch gives up a batch session that was never closed: KSeF cancels it, registers nothing,
// and the invoices go back to ready for a new session.
func (e *Engine) abandonBatch(ctx context.Context, ref string, ids []int64, cause error) error {
	e.log.Warn("batch session abandoned before close; invoices will be sent again", "session", ref, "err", cause)
	if err := e.sendJ.PutSession(ctx, spool.Session{Ref: ref, NIP: e.opt.NIP, Kind: "batch", State: "abandoned", UpdatedAt: e.now()}); err != nil {
		return err
	}
	return e.sendJ.Retry(ctx, ids, e.retryAt(cause))
}

func (e *Engine) deferAll(ctx context.Context, invs []spool.Invoice, cause error) error {
	if !e.holdForPermissions(cause) { // permissions.go says what the company must grant
		e.log.Warn("cannot send batch now; will retry", "invoices", len(invs), "err", cause)
	}
	ids := make([]int64, len(invs))
	for i := range invs {
		ids[i] = invs[i].ID
	}
	err := e.sendJ.Defer(ctx, ids, e.retryAt(cause))
	return errors.Join(err, credentialsProblem(cause), keysProblem(cause))
}

// buildPackage streams the invoices into an archive on disk. Entry names are the journal IDs, so
// KSeF's per-invoice results (invoiceFileName) map back without ambiguity.
func (e *Engine) buildPackage(ctx context.Context, invs []spool.Invoice) (*ksef.BatchPackage, map[int64]string, error) {
	if err := os.MkdirAll(e.opt.TempDir, 0o700); err != nil {
		return nil, nil, err
	}
	b, err := ksef.NewBatchBuilder(e.opt.TempDir, e.opt.Send.Compression, e.opt.Send.BatchPartSize)
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(invs, func(i, j int) bool { return invs[i].ID < invs[j].ID })
	names := make(map[int64]string, len(invs))
	for lot := range slices.Chunk(invs, copiesLot) {
		copies, err := e.sendJ.CopiesInJournal(ctx, registeredInJournal(lot))
		if err != nil {
			return nil, nil, err
		}
		for i := range lot {
			inv := &lot[i]
			data, err := registered(ctx, e.sendJ, copies, inv)
			if err != nil {
				return nil, nil, err
			}
			name := "invoice-" + strconv.FormatInt(inv.ID, 10) + ".xml"
			if err := b.Add(name, data); err != nil {
				return nil, nil, err
			}
			names[inv.ID] = name
		}
	}
	pkg, err := b.Finish()
	return pkg, names, err
}

// copiesLot is how many invoices' bytes the batch builder and the output writers read from the
// journal with one query (CopiesInJournal) instead of one query each.
const copiesLot = 256

// registeredInJournal lists the invoices of lot whose registered bytes are the copy kept in the
// journal (no conversion).
func registeredInJournal(lot []spool.Invoice) []int64 {
	var ids []int64
	for i := range lot {
		if lot[i].RegisteredPath == spool.InJournal {
			ids = append(ids, lot[i].ID)
		}
	}
	return ids
}

// registered is inv's registered bytes: from copies when read there, else from the journal
// (a converted copy, or an error saying why there is none).
func registered(ctx context.Context, j interface {
	Registered(context.Context, *spool.Invoice) ([]byte, error)
}, copies map[int64][]byte, inv *spool.Invoice) ([]byte, error) {
	if data, ok := copies[inv.ID]; ok && inv.RegisteredPath == spool.InJournal {
		return data, nil
	}
	return j.Registered(ctx, inv)
}
