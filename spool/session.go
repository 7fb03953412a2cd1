package spool

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Session is a KSeF send session (online or batch) as the engine last saw it.
type Session struct {
	Ref, NIP   string
	Kind       string // online|batch
	State      string // open|closing|closed|abandoned
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ValidUntil *time.Time
}

// PutSession inserts or updates s by Ref. CreatedAt is kept from the first insert; zero CreatedAt
// or UpdatedAt mean now (the caller may pass its own clock's times).
func (j *Journal) PutSession(ctx context.Context, s Session) error {
	if j.readOnly {
		return ErrReadOnly
	}
	now := j.now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = now
	}
	var enc timeEncoder
	created, updated, valid := enc.time(s.CreatedAt), enc.time(s.UpdatedAt), enc.timePtr(s.ValidUntil)
	if enc.err != nil {
		return fmt.Errorf("put session %s: %w", s.Ref, enc.err)
	}
	_, err := j.db.ExecContext(ctx, `INSERT INTO sessions(ref, nip, kind, state, created_at, updated_at, valid_until)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(ref) DO UPDATE SET nip = excluded.nip, kind = excluded.kind, state = excluded.state,
			updated_at = excluded.updated_at, valid_until = excluded.valid_until`,
		s.Ref, s.NIP, s.Kind, s.State, created, updated, valid)
	if err != nil {
		return fmt.Errorf("put session %s: %w", s.Ref, err)
	}
	j.log.Debug("session state", "session", s.Ref, "nip", s.NIP, "kind", s.Kind, "state", s.State)
	return nil
}

// Sessions returns the sessions of nip in any of states (all states when none are given), oldest
// first. An empty nip means every NIP.
func (j *Journal) Sessions(ctx context.Context, nip string, states ...string) ([]Session, error) {
	query, args := `SELECT ref, nip, kind, state, created_at, updated_at, valid_until FROM sessions WHERE 1=1`, []any{}
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	if len(states) > 0 {
		in, vals := inClause(states)
		query += ` AND state IN ` + in
		args = append(args, vals...)
	}
	var out []Session
	err := j.eachRow(ctx, query+` ORDER BY created_at, ref`, args, func(rows *sql.Rows) error {
		var s Session
		var created, updated, valid string
		if err := rows.Scan(&s.Ref, &s.NIP, &s.Kind, &s.State, &created, &updated, &valid); err != nil {
			return err
		}
		var err error
		if s.CreatedAt, err = decodeTime(created); err != nil {
			return fmt.Errorf("session %s: %w", s.Ref, err)
		}
		if s.UpdatedAt, err = decodeTime(updated); err != nil {
			return fmt.Errorf("session %s: %w", s.Ref, err)
		}
		if s.ValidUntil, err = decodeTimePtr(valid); err != nil {
			return fmt.Errorf("session %s: %w", s.Ref, err)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return out, nil
}
