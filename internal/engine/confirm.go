package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// confirmJournal is what collecting KSeF's verdicts uses.
type confirmJournal interface {
	ByState(ctx context.Context, nip string, states ...spool.State) ([]spool.Invoice, error)
	WaitingSessions(ctx context.Context, nip string, state spool.State) ([]spool.Waiting, error)
	InSession(ctx context.Context, nip, ref string, state spool.State) ([]spool.Invoice, error)
	FindAccepted(ctx context.Context, nip, registeredHash string) (*spool.Invoice, bool, error)
	Accept(ctx context.Context, regs ...spool.Registration) error
	Reject(ctx context.Context, rs ...spool.Rejection) error
	MarkSubmitted(ctx context.Context, id int64, invoiceRef string) error
	Sessions(ctx context.Context, nip string, states ...string) ([]spool.Session, error)
}

// confirmKSeF is what collecting verdicts asks of KSeF.
type confirmKSeF interface {
	SessionStatus(ctx context.Context, sessionRef string) (*ksef.SessionStatus, error)
	SessionInvoice(ctx context.Context, sessionRef, invoiceRef string) (*ksef.SessionInvoice, error)
	ListSessionInvoices(ctx context.Context, sessionRef string, failedOnly bool, fn func(ksef.SessionInvoice) error) error
	CloseBatchSession(ctx context.Context, sessionRef string) error
	GetInvoice(ctx context.Context, ksefNumber string) ([]byte, error)
}

// perInvoiceStatusMax is how many pending online invoices are checked one by one (cheap 1,200/h
// budget) before the engine switches to the paged session list (200/h, but 1,000 invoices a page).
const perInvoiceStatusMax = 3

// confirm reconciles invoices whose send outcome is unknown, and collects KSeF's verdict for
// submitted ones. Submitted invoices are read per session, and only for a session that is due to
// be asked about: a batch KSeF is still processing is looked at through its summary.
func (e *Engine) confirm(ctx context.Context) error {
	e.origCache = map[string]map[string]ksef.SessionInvoice{}
	var errs []error
	sending, err := e.confirmJ.ByState(ctx, e.opt.NIP, spool.StateSending)
	if err != nil {
		return err
	}
	for ref, invs := range bySession(sending) {
		errs = append(errs, e.gated(ref, func() error { return e.reconcileSession(ctx, ref, invs) }))
	}
	waiting, err := e.confirmJ.WaitingSessions(ctx, e.opt.NIP, spool.StateSubmitted)
	if err != nil {
		return err
	}
	now := e.now()
	e.forgetPolls(waiting)
	for _, w := range waiting {
		if now.Sub(w.Oldest) > e.opt.Send.SendTimeout {
			errs = append(errs, e.warnSlow(ctx, w.SessionRef))
		}
		if now.Before(e.nextPoll[w.SessionRef]) {
			continue // KSeF is taking its time with these; asked again later, within the budget
		}
		e.nextPoll[w.SessionRef] = now.Add(e.adaptivePollDelay(now, w))
		errs = append(errs, e.gated(w.SessionRef, func() error { return e.confirmSession(ctx, w) }))
	}
	return errors.Join(errs...)
}

// pollDelay is how long to wait before asking KSeF again about a session's submitted invoices.
// KSeF may take hours (status 150) and finish out of order; an invoice that has waited long is
// asked about less often — a tenth of its wait, between the poll interval and 5 minutes — so a
// few slow invoices never use up the status budget. The youngest invoice sets the pace: a fresh
// one in a long-lived online session is checked as often as ever. Nothing is ever sent again.
func pollDelay(now time.Time, w spool.Waiting, poll time.Duration) time.Duration {
	return min(max(youngestAge(now, w)/10, poll), maxRetry)
}

// forgetPolls drops the schedule of sessions that have no submitted invoices any more.
func (e *Engine) forgetPolls(waiting []spool.Waiting) {
	keep := make(map[string]bool, len(waiting))
	for _, w := range waiting {
		keep[w.SessionRef] = true
	}
	for ref := range e.nextPoll {
		if !keep[ref] {
			delete(e.nextPoll, ref)
		}
	}
}

