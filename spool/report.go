package spool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file holds the read-only queries behind `status`, the status page, the metrics and the
// notifier, plus the daemon's heartbeat. Everything here is derived from the journal, which every
// process shares, so a `status` run in another process sees what the daemon sees.

// reportSchema is created on demand rather than by a migration: it holds only the daemon's
// self-report, which may be lost without harm, and an older ksef-sync ignores the extra tables.
const reportSchema = `
CREATE TABLE IF NOT EXISTS report_daemon (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	pid        INTEGER NOT NULL,
	host       TEXT    NOT NULL,
	version    TEXT    NOT NULL,
	started_at TEXT    NOT NULL,
	beat_at    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS report_company (
	nip             TEXT PRIMARY KEY,
	last_error      TEXT NOT NULL,
	last_error_at   TEXT NOT NULL,
	ksef_available  INTEGER NOT NULL, -- 1 reachable, 0 not, -1 not known yet
	ksef_checked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS report_availability (
	nip      TEXT PRIMARY KEY,
	snapshot TEXT NOT NULL -- JSON: KSeF's availability as the daemon sees it (status service + own observations)
);`

// Beat is the daemon's self-report, refreshed every few seconds while it runs.
type Beat struct {
	PID       int // 0: the daemon stopped cleanly at BeatAt
	Host      string
	Version   string
	StartedAt time.Time
	BeatAt    time.Time
	Companies []CompanyHealth
}

// CompanyHealth is what the daemon last knew about one company: its last error and whether KSeF
// answered.
type CompanyHealth struct {
	NIP           string
	LastError     string
	LastErrorAt   time.Time
	KSeFAvailable int // 1 reachable, 0 not, -1 unknown
	KSeFCheckedAt time.Time
	// Availability is KSeF's availability (announcements and own observations) as JSON, opaque to
	// the journal; "" when the daemon does not track it.
	Availability string
}

