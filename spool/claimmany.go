package spool

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
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
// the whole lot instead of several per file: one transaction inserts
// every record (claiming), one flush makes every spool copy durable, one transaction marks them
// claimed, and only then are the outbox files removed. A burst of thousands of files is claimed in
// seconds instead of minutes.
//
// The result has one entry per path: the claimed invoice, or the error for that file (ErrVanished,
// ErrTooLarge, ErrAlreadyClaimed, ...), in the order of paths.
func (j *Journal) ClaimMany(ctx context.Context, nip string, paths []string) ([]*Invoice, []error) {
	invs, errs := make([]*Invoice, len(paths)), make([]error, len(paths))
	if j.readOnly {
		for i := range errs {
			errs[i] = ErrReadOnly
		}
		return invs, errs
	}
	items := j.readClaims(paths, errs)
	items = j.insertClaims(ctx, nip, items, errs)
	runHook(afterInsertHook)
	if err := j.writeSpoolCopies(items); err != nil {
		j.failClaims(items, errs, fmt.Errorf("write spool copies: %w", err))
		return invs, errs
	}
	runHook(afterSpoolHook)
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	if err := j.apply(ctx, opClaimed, ids, nil); err != nil {
		j.failClaims(items, errs, err)
		return invs, errs
	}
	runHook(afterClaimedHook)
	ctx = context.WithoutCancel(ctx) // the invoices are ours now
	j.removeSources(ctx, items)
	for _, it := range items {
		if invs[it.idx], errs[it.idx] = j.Get(ctx, it.id); errs[it.idx] != nil {
			invs[it.idx] = nil
		}
	}
	return invs, errs
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

// insertClaims writes every claiming record in one transaction and drops the files that already
// have a record awaiting the removal of their outbox copy (with ErrAlreadyClaimed).
func (j *Journal) insertClaims(ctx context.Context, nip string, items []claimItem, errs []error) []claimItem {
	if len(items) == 0 {
		return nil
	}
	now, err := encodeTime(j.now())
	var kept []claimItem
	var pendings []claimItem
	if err == nil {
		err = j.inTx(ctx, func(tx *sql.Tx) error {
			kept, pendings = kept[:0], pendings[:0]
			for _, it := range items {
				id, pending, err := j.insertClaimingTx(ctx, tx, nip, it.path, it.hash, int64(len(it.data)), now)
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
			errs[it.idx] = fmt.Errorf("claim %s: insert claim: %w", it.path, err)
		}
		return nil
	}
	j.removeSources(ctx, pendings)
	return kept
}

func (j *Journal) writeSpoolCopies(items []claimItem) error {
	var b atomicfile.Batch
	for _, it := range items {
		if err := stageSpoolCopy(&b, j.spoolPath(it.id), it.data, 0o600); err != nil {
			b.Abort()
			return err
		}
	}
	return b.Commit()
}

// failClaims undoes claims whose spool copies or claimed mark could not be made durable: the
// outbox files are still there and will be claimed again.
func (j *Journal) failClaims(items []claimItem, errs []error, err error) {
	for _, it := range items {
		errs[it.idx] = fmt.Errorf("claim %s: %w", it.path, err)
		j.abandonClaim(it.id)
	}
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