// gated runs one session's confirmation unless it failed recently and its next try is not due:
// a session KSeF keeps refusing to list is asked again after 2 s, 4 s, … 5 min, not every poll.
func (e *Engine) gated(ref string, fn func() error) error {
	if !e.confGate.due(ref, e.now()) {
		return nil
	}
	if err := fn(); err != nil {
		d, _ := e.confGate.failed(ref, e.now(), err)
		return fmt.Errorf("session %s (next try in %s): %w", ref, d, err)
	}
	e.confGate.succeeded(ref)
	return nil
}

// warnSlow reports, once per invoice, KSeF taking longer than send_timeout on the invoices of
// session ref. The invoice stays safe in the journal and keeps being checked.
func (e *Engine) warnSlow(ctx context.Context, ref string) error {
	submitted, err := e.confirmJ.InSession(ctx, e.opt.NIP, ref, spool.StateSubmitted)
	if err != nil {
		return err
	}
	for _, inv := range submitted {
		if e.warned[inv.ID] || e.now().Sub(inv.UpdatedAt) <= e.opt.Send.SendTimeout {
			continue
		}
		e.warned[inv.ID] = true
		waiting := e.now().Sub(inv.UpdatedAt).Round(time.Second)
		if w, ok := e.storageWaits[inv.ID]; ok { // KSeF has finished: it is the original that is not stored yet
			e.log.Warn("KSeF found this invoice a duplicate and has not stored the original yet, so they cannot be compared; still checking",
				"file", inv.FileName, "invoice", inv.ID, "original", w.original, "waiting", waiting, "gives_up_after", originalStorageWait)
			continue
		}
		e.log.Warn("KSeF has not finished processing this invoice yet; still checking", "file", inv.FileName,
			"invoice", inv.ID, "state", inv.State, "session", inv.SessionRef, "waiting", waiting)
	}
	return nil
}

func bySession(invs []spool.Invoice) map[string][]spool.Invoice {
	m := make(map[string][]spool.Invoice)
	for _, inv := range invs {
		m[inv.SessionRef] = append(m[inv.SessionRef], inv)
	}
	return m
}

// confirmSession asks KSeF about session w's submitted invoices and records its verdicts. A batch
// session's invoices are read from the journal only once KSeF has finished it.
func (e *Engine) confirmSession(ctx context.Context, w spool.Waiting) error {
	ref := w.SessionRef
	var st *ksef.SessionStatus
	if w.Mode == "batch" {
		var err error
		if st, err = e.confirmK.SessionStatus(ctx, ref); err != nil {
			return err
		}
		if st.Status.Code < 200 {
			return nil
		}
	}
	invs, err := e.confirmJ.InSession(ctx, e.opt.NIP, ref, spool.StateSubmitted)
	if err != nil || len(invs) == 0 {
		return err
	}
	switch {
	case st != nil:
		listed, err := e.applyList(ctx, ref, invs)
		if err != nil {
			return err
		}
		return e.sessionFailedWithoutResults(ctx, ref, st, listed)
	case len(invs) <= perInvoiceStatusMax:
		var errs []error
		for i := range invs {
			si, err := e.confirmK.SessionInvoice(ctx, ref, invs[i].InvoiceRef)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, e.applyStatus(ctx, &invs[i], si))
		}
		return errors.Join(errs...)
	}
	_, err = e.applyList(ctx, ref, invs)
	return err
}

