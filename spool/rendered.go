package spool

import (
	"context"
	"fmt"
	"time"
)

// The readable copies (PDF) of invoices are rendered in memory after their outputs exist; a
// process killed before rendering loses that work. The next process asks for the invoices recorded
// since the moment its predecessor had rendered everything (cmd/ksef-sync readable_state.go) and
// renders what is missing. Both queries scan by time without an index: they run once per start,
// and a journal of 100,000 invoices is read in milliseconds.

// queryAcceptedSince lists invoices KSeF accepted whose outputs were written since a time.
const queryAcceptedSince = selectInvoice + ` WHERE nip = ? AND state = 'done' AND outcome = 'accepted'
	AND output_stem <> '' AND updated_at >= ? ORDER BY id`

// AcceptedSince returns nip's accepted invoices whose outputs were recorded at or after since.
func (j *Journal) AcceptedSince(ctx context.Context, nip string, since time.Time) ([]Invoice, error) {
	s, err := encodeTime(since)
	if err != nil {
		return nil, err
	}
	return j.queryInvoices(ctx, queryAcceptedSince, nip, s)
}

// DeliveredSince returns nip's invoices delivered into the inbox at or after since, with the time
// each was recorded.
func (j *Journal) DeliveredSince(ctx context.Context, nip string, since time.Time) ([]Delivered, []time.Time, error) {
	s, err := encodeTime(since)
	if err != nil {
		return nil, nil, err
	}
	rows, err := j.db.QueryContext(ctx, `SELECT ksef_number, subject, path, delivered_at FROM delivered
		WHERE nip = ? AND delivered_at >= ? ORDER BY delivered_at`, nip, s)
	if err != nil {
		return nil, nil, fmt.Errorf("delivered since: %w", err)
	}
	defer rows.Close()
	var out []Delivered
	var at []time.Time
	for rows.Next() {
		var d Delivered
		var when string
		if err := rows.Scan(&d.KsefNumber, &d.Subject, &d.Path, &when); err != nil {
			return nil, nil, fmt.Errorf("delivered since: %w", err)
		}
		t, err := decodeTime(when)
		if err != nil {
			return nil, nil, fmt.Errorf("delivered since: %w", err)
		}
		out, at = append(out, d), append(at, t)
	}
	return out, at, rows.Err()
}
