package spool

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
)

// MaxClaimSize is the hard cap for one outbox file. KSeF's own limits are far lower (the engine
// rejects oversized invoices with a clear error), but those must still be claimed to be reported.
const MaxClaimSize = 64 << 20

// Failure-injection points for crash tests. Hooks run between the steps of ClaimMany; a test makes one
// panic to simulate the process dying there.
var (
	writeFileAtomic = atomicfile.WriteFile
	insertSpoolCopy = func(ctx context.Context, st *sql.Stmt, id int64, data []byte) error {
		_, err := st.ExecContext(ctx, id, data)
		return err
	}
	syncDir          = atomicfile.SyncDir
	removeFile       = os.Remove
	afterReadHook    func()
	afterClaimedHook func()
)

// The claim protocol (ClaimMany) takes outbox files into the journal:
//
//  1. read each file fully and hash it;
//  2. in ONE transaction, insert the records in StateClaimed together with their exact bytes (the
//     spool copies, table spool_copies); the commit makes both durable at once;
//  3. remove each outbox file, but only if it still has the same size and hash.
//
// A crash at any point leaves an invoice in the outbox or in the journal, never in neither;
// RecoverClaims at start-up settles the cases where it is in both. Files above MaxClaimSize are left
// in the outbox with ErrTooLarge. A missing file gives ErrVanished. The same file (path and hash)
// whose earlier outbox removal failed gives ErrAlreadyClaimed after the removal is retried.
//
// A failed removal in step 3 is not an error: the invoice is safely claimed, the failure is logged
// and the removal is retried by RecoverClaims or by a later claim of the same file.
//
// Journals written before schema version 3 kept the copies as files (spool/<id>.orig), written
// between a StateClaiming insert and a separate claimed mark; such records are still read, and
// RecoverClaims still settles their interrupted claims.

func runHook(h func()) {
	if h != nil {
		h()
	}
}