// applyList pages through the session's invoices once and applies every result that belongs to one
// of ours, matched by invoice reference (online) or archive entry name (batch). Acceptances are
// recorded journalPart at a time as the list arrives: collecting a 10,000 batch's list entries
// first (with their pre-signed UPO links) was the live heap's peak once the outputs were paged.
// It returns the IDs of the invoices KSeF listed with a status other than accepted (an accepted
// one is no longer submitted).
func (e *Engine) applyList(ctx context.Context, ref string, invs []spool.Invoice) (map[int64]bool, error) {
	byKey := make(map[string]*spool.Invoice, len(invs))
	for i := range invs {
		byKey[matchKey(&invs[i])] = &invs[i]
	}
	listed := make(map[int64]bool)
	var part []acceptance
	var errs []error
	err := e.confirmK.ListSessionInvoices(ctx, ref, false, func(si ksef.SessionInvoice) error {
		key := si.ReferenceNumber
		if si.InvoiceFileName != "" {
			key = si.InvoiceFileName
		}
		inv := byKey[key]
		switch {
		case inv == nil:
		case si.Status.Code == 200:
			delete(byKey, key) // accepted once, even if the list repeats it
			if part = append(part, acceptance{inv, si}); len(part) == journalPart {
				return e.acceptPart(ctx, &part)
			}
		default:
			listed[inv.ID] = true
			errs = append(errs, e.applyStatus(ctx, inv, &si))
		}
		return nil
	})
	errs = append(errs, err)
	if len(part) > 0 {
		errs = append(errs, e.acceptPart(ctx, &part))
	}
	return listed, errors.Join(errs...)
}

// acceptance is KSeF's acceptance of one of our invoices, as its session list gives it.
type acceptance struct {
	inv *spool.Invoice
	si  ksef.SessionInvoice
}

// acceptPart records the KSeF numbers of part in one journal transaction and empties it.
func (e *Engine) acceptPart(ctx context.Context, part *[]acceptance) error {
	regs := make([]spool.Registration, len(*part))
	for i, a := range *part {
		regs[i] = registration(a.inv.ID, &a.si)
	}
	err := e.confirmJ.Accept(ctx, regs...)
	if err == nil {
		for _, a := range *part {
			e.settled(a.inv.ID)
			e.log.Info("invoice accepted", "file", a.inv.FileName, "invoice", a.inv.ID, "state", spool.StateAccepted,
				"ksef_number", a.si.KsefNumber, "session", a.inv.SessionRef)
		}
	}
	*part = (*part)[:0]
	return err
}

// registration is KSeF's acceptance of invoice id as its session list or status reports it.
func registration(id int64, si *ksef.SessionInvoice) spool.Registration {
	return spool.Registration{ID: id, KsefNumber: si.KsefNumber, AcquisitionDate: si.AcquisitionDate,
		UpoURL: si.UpoDownloadURL, InvoiceRef: si.ReferenceNumber, InvoicingMode: si.InvoicingMode}
}

func matchKey(inv *spool.Invoice) string {
	if inv.Mode == "batch" {
		return inv.BatchFileName
	}
	return inv.InvoiceRef
}

// sessionFailedWithoutResults handles a batch that KSeF finished without listing our invoices (for
// example an archive it could not open): they are sent again, and rejected after repeated failures.
// An invoice KSeF listed has its result, even when that leaves it submitted (a duplicate waiting
// for its original to be stored): it is not sent again.
// The invoices still submitted are read again in one query (not one per invoice: after a 10,000
// batch KSeF listed, that was 10,000 reads to find none).
//
// Only failed sessions count towards the rejection, not the journal's attempts: those also count
// every dispatch deferred while KSeF was unreachable (Defer), so after an hour's outage the first
// session to fail — KSeF has cancelled correct batches seconds after their close, CIRFMF/ksef-api
// #308 — rejected the invoice at once. The count lives in memory: a restart forgets it, which only
// means more tries.
func (e *Engine) sessionFailedWithoutResults(ctx context.Context, ref string, st *ksef.SessionStatus, listed map[int64]bool) error {
	left, err := e.confirmJ.InSession(ctx, e.opt.NIP, ref, spool.StateSubmitted)
	if err != nil {
		return err
	}
	var errs []error
	for i := range left {
		cur := &left[i]
		if listed[cur.ID] {
			continue
		}
		cause := fmt.Errorf("batch session %s ended with %d %s", ref, st.Status.Code, st.Status.Description)
		if e.failedByKSeFAgain(cur.ID) {
			errs = append(errs, e.sessionFailed(ctx, cur, ref, st.Status))
			continue
		}
		errs = append(errs, e.backToReady(ctx, cur, cause))
	}
	return errors.Join(errs...)
}

