package engine

import (
	"context"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"sort"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/invoicexml"
	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// Availability is what the engine asks about KSeF's availability (an *availability.Tracker: the
// status service's announcements combined with our own observations).
type Availability interface {
	Snapshot() availability.Snapshot
	ModeAt(at time.Time) availability.Claim
	Failures() []offline.Period
}

// offlineJournal is what offline issuance reads and records.
type offlineJournal interface {
	OfflinePending(ctx context.Context, nip string) ([]spool.Invoice, error)
	EndOutage(ctx context.Context, nip string, end time.Time) (int, error)
	RejectedOffline(ctx context.Context, nip, invoiceNumber string) (*spool.Invoice, bool, error)
	LateOnline(ctx context.Context, nip, day string) ([]spool.Invoice, error)
	IssueOffline(ctx context.Context, ids []int64, o spool.Offline) error
}

// offlineState is what the engine's loop remembers about outages and deadlines.
type offlineState struct {
	// sawUsable is false until the loop has seen KSeF usable once since it started, and again
	// after it saw KSeF unusable: the next usable state ends the open outages.
	sawUsable bool
	// resumedAt is when KSeF became usable again: invoices put off before it are due at once
	// instead of after their growing retry delay.
	resumedAt time.Time
	// nextDeadlineCheck throttles the deadline warnings; warned remembers per invoice the last
	// level reported (1 close, 2 missed) so each is logged once.
	nextDeadlineCheck time.Time
	warned            map[int64]int
	// nextLateCheck throttles the look for online invoices not sent on their issue day.
	nextLateCheck time.Time
}

// issuance decides how a validated invoice is issued (tryby-offline.md, issue 14), from the time it
// was claimed:
//
//   - claimed while KSeF was unavailable or an outage was announced: the mode the tracker names
//     (failure, unavailable, total-failure; offline24 for an outage nobody announced);
//   - otherwise, when the company issues offline (send.offline_mode = "offline24"): offline24;
//   - otherwise, when its issue date (P_1) is before the day it was claimed (Warsaw): offline24,
//     because KSeF marks it Offline anyway (§11: the day of P_1 before the day of invoicingDate);
//   - otherwise online.
func (e *Engine) issuance(inv *spool.Invoice, p *invoicexml.Prepared) spool.Offline {
	if e.opt.Availability != nil {
		if c := e.opt.Availability.ModeAt(inv.CreatedAt); c.Offline {
			return spool.Offline{Mode: string(c.Mode), OutageStart: c.Outage.Start, OutageEnd: c.Outage.End}
		}
	}
	if e.opt.Send.OfflineMode == string(offline.Offline24) {
		return spool.Offline{Mode: string(offline.Offline24)}
	}
	if issued, err := time.ParseInLocation("2006-01-02", p.IssueDate, offline.Warsaw); err == nil {
		y, m, d := inv.CreatedAt.In(offline.Warsaw).Date()
		if issued.Before(time.Date(y, m, d, 0, 0, 0, 0, offline.Warsaw)) {
			return spool.Offline{Mode: string(offline.Offline24)}
		}
	}
	return spool.Offline{}
}

// declaresOffline reports whether the invoice is sent with offlineMode: true.
func declaresOffline(inv *spool.Invoice) bool { return inv.OfflineMode != "" }

// deadline is when an offline invoice must reach KSeF by law (availability.Deadline, as status
// and the notifications compute it), with the failures the tracker knows of.
func (e *Engine) deadline(inv *spool.Invoice) (offline.Deadline, error) {
	var failures []offline.Period
	if e.opt.Availability != nil {
		failures = e.opt.Availability.Failures()
	}
	return availability.Deadline(inv, failures)
}

// announcedOutage reports whether the status service announces KSeF down now. Sending then is
// pointless: invoices wait in the journal (offline, with their QR codes already written) and go
// when the announcement ends. An outage nobody announced is not a reason to stop: our own tries
// are how we see it end.
func (e *Engine) announcedOutage() bool {
	if e.opt.Availability == nil {
		return false
	}
	switch e.opt.Availability.Snapshot().State {
	case availability.Maintenance, availability.Failure, availability.TotalFailure:
		return true
	}
	return false
}

// resumed reports whether an invoice put off before KSeF became usable again is due now.
func (e *Engine) resumed(inv *spool.Invoice) bool {
	return !e.offline.resumedAt.IsZero() && inv.UpdatedAt.Before(e.offline.resumedAt)
}

// followAvailability notices KSeF becoming usable again: the open outages end then (their
// deadlines count from that moment) and the queue drains at once.
func (e *Engine) followAvailability(ctx context.Context) {
	if e.opt.Availability == nil {
		return
	}
	snap := e.opt.Availability.Snapshot()
	if snap.State != availability.Available {
		if snap.State != availability.Unknown {
			e.offline.sawUsable = false
		}
		return
	}
	if e.offline.sawUsable {
		return
	}
	n, err := e.offJ.EndOutage(ctx, e.opt.NIP, snap.Since)
	if err != nil {
		e.log.Warn("cannot record the end of the outage; retried on the next step", "err", err)
		return
	}
	e.offline.sawUsable = true
	if n > 0 || !e.offline.resumedAt.IsZero() {
		e.log.Info("KSeF is available again; offline invoices are sent now, earliest deadline first",
			"since", snap.Since.Format(time.RFC3339), "offline_invoices", n)
	}
	e.offline.resumedAt = e.now()
}

// offlineFirst orders ready invoices for sending: offline ones first, earliest deadline first, then
// the others in their order.
func (e *Engine) offlineFirst(ready []spool.Invoice) {
	key := make(map[int64]time.Time, len(ready))
	for i := range ready {
		if !declaresOffline(&ready[i]) {
			continue
		}
		d, err := e.deadline(&ready[i])
		switch {
		case err != nil || d.None:
			key[ready[i].ID] = farFuture
		case d.Open:
			key[ready[i].ID] = farFuture.Add(-time.Hour) // counts from an outage's end: before no obligation
		default:
			key[ready[i].ID] = d.Day
		}
	}
	sort.SliceStable(ready, func(a, b int) bool {
		ka, oka := key[ready[a].ID]
		kb, okb := key[ready[b].ID]
		if oka != okb {
			return oka
		}
		return oka && ka.Before(kb)
	})
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// byDeclaredMode splits invoices into those sent with offlineMode true and the others, keeping
// their order: one batch session declares one mode for all its invoices.
func byDeclaredMode(invs []spool.Invoice) [][]spool.Invoice {
	off, on := partition(invs, declaresOffline)
	var groups [][]spool.Invoice
	for _, g := range [][]spool.Invoice{off, on} {
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// offlineCheckEvery throttles the deadline warnings and the look for online invoices not sent on
// their issue day.
const offlineCheckEvery = time.Minute

// throttled reports whether a check limited to one per every must wait until *next; when it need
// not, *next moves on by every.
func (e *Engine) throttled(next *time.Time, every time.Duration) bool {
	now := e.now()
	if now.Before(*next) {
		return true
	}
	*next = now.Add(every)
	return false
}

// issueLateOffline makes every ready invoice declared online that was not sent on its issue day
// (P_1, in Poland) an offline24 invoice, as the law does: "Jeśli jednak data przesłania faktury do
// KSeF będzie późniejsza niż data wskazana […] w polu P_1, to w myśl art. 106nda ust. 16 ustawy
// faktura zostanie uznana za fakturę wystawioną w trybie offline24" (MF's handbook, quoted in
// CIRFMF/ksef-api #145), and KSeF marks it Offline itself (automatyczne-okreslanie-trybu-offline.md).
// Its deadline, the next business day after P_1, then runs: it is sent with offlineMode, first among
// the ready ones, and warned about, listed by status and notified like any offline invoice. Without
// this, an invoice held up past midnight (KSeF failing fewer times than makes an outage, a long
// Retry-After) could miss that deadline with nothing said.
func (e *Engine) issueLateOffline(ctx context.Context) {
	if e.throttled(&e.offline.nextLateCheck, offlineCheckEvery) {
		return
	}
	late, err := e.offJ.LateOnline(ctx, e.opt.NIP, e.now().In(offline.Warsaw).Format("2006-01-02"))
	if err == nil && len(late) > 0 {
		ids := make([]int64, len(late))
		for i := range late {
			ids[i] = late[i].ID
		}
		err = e.offJ.IssueOffline(ctx, ids, spool.Offline{Mode: string(offline.Offline24)})
	}
	if err != nil {
		e.log.Warn("cannot look for invoices not sent on their issue day; retried on the next step", "err", err)
		e.offline.nextLateCheck = time.Time{}
		return
	}
	for i := range late {
		inv := &late[i]
		inv.OfflineMode = string(offline.Offline24)
		d, _ := e.deadline(inv)
		e.log.Warn("invoice not sent to KSeF on its issue date is an offline24 invoice by law; sent with offlineMode",
			"file", inv.FileName, "invoice", inv.ID, "issue_date", inv.IssueDate, "offline_mode", inv.OfflineMode, "deadline", d.String())
	}
}

// checkDeadlines warns once about every offline invoice whose deadline is less than one business
// day away and reports once, as an error naming it, every one that missed it.
func (e *Engine) checkDeadlines(ctx context.Context) {
	if e.throttled(&e.offline.nextDeadlineCheck, offlineCheckEvery) {
		return
	}
	now := e.now()
	pending, err := e.offJ.OfflinePending(ctx, e.opt.NIP)
	if err != nil {
		e.log.Warn("cannot read offline invoices for their deadlines", "err", err)
		return
	}
	warned := e.offline.warned // only pending invoices are remembered: the map does not grow forever
	e.offline.warned = make(map[int64]int, len(pending))
	for i := range pending {
		e.offline.warned[pending[i].ID] = warned[pending[i].ID]
	}
	for i := range pending {
		inv := &pending[i]
		d, err := e.deadline(inv)
		if err != nil {
			continue
		}
		level := 0
		switch {
		case offline.Missed(d, now):
			level = 2
		case offline.LessThanOneBusinessDayLeft(d, now):
			level = 1
		}
		if level <= e.offline.warned[inv.ID] {
			continue
		}
		e.offline.warned[inv.ID] = level
		attrs := []any{"file", inv.FileName, "invoice", inv.ID, "invoice_number", inv.InvoiceNumber,
			"offline_mode", inv.OfflineMode, "deadline", d.String(), "state", inv.State}
		if level == 2 {
			e.log.Error("offline invoice missed its legal sending deadline: send it to KSeF now and tell your accountant", attrs...)
		} else {
			e.log.Warn("offline invoice must reach KSeF today (its legal deadline)", attrs...)
		}
	}
}

// sendOptions are the per-invoice fields of an online send.
func (e *Engine) sendOptions(inv *spool.Invoice) ksef.SendOptions {
	return ksef.SendOptions{OfflineMode: declaresOffline(inv), HashOfCorrectedInvoice: inv.CorrectedHash}
}

// logIssuance says, for an offline invoice, why and by when it must reach KSeF.
func (e *Engine) logIssuance(file string, id int64, issueDate string, o spool.Offline) {
	if o.Mode == "" {
		return
	}
	inv := &spool.Invoice{IssueDate: issueDate, OfflineMode: o.Mode, OutageStart: o.OutageStart, OutageEnd: o.OutageEnd}
	d, err := e.deadline(inv)
	deadline := d.String()
	if err != nil {
		deadline = err.Error()
	}
	e.log.Info("invoice issued offline; sent with offlineMode", "file", file, "invoice", id, "offline_mode", o.Mode, "deadline", deadline)
}

// CorrectionOf is the correctionOf of .ksef.json: the rejected invoice a technical correction
// corrects.
type CorrectionOf struct {
	FileName    string `json:"fileName"`
	InvoiceHash string `json:"invoiceHash"` // SHA-256 of the rejected bytes, base64 (hashOfCorrectedInvoice)
}

func correctionOf(inv *spool.Invoice) *CorrectionOf {
	if inv.CorrectedHash == "" {
		return nil
	}
	return &CorrectionOf{FileName: inv.CorrectedFile, InvoiceHash: inv.CorrectedHash}
}

// technicalCorrection makes a validated invoice a technical correction (korekta-techniczna.md)
// when KSeF rejected an offline invoice of this seller with the same number (P_2) earlier: it is
// sent online with offlineMode true and hashOfCorrectedInvoice naming the rejected bytes, keeping
// the original's offline mode and deadline. A rejected correction is no new original: a further
// fix still names the first rejected invoice. The same bytes again are no correction, and neither
// is the invoice sent again after a refusal no correction can mend: "Korekta techniczna nie dotyczy
// sytuacji związanych z brakiem uprawnień" (offline/korekta-techniczna.md), which KSeF does not
// check itself (CIRFMF/ksef-api #404), so it would link the two.
func (e *Engine) technicalCorrection(ctx context.Context, o *spool.Offline, invoiceNumber, hash string) error {
	orig, ok, err := e.offJ.RejectedOffline(ctx, e.opt.NIP, invoiceNumber)
	if err != nil || !ok || orig.RegisteredHash == hash || orig.CorrectedHash == "" && nonTechnical[orig.ErrCode] {
		return err
	}
	corrected, file := orig.RegisteredHash, orig.FileName
	if orig.CorrectedHash != "" {
		corrected, file = orig.CorrectedHash, orig.CorrectedFile
	}
	*o = spool.Offline{Mode: orig.OfflineMode, OutageStart: orig.OutageStart, OutageEnd: orig.OutageEnd,
		CorrectedHash: corrected, CorrectedFile: file}
	return nil
}

// technicalCorrections separates the technical corrections, which KSeF takes only in an online
// session, from the rest. Without any, rest is ready itself: copying a burst's 10,000 records
// (about 7 MB, 15 with the growth of the slice) was most of the live heap when a batch is built.
func technicalCorrections(ready []spool.Invoice) (corrections, rest []spool.Invoice) {
	return partition(ready, isCorrection)
}

func isCorrection(inv *spool.Invoice) bool { return inv.CorrectedHash != "" }

// partition splits invs into those that satisfy is and the others, each in their order. When all
// of them fall on one side that side is invs itself: the usual burst has no correction, no
// attachment and one declared mode, and copying its 10,000 records (about 7 MB, 15 with the
// slices' growth) was most of the live heap while a batch was built.
func partition(invs []spool.Invoice, is func(*spool.Invoice) bool) (yes, no []spool.Invoice) {
	n := 0
	for i := range invs {
		if is(&invs[i]) {
			n++
		}
	}
	switch n {
	case 0:
		return nil, invs
	case len(invs):
		return invs, nil
	}
	yes, no = make([]spool.Invoice, 0, n), make([]spool.Invoice, 0, len(invs)-n)
	for i := range invs {
		if is(&invs[i]) {
			yes = append(yes, invs[i])
		} else {
			no = append(no, invs[i])
		}
	}
	return yes, no
}

// rejectionHint is the hint of an invoice KSeF rejected: the one for its code, and what a
// technical correction can do about it. A refused correction gets only its own explanation.
func rejectionHint(l msg.Lang, inv *spool.Invoice, st ksef.Status) string {
	if st.Code == 21166 || st.Code == 21167 {
		return correctionHint(l, inv, st.Code)
	}
	return joinHints(hintFor(l, st), correctionHint(l, inv, st.Code))
}

// nonTechnical are KSeF's answers a technical correction cannot help with: permissions (410), the
// seller's attachment setting (415), and the refusals of corrections themselves.
var nonTechnical = map[int]bool{410: true, 415: true, 21166: true, 21167: true}

// correctionHint is what the bookkeeper reads about technical corrections in the error file, in
// their language: how to make one after KSeF rejected an offline invoice, or what KSeF's refusal of
// one means.
func correctionHint(l msg.Lang, inv *spool.Invoice, code int) string {
	switch {
	case code == 21166:
		return l.T(msg.HintCorrection21166, inv.CorrectedFile)
	case code == 21167:
		return l.T(msg.HintCorrection21167, inv.CorrectedFile)
	case inv.OfflineMode == "" || nonTechnical[code]:
		return ""
	}
	return l.T(msg.HintTechCorrection, inv.InvoiceNumber, inv.RegisteredHash)
}