// readCapped reads the whole file, refusing files above MaxClaimSize without reading them whole.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if isNotExist(err) {
		return nil, ErrVanished
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readAllSized(f, io.LimitReader(f, MaxClaimSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxClaimSize {
		return nil, fmt.Errorf("%w (%d MB)", ErrTooLarge, MaxClaimSize>>20)
	}
	return data, nil
}

// readAllSized reads r to its end into a buffer sized from f's size, as os.ReadFile does: io.ReadAll
// starts at 512 bytes and doubles, which allocated about three times each invoice's size (260 MB
// for a 10,000-invoice burst, whose files are read when claimed and again before removal). A file
// that grew since the stat is still read whole.
func readAllSized(f *os.File, r io.Reader) ([]byte, error) {
	n := 512
	if fi, err := f.Stat(); err == nil && fi.Size() < MaxClaimSize {
		n += int(fi.Size())
	}
	data := make([]byte, 0, n)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		m, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// InJournal is the SpoolPath (and RegisteredPath) of an invoice whose bytes are kept in the
// journal itself (table spool_copies) rather than in a file; read them with Original and
// Registered.
const InJournal = "journal:spool_copies"

// pendingClaim is an earlier record of the same file whose outbox removal is still pending.
type pendingClaim struct {
	id    int64
	state State
}

// claimInserter inserts claimed records with their bytes inside one claim transaction, through
// statements prepared once for the lot.
type claimInserter struct {
	pending, invoice, spoolCopy *sql.Stmt
}

func newClaimInserter(ctx context.Context, tx *sql.Tx) (*claimInserter, error) {
	ins := &claimInserter{}
	var err error
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{{&ins.pending, queryPendingForPath}, {&ins.invoice, insertClaimed}, {&ins.spoolCopy, insertSpoolCopySQL}} {
		if *p.st, err = tx.PrepareContext(ctx, p.sql); err != nil {
			ins.close()
			return nil, err
		}
	}
	return ins, nil
}

func (ins *claimInserter) close() {
	for _, st := range []*sql.Stmt{ins.pending, ins.invoice, ins.spoolCopy} {
		if st != nil {
			_ = st.Close()
		}
	}
}

const (
	insertClaimed = `INSERT INTO invoices
		(nip, file_name, source_path, source_pending, orig_sha256, orig_size, spool_path, state, created_at, updated_at)
		VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`
	insertSpoolCopySQL = `INSERT INTO spool_copies (id, data) VALUES (?, ?)`
)

// insert writes one claimed record and its bytes. When the same file (path and hash) already has a
// record whose outbox removal is pending, it inserts nothing and returns that record instead.
// Checking inside the write transaction makes two concurrent claims of one file safe.
func (ins *claimInserter) insert(ctx context.Context, nip string, it claimItem, now string) (id int64, pending pendingClaim, err error) {
	var state string
	err = ins.pending.QueryRowContext(ctx, nip, it.path, it.hash).Scan(&pending.id, &state)
	if err == nil {
		pending.state = State(state)
		return 0, pending, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, pending, err
	}
	res, err := ins.invoice.ExecContext(ctx, nip, filepath.Base(it.path), it.path, it.hash, int64(len(it.data)),
		InJournal, string(StateClaimed), now, now)
	if err != nil {
		return 0, pending, err
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, pending, err
	}
	return id, pending, insertSpoolCopy(ctx, ins.spoolCopy, id, it.data)
}

// deleteClaiming deletes invoice id if it is still claiming and reports whether it did.
func (j *Journal) deleteClaiming(ctx context.Context, id int64) (bool, error) {
	var n int64
	err := j.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM invoices WHERE id = ? AND state = ?`, id, string(StateClaiming))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// removeSourceIfUnchanged removes the outbox file only if it still holds the claimed bytes, then
// clears source_pending. A file that changed or vanished is no longer ours to remove. Failures are
// logged and left pending for a retry.
func (j *Journal) removeSourceIfUnchanged(ctx context.Context, id int64, path, hash string, size int64) {
	removed, err := removeIfSame(path, hash, size)
	if err != nil {
		j.log.Warn("outbox file not removed; will retry", "invoice", id, "file", path, "err", err)
		return
	}
	if removed {
		// Make the removal survive a power cut; a failure only means RecoverClaims may see the file
		// again, which it handles.
		if err := syncDir(filepath.Dir(path)); err != nil {
			j.log.Debug("sync outbox folder", "file", path, "err", err)
		}
	}
	if _, err := j.db.ExecContext(ctx, `UPDATE invoices SET source_pending = 0 WHERE id = ?`, id); err != nil {
		j.log.Warn("clear source pending", "invoice", id, "err", err)
	}
}

// removeIfSame removes path if it has exactly the given size and hex SHA-256. It reports whether it
// removed the file; a missing or changed file is (false, nil).
func removeIfSame(path, hash string, size int64) (bool, error) {
	fi, err := os.Stat(path)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.Size() != size {
		return false, nil
	}
	data, err := readCapped(path)
	if errors.Is(err, ErrVanished) || errors.Is(err, ErrTooLarge) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if int64(len(data)) != size || hexSHA256(data) != hash {
		return false, nil
	}
	if err := removeFile(path); err != nil {
		if isNotExist(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// RecoverClaims settles claims interrupted by a crash. Call it once at start-up, before the outbox
// is listed and before anything else writes to the spool folder:
//   - claiming records whose spool copy is complete become claimed (their outbox file is removed if
//     unchanged); the others are deleted, since their outbox file was never removed;
//   - records whose outbox removal is pending get it retried;
//   - leftover temporary files in the spool folder are removed.
func (j *Journal) RecoverClaims(ctx context.Context) error {
	if j.readOnly {
		return ErrReadOnly
	}
	claiming, err := j.ByState(ctx, "", StateClaiming)
	if err != nil {
		return fmt.Errorf("recover claims: %w", err)
	}
	for _, inv := range claiming {
		if err := j.recoverClaiming(ctx, inv); err != nil {
			return fmt.Errorf("recover claims: invoice %d: %w", inv.ID, err)
		}
	}
	pending, err := j.queryInvoices(ctx, queryPendingSources, string(StateClaiming))
	if err != nil {
		return fmt.Errorf("recover claims: %w", err)
	}
	for _, inv := range pending {
		if err := ctx.Err(); err != nil {
			return err
		}
		j.removeSourceIfUnchanged(ctx, inv.ID, inv.SourcePath, inv.OrigSHA256, inv.OrigSize)
	}
	j.removeSpoolTemps()
	return nil
}

func (j *Journal) recoverClaiming(ctx context.Context, inv Invoice) error {
	if spoolCopyComplete(inv) {
		if err := j.apply(ctx, opClaimed, []int64{inv.ID}, nil); err != nil {
			return err
		}
		j.removeSourceIfUnchanged(ctx, inv.ID, inv.SourcePath, inv.OrigSHA256, inv.OrigSize)
		return nil
	}
	deleted, err := j.deleteClaiming(ctx, inv.ID)
	if err != nil || !deleted {
		return err
	}
	if err := os.Remove(inv.SpoolPath); err != nil && !isNotExist(err) {
		j.log.Warn("remove incomplete spool copy", "invoice", inv.ID, "err", err)
	}
	j.log.Info("incomplete claim dropped; file stays in the outbox", "invoice", inv.ID, "file", inv.SourcePath)
	return nil
}

func spoolCopyComplete(inv Invoice) bool {
	data, err := os.ReadFile(inv.SpoolPath)
	return err == nil && int64(len(data)) == inv.OrigSize && hexSHA256(data) == inv.OrigSHA256
}

// removeSpoolTemps deletes temporary files a crashed atomic write left in the spool folder.
func (j *Journal) removeSpoolTemps() {
	if _, err := atomicfile.RemoveTemps(j.spoolDir); err != nil {
		j.log.Warn("remove temporary spool files", "err", err)
	}
}

// WriteSpoolFile atomically writes data to the spool folder (dir/spool/name) and returns the full path. name must be
// a plain file name; names ending in .orig are reserved for the spool copies.
func (j *Journal) WriteSpoolFile(name string, data []byte) (string, error) {
	if j.readOnly {
		return "", ErrReadOnly
	}
	if name == "" || filepath.Base(name) != name || !filepath.IsLocal(name) || filepath.Ext(name) == ".orig" ||
		atomicfile.TempName(name) {
		return "", fmt.Errorf("write spool file: invalid name %q", name)
	}
	path := filepath.Join(j.spoolDir, name)
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write spool file: %w", err)
	}
	return path, nil
}

// Original returns the exact bytes inv was claimed with (its spool copy), wherever they are kept.
func (j *Journal) Original(ctx context.Context, inv *Invoice) ([]byte, error) {
	data, err := j.readCopy(ctx, inv.ID, inv.SpoolPath)
	if err != nil {
		return nil, fmt.Errorf("spool copy of %s: %w", inv.FileName, err)
	}
	return data, nil
}

// Registered returns the bytes sent to KSeF for inv: its spool copy, or the converted copy beside it.
func (j *Journal) Registered(ctx context.Context, inv *Invoice) ([]byte, error) {
	data, err := j.readCopy(ctx, inv.ID, inv.RegisteredPath)
	if err != nil {
		return nil, fmt.Errorf("registered copy of %s: %w", inv.FileName, err)
	}
	return data, nil
}

// ErrPruned is returned by Original and Registered for an invoice whose copies were pruned.
var ErrPruned = errors.New("the copy was pruned (spool_retention)")

// copiesLot is how many copies CopiesInJournal reads with one query.
const copiesLot = 256

// CopiesInJournal returns the bytes the journal keeps for the given invoices (those whose
// SpoolPath, or RegisteredPath without a conversion, is InJournal: the same bytes), read with one
// query per copiesLot ids instead of one per invoice. An id without a copy in the journal is
// missing from the map; callers fall back to Original or Registered for it, which say why. All
// the copies asked for are in memory at once: callers ask for a lot at a time.
func (j *Journal) CopiesInJournal(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	for lot := range slices.Chunk(ids, copiesLot) {
		if err := j.readCopies(ctx, lot, out); err != nil {
			return nil, fmt.Errorf("read spool copies: %w", err)
		}
	}
	return out, nil
}

// readCopies adds the copies of ids to out. The query is not kept prepared (queryRow, query): its
// text differs with every lot.
func (j *Journal) readCopies(ctx context.Context, ids []int64, out map[int64][]byte) error {
	// The ids are our own integers, so building the IN list is safe.
	rows, err := j.db.QueryContext(ctx, `SELECT id, data FROM spool_copies WHERE id IN (`+joinIDs(ids)+`)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return err
		}
		out[id] = data
	}
	return rows.Err()
}

func (j *Journal) readCopy(ctx context.Context, id int64, path string) ([]byte, error) {
	switch path {
	case "":
		return nil, ErrPruned
	case InJournal:
		var data []byte
		err := j.queryRow(ctx, `SELECT data FROM spool_copies WHERE id = ?`, id).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("invoice %d: %w", id, ErrNotFound)
		}
		return data, err
	}
	return os.ReadFile(path)
}