// maxKSeFFailures is how many times in a row KSeF may fail an invoice (a batch session ending
// without a result for it, an invoice status 435 or 500) before it is rejected.
const maxKSeFFailures = 3

// failedByKSeFAgain counts one more failure KSeF caused for invoice id and reports whether that
// makes maxKSeFFailures in a row. The count is dropped when the invoice is accepted or rejected
// (settled).
func (e *Engine) failedByKSeFAgain(id int64) bool {
	e.ksefFails[id]++
	return e.ksefFails[id] >= maxKSeFFailures
}

// settled forgets what the engine counted for an invoice that is now final.
func (e *Engine) settled(id int64) {
	delete(e.ksefFails, id)
	delete(e.dupLookups, id)
	delete(e.storageWaits, id)
}

// sessionFailed rejects inv after its batch sessions kept failing as a whole. The session's status
// codes mean other things than an invoice's with the same number (open-api.json,
// SessionStatusResponse: batch 440 "Sesja anulowana", 415 "Błąd odszyfrowania dostarczonego
// klucza", 430 "Błąd dekompresji pierwotnego archiwum"; SessionInvoiceStatusResponse: invoice 440
// "Duplikat faktury", 415 "Brak możliwości wysyłania faktury z załącznikiem", 430 "Błąd weryfikacji
// pliku faktury"), so the error file says it was the session, with a hint of its own, never the
// hint of the invoice code the number happens to share. KSeF's own words go into details.
func (e *Engine) sessionFailed(ctx context.Context, inv *spool.Invoice, ref string, sst ksef.Status) error {
	st := ksef.Status{Code: sst.Code, Description: e.opt.Lang.T(msg.DescSessionFailed, ref, sst.Code, sst.Description)}
	st.Details = append([]string{sst.Description}, sst.Details...)
	return e.rejectHinted(ctx, inv, st, "ksef", e.opt.Lang.T(msg.HintSessionFailed))
}

// applyStatus records KSeF's verdict on one invoice.
func (e *Engine) applyStatus(ctx context.Context, inv *spool.Invoice, si *ksef.SessionInvoice) error {
	st := si.Status
	switch {
	case st.Code < 200:
		return nil
	case st.Code == 200:
		return e.accept(ctx, inv, si)
	case st.Code == 440:
		return e.duplicate(ctx, inv, si)
	case st.Transient():
		e.leaveFailedSession(ctx, inv, st)
		return e.backToReady(ctx, inv, fmt.Errorf("KSeF status %d %s", st.Code, st.Description))
	case failedByKSeF(st):
		return e.invoiceFailedByKSeF(ctx, inv, st)
	default:
		return e.reject(ctx, inv, st, "ksef")
	}
}

// failedByKSeF reports an invoice status that says KSeF failed, not the invoice (open-api.json,
// SessionInvoiceStatusResponse.status): 435 "Błąd odszyfrowania pliku" (KSeF could not decrypt
// what we sent; the content was never read) and 500 "Nieznany błąd". Neither registered the
// invoice, and neither is something the bookkeeper can correct in the ERP: sending the same bytes
// again is what our own hints used to ask them to do by hand. Production KSeF has answered 435
// "Plik niepoprawnie zaszyfrowany" now and then for correctly encrypted files (CIRFMF/ksef-api
// #677, up to 10 % of one user's sends) and accepted the same invoice "po kilku próbach" (#575).
func failedByKSeF(st ksef.Status) bool { return st.Code == 435 || st.Code == 500 }

