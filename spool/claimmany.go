package spool

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// claimItem is one file on its way through ClaimMany.
type claimItem struct {
	idx  int
	path string
	data []byte
	hash string
	id   int64
}

// ClaimMany claims outbox files by the claim protocol above, with a handful of durable writes for
// the whole lot instead of several per file: ONE transaction inserts every record together with
// its original bytes (claimed at once: record and bytes are durable together or not at all), and
// only then are the outbox files removed. A burst of thousands of files is claimed in seconds,
// without a file of its own per invoice in the spool folder.
//
// The result has one entry per path: the claimed invoice, or the error for that file (ErrVanished,
// ErrTooLarge, ErrAlreadyClaimed, ...), in the order of paths.
func (j *Journal) ClaimMany(ctx context.Context, nip string, paths []string) ([]*Invoice, []error) {
	invs, _, errs := j.ClaimManyBytes(ctx, nip, paths)
	return invs, errs
}

// ClaimManyBytes is ClaimMany that also returns each claimed invoice's original bytes (nil where
// the claim failed): the exact bytes committed with the record, so validating the lot need not
// read them back from the journal.
func (j *Journal) ClaimManyBytes(ctx context.Context, nip string, paths []string) ([]*Invoice, [][]byte, []error) {
	invs, data, errs := make([]*Invoice, len(paths)), make([][]byte, len(paths)), make([]error, len(paths))
	if j.readOnly {
		for i := range errs {
			errs[i] = ErrReadOnly
		}
		return invs, data, errs
	}
	items := j.readClaims(paths, errs)
	runHook(afterReadHook)
	now := j.now().UTC()
	items = j.insertClaims(ctx, nip, items, now, errs)
	if len(items) == 0 {
		return invs, data, errs
	}
	runHook(afterClaimedHook)
	ctx = context.WithoutCancel(ctx) // the invoices are ours now
	j.removeSources(ctx, items)
	for _, it := range items {
		invs[it.idx], data[it.idx] = claimedInvoice(nip, it, now), it.data
	}
	return invs, data, errs
}

// claimedInvoice is the record insertClaims wrote for it, as Get would read it back.
func claimedInvoice(nip string, it claimItem, now time.Time) *Invoice {
	return &Invoice{ID: it.id, NIP: nip, FileName: filepath.Base(it.path), SourcePath: it.path,
		OrigSHA256: it.hash, OrigSize: int64(len(it.data)), SpoolPath: InJournal, State: StateClaimed,
		CreatedAt: now, UpdatedAt: now}
}

// readClaims reads and hashes every file, recording per-file failures.
func (j *Journal) readClaims(paths []string, errs []error) []claimItem {
	var items []claimItem
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err == nil {
			var data []byte
			if data, err = readCapped(abs); err == nil {
				items = append(items, claimItem{idx: i, path: abs, data: data, hash: hexSHA256(data)})
				continue
			}
		}
		errs[i] = fmt.Errorf("claim %s: %w", p, err)
	}
	return items
}

// insertClaims writes every record, claimed, with its bytes in one transaction, and drops the
// files that already have a record awaiting the removal of their outbox copy (with
// ErrAlreadyClaimed). When the transaction fails nothing is claimed: every file stays in the outbox
// and gets the error.
func (j *Journal) insertClaims(ctx context.Context, nip string, items []claimItem, now time.Time, errs []error) []claimItem {
	if len(items) == 0 {
		return nil
	}
	at, err := encodeTime(now)
	var kept, pendings []claimItem
	if err == nil {
		err = j.inTx(ctx, func(tx *sql.Tx) error {
			kept, pendings = kept[:0], pendings[:0]
			ins, err := newClaimInserter(ctx, tx)
			if err != nil {
				return err
			}
			defer ins.close()
			for _, it := range items {
				id, pending, err := ins.insert(ctx, nip, it, at)
				if err != nil {
					return err
				}
				if pending.id != 0 {
					errs[it.idx] = fmt.Errorf("claim %s: invoice %d: %w", it.path, pending.id, ErrAlreadyClaimed)
					if pending.state != StateClaiming {
						it.id = pending.id
						pendings = append(pendings, it)
					}
					continue
				}
				it.id = id
				kept = append(kept, it)
			}
			return nil
		})
	}
	if err != nil {
		for _, it := range items {
			errs[it.idx] = fmt.Errorf("claim %s: %w", it.path, err)
		}
		return nil
	}
	j.removeSources(ctx, pendings)
	return kept
}

// removeSources removes the outbox files that still hold the claimed bytes, syncs each outbox
// folder once, and clears source_pending for all of them in one statement.
func (j *Journal) removeSources(ctx context.Context, items []claimItem) {
	dirs := map[string]bool{}
	var done []string
	for _, it := range items {
		removed, err := removeIfSame(it.path, it.hash, int64(len(it.data)))
		if err != nil {
			j.log.Warn("outbox file not removed; will retry", "invoice", it.id, "file", it.path, "err", err)
			continue
		}
		if removed {
			dirs[filepath.Dir(it.path)] = true
		}
		done = append(done, strconv.FormatInt(it.id, 10))
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			j.log.Debug("sync outbox folder", "dir", d, "err", err)
		}
	}
	if len(done) == 0 {
		return
	}
	// The ids are our own integers, so building the IN list is safe.
	q := `UPDATE invoices SET source_pending = 0 WHERE id IN (` + strings.Join(done, ",") + `)`
	if _, err := j.db.ExecContext(ctx, q); err != nil {
		j.log.Warn("clear source pending", "err", err)
	}
}