// WriteBeat records the daemon's heartbeat in one small write transaction. Its error is the
// health check's answer to "is the journal writable?".
func (j *Journal) WriteBeat(ctx context.Context, b Beat) error {
	return j.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, reportSchema); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		var enc timeEncoder
		started, beat := enc.time(b.StartedAt), enc.time(b.BeatAt)
		if enc.err != nil {
			return enc.err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_daemon(id, pid, host, version, started_at, beat_at)
			VALUES(1, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
			version = excluded.version, started_at = excluded.started_at, beat_at = excluded.beat_at`,
			b.PID, b.Host, b.Version, started, beat); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		for _, c := range b.Companies {
			if err := putCompanyHealth(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func putCompanyHealth(ctx context.Context, tx *sql.Tx, c CompanyHealth) error {
	var enc timeEncoder
	errAt, checked := enc.time(c.LastErrorAt), enc.time(c.KSeFCheckedAt)
	if enc.err != nil {
		return enc.err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO report_company(nip, last_error, last_error_at, ksef_available, ksef_checked_at)
		VALUES(?, ?, ?, ?, ?) ON CONFLICT(nip) DO UPDATE SET last_error = excluded.last_error,
		last_error_at = excluded.last_error_at, ksef_available = excluded.ksef_available,
		ksef_checked_at = excluded.ksef_checked_at`, c.NIP, c.LastError, errAt, c.KSeFAvailable, checked)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if c.Availability == "" {
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO report_availability(nip, snapshot) VALUES(?, ?)
		ON CONFLICT(nip) DO UPDATE SET snapshot = excluded.snapshot`, c.NIP, c.Availability)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// LastBeat returns the daemon's last heartbeat; false when no daemon ever wrote one.
func (j *Journal) LastBeat(ctx context.Context) (Beat, bool, error) {
	var b Beat
	var started, beat string
	err := j.db.QueryRowContext(ctx, `SELECT pid, host, version, started_at, beat_at FROM report_daemon WHERE id = 1`).
		Scan(&b.PID, &b.Host, &b.Version, &started, &beat)
	if errors.Is(err, sql.ErrNoRows) || isNoTable(err) {
		return Beat{}, false, nil
	}
	if err != nil {
		return Beat{}, false, fmt.Errorf("read heartbeat: %w", err)
	}
	if b.StartedAt, err = decodeTime(started); err != nil {
		return Beat{}, false, err
	}
	if b.BeatAt, err = decodeTime(beat); err != nil {
		return Beat{}, false, err
	}
	b.Companies, err = j.companyHealth(ctx)
	return b, true, err
}

func (j *Journal) companyHealth(ctx context.Context) ([]CompanyHealth, error) {
	var out []CompanyHealth
	err := j.eachRow(ctx, `SELECT c.nip, c.last_error, c.last_error_at, c.ksef_available, c.ksef_checked_at,
		coalesce(a.snapshot, '') FROM report_company c LEFT JOIN report_availability a ON a.nip = c.nip ORDER BY c.nip`, nil,
		func(rows *sql.Rows) error {
			var c CompanyHealth
			var errAt, checked string
			err := rows.Scan(&c.NIP, &c.LastError, &errAt, &c.KSeFAvailable, &checked, &c.Availability)
			if err != nil {
				return err
			}
			if c.LastErrorAt, err = decodeTime(errAt); err != nil {
				return err
			}
			if c.KSeFCheckedAt, err = decodeTime(checked); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	if isNoTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read company health: %w", err)
	}
	return out, nil
}

func isNoTable(err error) bool { return err != nil && strings.Contains(err.Error(), "no such table") }

// Outcomes counts the final verdicts of nip's invoices: accepted (state accepted, or done with
// outcome accepted) and rejected likewise. With a non-zero since only verdicts recorded at or after
// it count. Journal rows only move forward, so the totals never decrease: they are counters.
type Outcomes struct{ Accepted, Rejected int }

// CountOutcomes counts verdicts for nip (every NIP when empty) recorded since since (all when zero).
func (j *Journal) CountOutcomes(ctx context.Context, nip string, since time.Time) (Outcomes, error) {
	query := `SELECT
		coalesce(sum(state = 'accepted' OR (state = 'done' AND outcome = 'accepted')), 0),
		coalesce(sum(state = 'rejected' OR (state = 'done' AND outcome = 'rejected')), 0)
		FROM invoices WHERE state IN ('accepted', 'rejected', 'done')`
	var args []any
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	if !since.IsZero() {
		s, err := encodeTime(since)
		if err != nil {
			return Outcomes{}, err
		}
		query += ` AND updated_at >= ?`
		args = append(args, s)
	}
	var o Outcomes
	if err := j.db.QueryRowContext(ctx, query, args...).Scan(&o.Accepted, &o.Rejected); err != nil {
		return Outcomes{}, fmt.Errorf("count outcomes: %w", err)
	}
	return o, nil
}

// NIPs lists every NIP the journal holds invoices or cursors for, sorted.
func (j *Journal) NIPs(ctx context.Context) ([]string, error) {
	var out []string
	err := j.eachRow(ctx, `SELECT nip FROM invoices UNION SELECT nip FROM cursors ORDER BY 1`, nil, func(rows *sql.Rows) error {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list NIPs: %w", err)
	}
	return out, nil
}

// RejectionsSince returns nip's rejections (every NIP when empty) whose record changed after
// after, oldest first, at most limit. A rejection whose outputs get written later shows up again
// (its record changes): callers remember the IDs they already handled.
func (j *Journal) RejectionsSince(ctx context.Context, nip string, after time.Time, limit int) ([]Invoice, error) {
	a, err := encodeTime(after)
	if err != nil {
		return nil, err
	}
	query, args := selectInvoice+` WHERE (outcome = 'rejected' OR state = 'rejected') AND updated_at > ?`, []any{a}
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	return j.queryInvoices(ctx, query+` ORDER BY updated_at, id LIMIT ?`, append(args, limit)...)
}

// Stalled returns nip's invoices (every NIP when empty) that were handed to KSeF (sending or
// submitted) and have not moved since before, oldest first, at most limit.
func (j *Journal) Stalled(ctx context.Context, nip string, before time.Time, limit int) ([]Invoice, error) {
	b, err := encodeTime(before)
	if err != nil {
		return nil, err
	}
	query, args := selectInvoice+` WHERE state IN ('sending', 'submitted') AND updated_at < ?`, []any{b}
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	return j.queryInvoices(ctx, query+` ORDER BY updated_at, id LIMIT ?`, append(args, limit)...)
}

// Tally is one consistent snapshot of nip's invoices: the queue by state and the verdicts, so the
// numbers a person reads add up (Total = Accepted + Rejected + InProgress).
type Tally struct {
	ByState       map[State]int
	Accepted      int
	Rejected      int
	InProgress    int
	Total         int
	TodayAccepted int // verdicts recorded at or after the since given to CountTally
	TodayRejected int
}

// CountTally counts nip's invoices (every NIP when empty) in one query; since marks "today".
func (j *Journal) CountTally(ctx context.Context, nip string, since time.Time) (Tally, error) {
	s, err := encodeTime(since)
	if err != nil {
		return Tally{}, err
	}
	query, args := `SELECT state, outcome, updated_at >= ?, count(*) FROM invoices`, []any{s}
	if nip != "" {
		query += ` WHERE nip = ?`
		args = append(args, nip)
	}
	t := Tally{ByState: map[State]int{}}
	err = j.eachRow(ctx, query+` GROUP BY 1, 2, 3`, args, func(rows *sql.Rows) error {
		var state, outcome string
		var today bool
		var n int
		if err := rows.Scan(&state, &outcome, &today, &n); err != nil {
			return err
		}
		t.add(State(state), outcome, today, n)
		return nil
	})
	if err != nil {
		return Tally{}, fmt.Errorf("count invoices: %w", err)
	}
	return t, nil
}

func (t *Tally) add(state State, outcome string, today bool, n int) {
	t.ByState[state] += n
	t.Total += n
	verdict := outcome
	if state == StateAccepted || state == StateRejected {
		verdict = string(state)
	}
	switch {
	case verdict == "accepted" && (state == StateAccepted || state == StateDone):
		t.Accepted += n
		if today {
			t.TodayAccepted += n
		}
	case verdict == "rejected" && (state == StateRejected || state == StateDone):
		t.Rejected += n
		if today {
			t.TodayRejected += n
		}
	default:
		t.InProgress += n
	}
}

// SentWithoutUPO returns nip's invoices (every NIP when empty) whose outputs were written without a
// UPO because KSeF would not give it (a duplicate whose original another tool registered), newest
// first, at most limit. Such a record is done, accepted, with no UPO path.
func (j *Journal) SentWithoutUPO(ctx context.Context, nip string, limit int) ([]Invoice, error) {
	query, args := selectInvoice+` WHERE state = 'done' AND outcome = 'accepted' AND upo_path = ''`, []any{}
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	return j.queryInvoices(ctx, query+` ORDER BY updated_at DESC, id DESC LIMIT ?`, append(args, limit)...)
}