// invoiceFailedByKSeF sends inv again after KSeF failed it, in a new online session (a session
// whose key KSeF could not use must not get it again), and rejects it with KSeF's code and hint
// only after maxKSeFFailures such failures in a row. Resending is safe: had KSeF registered it
// after all, the next answer is 440 with the original, which the engine accepts as ours.
func (e *Engine) invoiceFailedByKSeF(ctx context.Context, inv *spool.Invoice, st ksef.Status) error {
	if e.failedByKSeFAgain(inv.ID) {
		return e.reject(ctx, inv, st, "ksef")
	}
	e.closeSessionOf(ctx, inv)
	return e.backToReady(ctx, inv, fmt.Errorf("KSeF status %d %s", st.Code, st.Description))
}

// leaveFailedSession stops using our online session when KSeF cancelled an invoice in it "because
// of a session error" (open-api.json, SessionInvoiceStatusResponse.status: 405 "Przetwarzanie
// anulowane z powodu błędu sesji"): the invoice is sent again in a new session, not into the one
// that failed it.
func (e *Engine) leaveFailedSession(ctx context.Context, inv *spool.Invoice, st ksef.Status) {
	if st.Code == 405 {
		e.closeSessionOf(ctx, inv)
	}
}

// closeSessionOf closes our online session when inv was sent in it.
func (e *Engine) closeSessionOf(ctx context.Context, inv *spool.Invoice) {
	if e.online.session != nil && e.online.session.ReferenceNumber == inv.SessionRef {
		e.closeOnline(ctx)
	}
}

func (e *Engine) accept(ctx context.Context, inv *spool.Invoice, si *ksef.SessionInvoice) error {
	err := e.confirmJ.Accept(ctx, registration(inv.ID, si))
	if err == nil {
		e.settled(inv.ID)
		e.log.Info("invoice accepted", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateAccepted,
			"ksef_number", si.KsefNumber, "session", inv.SessionRef)
	}
	return err
}

// duplicate handles KSeF's 440: the invoice number was registered before. If the original has the
// same bytes it is ours (an earlier run, another copy) and counts as success with the original KSeF
// number; different content is a real conflict the bookkeeper must resolve.
func (e *Engine) duplicate(ctx context.Context, inv *spool.Invoice, si *ksef.SessionInvoice) error {
	origNumber, origSession, ok := si.Status.Duplicate()
	if !ok {
		return e.reject(ctx, inv, si.Status, "ksef")
	}
	orig, registeredIn, err := e.findOriginal(ctx, inv, origSession, origNumber)
	if errors.Is(err, errOriginalNotStoredYet) {
		return nil // stays submitted: its status is read again and the original looked up when due
	}
	if errors.Is(err, errOriginalUnknown) {
		st := si.Status
		st.Description = e.opt.Lang.T(msg.DescDuplicateUnknown, origNumber)
		st.Details = append(st.Details, "original session: "+origSession, err.Error())
		return e.reject(ctx, inv, st, "ksef")
	}
	if err != nil {
		return fmt.Errorf("look up original of duplicate %s: %w", inv.FileName, err)
	}
	if orig != nil && orig.InvoiceHash == inv.RegisteredHash {
		reg := registration(inv.ID, orig)
		reg.SessionRef = registeredIn // the session that registered the original
		reg.SessionUnknown = registeredIn == ""
		err := e.confirmJ.Accept(ctx, reg)
		if err == nil {
			e.settled(inv.ID)
			e.log.Info("invoice was already registered with the same content", "file", inv.FileName, "invoice", inv.ID,
				"state", spool.StateAccepted, "ksef_number", orig.KsefNumber, "session", registeredIn, "named_session", origSession)
		}
		return err
	}
	st := si.Status
	st.Description = e.opt.Lang.T(msg.DescDuplicateDiffers, origNumber)
	st.Details = append(st.Details, "original session: "+origSession)
	return e.rejectHinted(ctx, inv, st, "ksef", e.opt.Lang.T(msg.HintKSeF440Different))
}

