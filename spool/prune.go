package spool

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// pruneLot bounds one prune transaction so a first prune of a big journal does not hold the
// writer for long.
const pruneLot = 1000

// PruneSpool deletes the spool copies (original and registered bytes) of invoices that were
// finished before `before`, and forgets their paths. The journal record itself — state, hashes,
// KSeF number, reasons — stays as history. It returns how many invoices were pruned.
func (j *Journal) PruneSpool(ctx context.Context, before time.Time) (int, error) {
	if j.readOnly {
		return 0, ErrReadOnly
	}
	cutoff, err := encodeTime(before)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		n, err := j.pruneLot(ctx, cutoff)
		total += n
		if err != nil || n < pruneLot {
			return total, err
		}
	}
}

func (j *Journal) pruneLot(ctx context.Context, cutoff string) (int, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT id, spool_path, registered_path FROM invoices
		WHERE state = ? AND updated_at < ? AND spool_path <> '' ORDER BY id LIMIT ?`, string(StateDone), cutoff, pruneLot)
	if err != nil {
		return 0, fmt.Errorf("prune spool: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id int64
		var orig, reg string
		if err := rows.Scan(&id, &orig, &reg); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune spool: %w", err)
		}
		for _, p := range []string{orig, reg} {
			if p != "" && p != InJournal {
				if err := os.Remove(j.loadPath(p)); err != nil && !isNotExist(err) {
					j.log.Warn("remove spool copy", "invoice", id, "err", err)
				}
			}
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	// The ids are our own integers, so building the IN list is safe.
	in := `(` + strings.Join(ids, ",") + `)`
	err = j.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM spool_copies WHERE id IN `+in); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE invoices SET spool_path = '', registered_path = '' WHERE id IN `+in)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune spool: %w", err)
	}
	return len(ids), nil
}
