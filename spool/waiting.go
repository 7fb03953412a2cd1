package spool

import (
	"context"
	"fmt"
	"time"
)

// Waiting summarises one session's invoices in one state: enough to decide whether the session is
// due to be asked about, without reading every record. A batch of 10,000 submitted invoices is
// asked about every few seconds while KSeF processes it; reading all of them each time cost more
// than everything else the daemon does meanwhile.
type Waiting struct {
	SessionRef string
	Mode       string // online|batch
	Count      int
	Newest     time.Time // the latest UpdatedAt: when the youngest invoice was handed over
	Oldest     time.Time // the earliest UpdatedAt
	Claimed    time.Time // the earliest CreatedAt: when the longest-waiting invoice was claimed
}

const (
	queryWaiting = `SELECT session_ref, max(mode), count(*), max(updated_at), min(updated_at), min(created_at) FROM invoices
		WHERE nip = ? AND state = ? GROUP BY session_ref ORDER BY session_ref`
	queryInSession   = selectInvoice + ` WHERE session_ref = ? AND nip = ? AND state = ? ORDER BY id`
	queryHashesTaken = `SELECT DISTINCT r.registered_hash FROM invoices r JOIN invoices o
		ON o.nip = r.nip AND o.registered_hash = r.registered_hash AND o.id <> r.id
		WHERE r.nip = ? AND r.state = 'ready' AND o.registered_hash <> ''
		  AND (o.state IN ('sending', 'submitted', 'accepted') OR (o.state = 'done' AND o.outcome = 'accepted'))`
)

// WaitingSessions summarises the invoices of nip in state, per session (ready invoices are in no
// session: one summary with an empty SessionRef).
func (j *Journal) WaitingSessions(ctx context.Context, nip string, state State) ([]Waiting, error) {
	rows, err := j.query(ctx, queryWaiting, nip, string(state))
	if err != nil {
		return nil, fmt.Errorf("waiting sessions: %w", err)
	}
	defer rows.Close()
	var out []Waiting
	for rows.Next() {
		var w Waiting
		var times [3]string
		if err := rows.Scan(&w.SessionRef, &w.Mode, &w.Count, &times[0], &times[1], &times[2]); err != nil {
			return nil, fmt.Errorf("waiting sessions: %w", err)
		}
		for i, dst := range []*time.Time{&w.Newest, &w.Oldest, &w.Claimed} {
			if *dst, err = decodeTime(times[i]); err != nil {
				return nil, fmt.Errorf("waiting sessions: %w", err)
			}
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("waiting sessions: %w", err)
	}
	return out, nil
}

// InSession returns the invoices of nip in state that belong to session ref, ordered by ID.
func (j *Journal) InSession(ctx context.Context, nip, ref string, state State) ([]Invoice, error) {
	return j.queryInvoices(ctx, queryInSession, ref, nip, string(state))
}

// HashesTaken returns the registered hashes of nip's ready invoices that another record has
// already handed to KSeF: accepted, or sending or submitted and awaiting the verdict. Only those
// need the one-by-one look (FindAccepted, InFlight) before a send; one query answers for a whole
// burst instead of two per invoice.
func (j *Journal) HashesTaken(ctx context.Context, nip string) (map[string]bool, error) {
	rows, err := j.query(ctx, queryHashesTaken, nip)
	if err != nil {
		return nil, fmt.Errorf("hashes taken: %w", err)
	}
	defer rows.Close()
	taken := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("hashes taken: %w", err)
		}
		taken[h] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hashes taken: %w", err)
	}
	return taken, nil
}