// findOriginal finds the registered original of a duplicate: in our own journal when we sent it,
// otherwise in the original session's invoice list (read once per step, however many duplicates
// point at it, to spare the 20-pages-a-minute budget), otherwise by its KSeF number. It also says
// which session registered the original, "" when that is not known.
func (e *Engine) findOriginal(ctx context.Context, inv *spool.Invoice, sessionRef, ksefNumber string) (*ksef.SessionInvoice, string, error) {
	prev, ok, err := e.confirmJ.FindAccepted(ctx, e.opt.NIP, inv.RegisteredHash)
	if err != nil {
		return nil, "", err
	}
	if ok && strings.EqualFold(prev.KsefNumber, ksefNumber) {
		return &ksef.SessionInvoice{KsefNumber: prev.KsefNumber, InvoiceHash: prev.RegisteredHash, ReferenceNumber: prev.InvoiceRef,
			AcquisitionDate: prev.AcquisitionDate, UpoDownloadURL: prev.UpoURL}, prev.SessionRef, nil
	}
	if w, waiting := e.storageWaits[inv.ID]; waiting && e.now().Before(w.next) {
		return nil, "", errOriginalNotStoredYet // neither its session listed nor it fetched before then
	}
	list, ok := e.origCache[sessionRef]
	if !ok {
		list = map[string]ksef.SessionInvoice{}
		err := e.confirmK.ListSessionInvoices(ctx, sessionRef, false, func(si ksef.SessionInvoice) error {
			list[strings.ToUpper(si.KsefNumber)] = si
			return nil
		})
		if cannotList(err) {
			// Another tool sent the original: its session is not ours to list (403, 21173).
			orig, err := e.originalByNumber(ctx, inv, ksefNumber)
			return orig, sessionRef, err
		}
		if err != nil {
			return nil, "", err
		}
		e.origCache[sessionRef] = list
	}
	if si, ok := list[strings.ToUpper(ksefNumber)]; ok {
		return &si, sessionRef, nil
	}
	// The named session does not hold it: KSeF has named the duplicate's own session as the
	// original's (CIRFMF/ksef-api #450), so this says nothing about the original's content, nor
	// where its UPO is.
	orig, err := e.originalByNumber(ctx, inv, ksefNumber)
	return orig, "", err
}

// cannotList reports KSeF refusing to list a session for us (not ours, or not found for our
// context). A firewall block is weather, not a refusal, and is retried instead.
func cannotList(err error) bool {
	var api *ksef.APIError
	return errors.As(err, &api) && (api.HTTPStatus == 403 || api.HasCode(21173))
}

// maxOriginalLookups bounds how often the original of a duplicate is fetched before the engine
// gives up and says so.
const maxOriginalLookups = 5

// errOriginalUnknown: the original of a duplicate could not be compared with our bytes.
var errOriginalUnknown = errors.New("the original could not be compared")

// KSeF gives an invoice its number before it stores it for good, and serves it by number only
// once stored: until then GET /invoices/ksef/{ksefNumber} answers 400 21165 "Faktura o podanym
// numerze KSeF nie jest jeszcze dostępna" with the details "została przetworzona, ale nie jest
// jeszcze dostępna do pobrania. Spróbuj ponownie później" (open-api.json), and
// permanentStorageDate "is filled in asynchronously … may not be available yet while checking
// the status" (SessionInvoiceStatusResponse). Production answers it right after a number is
// assigned (CIRFMF/ksef-api #96). An original another tool registered seconds before our copy is
// in that window, so 21165 is not a refusal to compare: the lookup waits and is tried again,
// after originalStorageRetry and then after as long as it has waited (at most
// originalStorageRetryMax), and only after originalStorageWait does the engine give up and say so.
const (
	originalStorageRetry    = 10 * time.Second
	originalStorageRetryMax = 5 * time.Minute
	originalStorageWait     = time.Hour
)

// errOriginalNotStoredYet: KSeF has not stored the original yet (21165); the duplicate waits.
var errOriginalNotStoredYet = errors.New("the original is not stored yet")

// storageWait is a duplicate waiting for its original to be stored: since the first 21165, and
// when to ask again.
type storageWait struct {
	since, next time.Time
	original    string // the original's KSeF number
}

