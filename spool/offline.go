package spool

import (
	"context"
	"fmt"
	"time"
)

// Offline is how an invoice is issued, decided when it is validated: online (the zero value), or
// in one of KSeF's offline modes, and, for a technical correction, which rejected invoice it
// corrects.
type Offline struct {
	Mode          string    // offline24 | unavailable | failure | total-failure; "" online
	OutageStart   time.Time // the outage the mode counts from (unavailable, failure)
	OutageEnd     time.Time // zero while it lasts
	CorrectedHash string    // technical correction: base64 SHA-256 of the rejected invoice
	CorrectedFile string    // and its file name
}

func (o Offline) apply(r *Invoice) {
	r.OfflineMode, r.OutageStart, r.OutageEnd = o.Mode, o.OutageStart, o.OutageEnd
	r.CorrectedHash, r.CorrectedFile = o.CorrectedHash, o.CorrectedFile
}

// queryOfflinePending lists offline invoices KSeF has not accepted yet. The WHERE term starts with
// the partial index invoices_offline's condition so SQLite uses it.
const queryOfflinePending = selectInvoice + ` WHERE offline_mode <> '' AND nip = ?
	AND state IN ('claimed', 'ready', 'sending', 'submitted') ORDER BY id`

// OfflinePending returns nip's offline invoices that KSeF has not accepted yet (their sending
// deadline still runs), ordered by ID.
func (j *Journal) OfflinePending(ctx context.Context, nip string) ([]Invoice, error) {
	return j.queryInvoices(ctx, queryOfflinePending, nip)
}

// EndOutage records that KSeF is available again since end: every invoice of nip issued offline
// during an outage that began before end and whose end is not known yet gets end as its outage's
// end, from which its deadline counts. It returns how many invoices it updated. The state does not
// change, so this bypasses the state machine.
func (j *Journal) EndOutage(ctx context.Context, nip string, end time.Time) (int, error) {
	e, err := encodeTime(end)
	if err != nil {
		return 0, err
	}
	res, err := j.db.ExecContext(ctx, `UPDATE invoices SET outage_end = ?
		WHERE offline_mode <> '' AND nip = ? AND outage_start <> '' AND outage_start <= ? AND outage_end = ''`, e, nip, e)
	if err != nil {
		return 0, fmt.Errorf("end outage: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// queryLateOnline lists ready invoices declared online whose issue date (P_1, text that starts
// with YYYY-MM-DD) is before a given day.
const queryLateOnline = selectInvoice + ` WHERE nip = ? AND state = 'ready' AND offline_mode = ''
	AND issue_date <> '' AND issue_date < ? ORDER BY id`

// LateOnline returns nip's ready invoices declared online whose issue date is before day
// (YYYY-MM-DD): not sent on the day they were issued.
func (j *Journal) LateOnline(ctx context.Context, nip, day string) ([]Invoice, error) {
	return j.queryInvoices(ctx, queryLateOnline, nip, day)
}

// IssueOffline records that the ready invoices ids, declared online so far, are issued in the
// offline mode o says; an invoice already declared offline keeps its mode.
func (j *Journal) IssueOffline(ctx context.Context, ids []int64, o Offline) error {
	return j.apply(ctx, opIssueOffline, ids, func(r *Invoice) {
		if r.OfflineMode == "" {
			o.apply(r)
		}
	})
}

// queryRejectedOffline finds the rejected invoice a technical correction corrects: same seller
// context and invoice number, sent with offlineMode, rejected by KSeF (not locally), newest first.
const queryRejectedOffline = selectInvoice + ` WHERE nip = ? AND invoice_number = ? AND offline_mode <> ''
	AND err_stage = 'ksef' AND (state = 'rejected' OR (state = 'done' AND outcome = 'rejected'))
	ORDER BY id DESC LIMIT 1`

// RejectedOffline returns the newest invoice of nip with invoiceNumber (P_2) that was sent offline
// and rejected by KSeF, if any: a new file with the same number is its technical correction.
func (j *Journal) RejectedOffline(ctx context.Context, nip, invoiceNumber string) (*Invoice, bool, error) {
	if invoiceNumber == "" {
		return nil, false, nil
	}
	invs, err := j.queryInvoices(ctx, queryRejectedOffline, nip, invoiceNumber)
	if err != nil || len(invs) == 0 {
		return nil, false, err
	}
	return &invs[0], true, nil
}
