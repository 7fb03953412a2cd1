package spool

import (
	"context"
	"fmt"
)

// FollowFrom returns the first record id that can belong to a file still in the outbox now: the
// oldest claim still in progress (its source file not yet removed), or else the next id to be
// given. `send` with a daemon running reads every record from there on to learn what happened to
// the files it saw, without scanning the whole history.
func (j *Journal) FollowFrom(ctx context.Context, nip string) (int64, error) {
	var pendingMin, maxID *int64
	err := j.db.QueryRowContext(ctx, `SELECT
		(SELECT min(id) FROM invoices WHERE source_pending = 1 AND nip = ?),
		(SELECT max(id) FROM invoices)`, nip).Scan(&pendingMin, &maxID)
	if err != nil {
		return 0, fmt.Errorf("journal follow point: %w", err)
	}
	switch {
	case pendingMin != nil:
		return *pendingMin, nil
	case maxID != nil:
		return *maxID + 1, nil
	}
	return 1, nil
}

// Since returns the records of nip with id >= from, oldest first (a primary-key range: cheap
// however long the history is).
func (j *Journal) Since(ctx context.Context, nip string, from int64) ([]Invoice, error) {
	return j.queryInvoices(ctx, selectInvoice+` WHERE id >= ? AND nip = ? ORDER BY id`, from, nip)
}