// originalByNumber fetches the original invoice by its KSeF number and compares the hash of its
// bytes with ours. A refusal, or repeated failures, end in errOriginalUnknown: a clear outcome
// instead of a lookup retried for ever. An original not stored yet is waited for
// (errOriginalNotStoredYet).
func (e *Engine) originalByNumber(ctx context.Context, inv *spool.Invoice, ksefNumber string) (*ksef.SessionInvoice, error) {
	data, err := e.confirmK.GetInvoice(ctx, ksefNumber)
	if err != nil {
		if rateLimited(err) {
			return nil, err // not a failed lookup: tried again once the group may be used
		}
		var api *ksef.APIError
		if errors.As(err, &api) && api.HasCode(21165) {
			return nil, e.waitForStorage(inv, ksefNumber, err)
		}
		e.dupLookups[inv.ID]++
		if errors.As(err, &api) && api.HTTPStatus >= 400 && api.HTTPStatus < 500 || e.dupLookups[inv.ID] >= maxOriginalLookups {
			return nil, fmt.Errorf("%w: %w", errOriginalUnknown, err)
		}
		return nil, err
	}
	delete(e.dupLookups, inv.ID)
	delete(e.storageWaits, inv.ID)
	sum := sha256.Sum256(data)
	return &ksef.SessionInvoice{KsefNumber: ksefNumber, InvoiceHash: base64.StdEncoding.EncodeToString(sum[:])}, nil
}

// waitForStorage records one more 21165 for the original of inv and says when to ask again, or,
// after originalStorageWait, gives up with errOriginalUnknown.
func (e *Engine) waitForStorage(inv *spool.Invoice, ksefNumber string, err error) error {
	now := e.now()
	w, ok := e.storageWaits[inv.ID]
	if !ok {
		w.since, w.original = now, ksefNumber
		e.log.Info("the original of a duplicate has its KSeF number but KSeF has not stored it yet; comparing it later",
			"file", inv.FileName, "invoice", inv.ID, "original", ksefNumber)
	}
	waited := now.Sub(w.since)
	if waited >= originalStorageWait {
		delete(e.storageWaits, inv.ID)
		return fmt.Errorf("%w: KSeF has not stored it after %s: %w", errOriginalUnknown, waited.Round(time.Minute), err)
	}
	w.next = now.Add(min(originalStorageRetryMax, max(originalStorageRetry, waited)))
	e.storageWaits[inv.ID] = w
	return errOriginalNotStoredYet
}

func (e *Engine) reject(ctx context.Context, inv *spool.Invoice, st ksef.Status, stage string) error {
	return e.rejectHinted(ctx, inv, st, stage, rejectionHint(e.opt.Lang, inv, st))
}

// rejectHinted is reject with a hint that knows more than KSeF's status code.
func (e *Engine) rejectHinted(ctx context.Context, inv *spool.Invoice, st ksef.Status, stage, hint string) error {
	err := e.confirmJ.Reject(ctx, spool.Rejection{ID: inv.ID, Code: st.Code, Description: st.Description,
		Details: st.Details, Stage: stage, Hint: hint})
	if err == nil {
		e.settled(inv.ID)
		e.log.Warn("invoice rejected by KSeF", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateRejected,
			"code", st.Code, "reason", st.Description, "session", inv.SessionRef)
	}
	return err
}

