package spool

import (
	"context"
	"database/sql"
)

// queryRow runs a one-row query through a statement prepared once for the journal's lifetime. The
// engine asks the same few questions for every invoice of a burst; parsing their SQL each time
// cost more than answering them. If preparing fails, the query runs unprepared (and reports its
// own error).
func (j *Journal) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := j.stmt(ctx, query)
	if err != nil {
		return j.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// query is queryRow for many rows. The invoice queries are few distinct texts (ByState's state
// lists among them), each asked again and again; validating a burst asked one per invoice.
func (j *Journal) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := j.stmt(ctx, query)
	if err != nil {
		return j.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (j *Journal) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := j.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := j.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := j.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (j *Journal) closeStmts() {
	j.stmts.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		j.stmts.Delete(k)
		return true
	})
}
