package spool

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order, each in its own transaction together with the new
// PRAGMA user_version. They are forward-only: never edit a released entry, append a new one.
var migrations = []string{
	// v1: invoices, sessions, inbox cursors and deliveries, meta.
	`
CREATE TABLE invoices (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	nip              TEXT    NOT NULL,
	file_name        TEXT    NOT NULL,
	source_path      TEXT    NOT NULL,
	source_pending   INTEGER NOT NULL DEFAULT 0, -- 1 until the outbox file is known to be removed or replaced
	orig_sha256      TEXT    NOT NULL,
	orig_size        INTEGER NOT NULL,
	spool_path       TEXT    NOT NULL DEFAULT '',
	registered_path  TEXT    NOT NULL DEFAULT '',
	registered_hash  TEXT    NOT NULL DEFAULT '',
	registered_size  INTEGER NOT NULL DEFAULT 0,
	conversion       TEXT    NOT NULL DEFAULT '',
	invoice_number   TEXT    NOT NULL DEFAULT '',
	issue_date       TEXT    NOT NULL DEFAULT '',
	has_attachment   INTEGER NOT NULL DEFAULT 0,
	state            TEXT    NOT NULL,
	mode             TEXT    NOT NULL DEFAULT '',
	session_ref      TEXT    NOT NULL DEFAULT '',
	invoice_ref      TEXT    NOT NULL DEFAULT '',
	batch_file_name  TEXT    NOT NULL DEFAULT '',
	ksef_number      TEXT    NOT NULL DEFAULT '',
	acquisition_date TEXT    NOT NULL DEFAULT '',
	upo_url          TEXT    NOT NULL DEFAULT '',
	upo_path         TEXT    NOT NULL DEFAULT '',
	err_code         INTEGER NOT NULL DEFAULT 0,
	err_description  TEXT    NOT NULL DEFAULT '',
	err_details      TEXT    NOT NULL DEFAULT '',
	err_stage        TEXT    NOT NULL DEFAULT '',
	err_kind         TEXT    NOT NULL DEFAULT '',
	err_hint         TEXT    NOT NULL DEFAULT '',
	outcome          TEXT    NOT NULL DEFAULT '',
	output_stem      TEXT    NOT NULL DEFAULT '',
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  TEXT    NOT NULL DEFAULT '',
	created_at       TEXT    NOT NULL,
	updated_at       TEXT    NOT NULL
);
CREATE INDEX invoices_nip_state ON invoices(nip, state, id);
CREATE INDEX invoices_state ON invoices(state, id);
CREATE INDEX invoices_nip_hash ON invoices(nip, registered_hash) WHERE registered_hash <> '';
CREATE INDEX invoices_session ON invoices(session_ref) WHERE session_ref <> '';
CREATE INDEX invoices_source_pending ON invoices(source_pending, nip, source_path) WHERE source_pending = 1;
CREATE INDEX invoices_rejected ON invoices(nip, updated_at) WHERE outcome = 'rejected' OR state = 'rejected';

CREATE TABLE sessions (
	ref         TEXT PRIMARY KEY,
	nip         TEXT NOT NULL,
	kind        TEXT NOT NULL,
	state       TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	valid_until TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_nip_state ON sessions(nip, state);

CREATE TABLE cursors (
	nip        TEXT NOT NULL,
	subject    TEXT NOT NULL,
	cursor     TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (nip, subject)
);

CREATE TABLE delivered (
	nip                    TEXT NOT NULL,
	ksef_number_key        TEXT NOT NULL, -- upper-cased KSeF number: the dedupe key
	ksef_number            TEXT NOT NULL,
	subject                TEXT NOT NULL,
	path                   TEXT NOT NULL,
	permanent_storage_date TEXT NOT NULL,
	delivered_at           TEXT NOT NULL,
	PRIMARY KEY (nip, ksef_number_key)
);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`,
	// v2: offline issuance and technical corrections (issue 14).
	`
ALTER TABLE invoices ADD COLUMN offline_mode   TEXT NOT NULL DEFAULT ''; -- offline24|unavailable|failure|total-failure; '' online
ALTER TABLE invoices ADD COLUMN outage_start   TEXT NOT NULL DEFAULT ''; -- the outage the offline mode counts from
ALTER TABLE invoices ADD COLUMN outage_end     TEXT NOT NULL DEFAULT ''; -- '' while it lasts
ALTER TABLE invoices ADD COLUMN invoicing_mode TEXT NOT NULL DEFAULT ''; -- KSeF's verdict: Online|Offline
ALTER TABLE invoices ADD COLUMN corrected_hash TEXT NOT NULL DEFAULT ''; -- technical correction: hash of the rejected invoice
ALTER TABLE invoices ADD COLUMN corrected_file TEXT NOT NULL DEFAULT '';
CREATE INDEX invoices_offline ON invoices(nip, offline_mode) WHERE offline_mode <> '';
`,
	// v3: the spool copies live in the journal (issue 15): the exact original bytes of each invoice
	// claimed from now on, written in the claim's own transaction (spool_path 'journal:spool_copies').
	// Copies claimed before stay files in spool/.
	`
CREATE TABLE spool_copies (
	id   INTEGER PRIMARY KEY, -- the invoice's id
	data BLOB    NOT NULL
);
`,
}

// schemaVersion is the PRAGMA user_version this build writes and expects.
func schemaVersion() int { return len(migrations) }

func userVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate brings the schema up to schemaVersion. A journal written by a newer ksef-sync is refused
// rather than risk corrupting columns this build does not know.
func migrate(ctx context.Context, db *sql.DB) error {
	for {
		done, err := migrateStep(ctx, db)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Read the version inside the write transaction so two processes can never apply the same step.
	v, err := userVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	switch {
	case v > schemaVersion():
		return false, fmt.Errorf("journal schema version %d is newer than this ksef-sync (%d); upgrade ksef-sync", v, schemaVersion())
	case v == schemaVersion():
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migrate to schema version %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v+1 is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate to schema version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to schema version %d: %w", v+1, err)
	}
	return false, nil
}

// migrationGrace is how long a reader waits for an older journal to reach this version: a daemon
// of this version that has just started (or just created the journal) migrates it step by step,
// and a `status` run at that moment would otherwise see an intermediate version.
const migrationGrace = 5 * time.Second

// awaitSchemaVersion is checkSchemaVersion for readers: an older version is polled for up to
// migrationGrace before it counts as an error; a newer one fails at once.
func awaitSchemaVersion(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(migrationGrace)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := userVersion(ctx, db)
		if err != nil || v >= schemaVersion() || time.Now().After(deadline) {
			return checkSchemaVersion(ctx, db)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func checkSchemaVersion(ctx context.Context, db *sql.DB) error {
	v, err := userVersion(ctx, db)
	if err != nil {
		return err
	}
	if v != schemaVersion() {
		return fmt.Errorf("journal schema version %d, this ksef-sync reads version %d (start the daemon of the same version to migrate)", v, schemaVersion())
	}
	return nil
}