// reconcileSession decides the fate of invoices whose send outcome is unknown (a crash or a lost
// answer). Nothing is sent again until KSeF's own records say the invoice is not there.
func (e *Engine) reconcileSession(ctx context.Context, ref string, invs []spool.Invoice) error {
	if e.online.session != nil && e.online.session.ReferenceNumber == ref {
		// Our live session lost an answer: stop using it so its list is final before we look.
		e.closeOnline(ctx)
	}
	if invs[0].Mode == "batch" {
		return e.reconcileBatch(ctx, ref, invs)
	}
	found := make(map[string]ksef.SessionInvoice)
	err := e.confirmK.ListSessionInvoices(ctx, ref, false, func(si ksef.SessionInvoice) error {
		found[si.InvoiceHash] = si
		return nil
	})
	if err != nil {
		return fmt.Errorf("reconcile session %s: %w", ref, err)
	}
	var errs []error
	for i := range invs {
		si, ok := found[invs[i].RegisteredHash]
		if !ok {
			errs = append(errs, e.backToReady(ctx, &invs[i], errors.New("KSeF has no record of the earlier send")))
			continue
		}
		errs = append(errs, e.confirmJ.MarkSubmitted(ctx, invs[i].ID, si.ReferenceNumber))
		e.log.Info("reconciled: KSeF has the invoice", "file", invs[i].FileName, "invoice", invs[i].ID, "state", spool.StateSubmitted, "reference", si.ReferenceNumber)
	}
	return errors.Join(errs...)
}

// reconcileBatch: a batch registers nothing until it is closed. A session KSeF still shows as open
// (status 100) may or may not have received our close, so the close is sent (again): KSeF either
// takes it, or says the session is already closed (21180), or refuses because parts are missing or
// not as declared (21205, 21157) or its 12 hours ran out (21208) — then nothing was registered and
// the invoices go into a new session. A 21205 or 21173 right after the upload is KSeF not seeing
// the parts yet (partsSettle).
func (e *Engine) reconcileBatch(ctx context.Context, ref string, invs []spool.Invoice) error {
	ids := make([]int64, len(invs))
	for i := range invs {
		ids[i] = invs[i].ID
	}
	st, err := e.confirmK.SessionStatus(ctx, ref)
	if err != nil {
		return fmt.Errorf("reconcile batch %s: %w", ref, err)
	}
	if st.Status.Code != 100 {
		return e.batchClosed(ctx, ref, ids)
	}
	err = e.confirmK.CloseBatchSession(ctx, ref)
	var api *ksef.APIError
	switch {
	case err == nil, errors.As(err, &api) && api.HasCode(21180):
		return e.batchClosed(ctx, ref, ids)
	case errors.As(err, &api) && (api.HasCode(21205) || api.HasCode(21173)) && e.partsMaySettle(ctx, ref):
		return fmt.Errorf("KSeF does not see batch %s or all its uploaded parts yet, a known KSeF delay; closing it again: %w", ref, err)
	case errors.As(err, &api) && api.HTTPStatus >= 400 && api.HTTPStatus < 500:
		return e.abandonBatch(ctx, ref, ids, err)
	}
	return fmt.Errorf("reconcile batch %s: %w", ref, err)
}

// partsSettle is how long after a batch's upload ends KSeF's 21205 ("Nie przesłano zadeklarowanej
// '1' części pliku") or 21173 ("Brak sesji o wskazanym numerze referencyjnym") on its close is taken
// for KSeF not seeing the parts or the session yet rather than for parts missing. KSeF has answered
// 21205 about every second time right after a one-part upload that storage took
// (CIRFMF/ksef-client-java #77; MF: "Problem dotyczy samego API", CIRFMF/ksef-docs#264), and 21173
// now and then three seconds after the open (CIRFMF/ksef-api #801); the official C# end-to-end
// test retries the close for up to 30 s. Within it the close is sent again as the session gate
// allows (2 s, 4 s, 8 s, …), a handful of the batchSession group's 60 an hour, instead of giving
// up the batch and sending it all again in a new session.
const partsSettle = 2 * time.Minute

// partsMaySettle reports whether batch ref finished its upload less than partsSettle ago: its
// journal record moved to closing, as closeBatch records, right after the last part.
func (e *Engine) partsMaySettle(ctx context.Context, ref string) bool {
	closing, err := e.confirmJ.Sessions(ctx, e.opt.NIP, "closing")
	if err != nil {
		return false
	}
	for _, s := range closing {
		if s.Ref == ref {
			return e.now().Sub(s.UpdatedAt) < partsSettle
		}
	}
	return false
}
