// Package spool is the durable journal of ksef-sync: one SQLite database (journal.db) holding every
// invoice's record and the exact original bytes it was claimed with (its spool copy, kept in the
// database since schema version 3), plus a spool folder for converted copies and the copies of
// invoices claimed by earlier versions.
//
// The journal records each invoice's state and every identifier BEFORE the side effect that depends
// on it, so that after a crash the engine can tell what already happened and never loses an invoice
// nor registers one twice. Every record carries the context NIP, so one state folder can serve many
// companies.
//
// Only one process may write a state folder: [Open] takes an exclusive lock (ksef-sync.lock) that the
// operating system releases when the process dies. [OpenReadOnly] takes no lock and is safe while a
// daemon writes (SQLite WAL mode), which is what `ksef-sync status` uses.
package spool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

var (
	// ErrLocked is returned by Open when another Journal (in this or another process) holds the folder.
	ErrLocked = errors.New("state folder is in use by another ksef-sync process")
	// ErrVanished is returned by ClaimMany when the outbox file disappeared before it could be read.
	ErrVanished = errors.New("file vanished before it could be claimed")
	// ErrConflict is returned by a journal operation that the state machine does not allow in the record's current state.
	ErrConflict = errors.New("journal record is not in the expected state")
	// ErrNotFound is returned when an invoice ID does not exist.
	ErrNotFound = errors.New("journal record not found")
	// ErrTooLarge is returned by ClaimMany for files above MaxClaimSize; the file stays in the outbox.
	ErrTooLarge = errors.New("file is larger than the claim limit")
	// ErrAlreadyClaimed is returned by ClaimMany when the very same file (path and SHA-256) is already in
	// the journal and only its removal from the outbox failed earlier; the removal was retried.
	ErrAlreadyClaimed = errors.New("file is already claimed")
	// ErrReadOnly is returned by every writing method of a Journal from OpenReadOnly.
	ErrReadOnly = errors.New("journal is open read-only")
)

const (
	lockFileName    = "ksef-sync.lock"
	journalFileName = "journal.db"
	spoolDirName    = "spool"
	busyTimeoutMS   = 10_000
)

// Journal is the durable store. It is safe for use by several goroutines.
type Journal struct {
	dir      string
	spoolDir string
	db       *sql.DB
	readOnly bool
	lock     *dirLock
	log      *slog.Logger
	now      func() time.Time

	closeOnce sync.Once
	closeErr  error
	stmts     sync.Map // query text → *sql.Stmt, prepared once (see stmt)
}

// Open takes the exclusive lock on dir, creates dir/spool/ and opens (creating or migrating)
// dir/journal.db. A second Open of the same dir, even in the same process, returns ErrLocked.
func Open(ctx context.Context, dir string, logger *slog.Logger) (*Journal, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open journal: create state folder: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFileName))
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", dir, err)
	}
	j, err := openLocked(ctx, dir, lock, logger)
	if err != nil {
		_ = lock.unlock()
		return nil, err
	}
	return j, nil
}

func openLocked(ctx context.Context, dir string, lock *dirLock, logger *slog.Logger) (*Journal, error) {
	spoolDir := filepath.Join(dir, spoolDirName)
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("open journal: create spool folder: %w", err)
	}
	db, err := sql.Open("sqlite", writerDSN(filepath.Join(dir, journalFileName)))
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	// One connection serialises every writer in this process; SQLite allows only one writer anyway
	// and this way goroutines queue in database/sql instead of spinning on SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	// The logger is used as given: the caller names the component (wiring passes
	// log.With("component", "spool")).
	j := &Journal{dir: dir, spoolDir: spoolDir, db: db, lock: lock, log: logger, now: time.Now}
	if err := j.checkPragmas(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	// The spool folder must survive a power cut as a directory entry before files are put in it.
	if err := syncDir(dir); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return j, nil
}

// checkPragmas verifies that the durability settings really took effect: a journal that silently
// fell back to a weaker mode would break the "durable on return" promise.
func (j *Journal) checkPragmas(ctx context.Context) error {
	var mode string
	if err := j.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	var sync int
	if err := j.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	if mode != "wal" || sync != 2 {
		return fmt.Errorf("open journal: sqlite settings not applied (journal_mode=%s synchronous=%d)", mode, sync)
	}
	return nil
}

// OpenReadOnly opens dir/journal.db for reading without taking the lock. It is safe while a daemon
// writes the same folder. Writing methods return ErrReadOnly.
func OpenReadOnly(ctx context.Context, dir string) (*Journal, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open journal read-only: %w", err)
	}
	path := filepath.Join(dir, journalFileName)
	if _, err := os.Stat(path); err != nil {
		// Without this check SQLite would report a vague "unable to open database file".
		return nil, fmt.Errorf("open journal read-only: %w", err)
	}
	db, err := sql.Open("sqlite", readerDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open journal read-only: %w", err)
	}
	j := &Journal{dir: dir, spoolDir: filepath.Join(dir, spoolDirName), db: db, readOnly: true,
		log: slog.New(slog.DiscardHandler), now: time.Now}
	if err := awaitSchemaVersion(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open journal read-only: %w", err)
	}
	return j, nil
}

func writerDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Write transactions take the write lock at BEGIN, so a reader upgrading mid-transaction can
	// never deadlock with us and busy_timeout applies up front.
	q.Set("_txlock", "immediate")
	return fileURI(path, q)
}

func readerDSN(path string) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "query_only(1)")
	return fileURI(path, q)
}

// fileURI builds a SQLite URI filename; paths with spaces, '#', '?' or Windows drive letters must be
// escaped or SQLite would read them as URI syntax.
func fileURI(path string, q url.Values) string {
	p := filepath.ToSlash(path)
	if filepath.VolumeName(path) != "" && p[0] != '/' {
		p = "/" + p // file:///C:/dir/journal.db
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Close closes the database and releases the folder lock. It is safe to call more than once.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.closeStmts()
		err := j.db.Close()
		if j.lock != nil {
			err = errors.Join(err, j.lock.unlock())
		}
		if err != nil {
			j.closeErr = fmt.Errorf("close journal: %w", err)
		}
	})
	return j.closeErr
}

// Dir is the state folder.
func (j *Journal) Dir() string { return j.dir }

// SetMeta stores a small key/value pair (for example the time of the last successful send).
func (j *Journal) SetMeta(ctx context.Context, key, value string) error {
	if j.readOnly {
		return ErrReadOnly
	}
	_, err := j.db.ExecContext(ctx,
		`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
		key, value)
	if err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}

// Meta returns the value stored by SetMeta and whether it exists.
func (j *Journal) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := j.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("meta %q: %w", key, err)
	}
	return v, true, nil
}

// inTx runs fn in one write transaction and commits it; with synchronous=FULL the commit is durable
// when inTx returns nil.
func (j *Journal) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if j.readOnly {
		return ErrReadOnly
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isNotExist reports a missing file, also through wrapped *PathError values.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
