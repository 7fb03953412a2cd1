package spool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is the life-cycle state of one invoice.
type State string

const (
	StateClaiming  State = "claiming"  // journals before schema 3 only: record written, spool copy file in progress; outbox file still authoritative
	StateClaimed   State = "claimed"   // spool copy durable (claims insert records in this state, with their bytes); outbox file may be removed
	StateReady     State = "ready"     // validated; RegisteredPath/Hash set; waiting to be sent
	StateSending   State = "sending"   // assigned to SessionRef, send/upload about to happen or happening
	StateSubmitted State = "submitted" // KSeF acknowledged (InvoiceRef known, or batch closed)
	StateAccepted  State = "accepted"  // KSeF number known; outputs not yet written
	StateRejected  State = "rejected"  // final error known (local validation or KSeF); outputs not yet written
	StateDone      State = "done"      // outputs written (Outcome says accepted|rejected)
)

// Invoice is one journal record. Times are UTC.
type Invoice struct {
	ID         int64
	NIP        string // context NIP the invoice is sent for
	FileName   string // base name in the outbox
	SourcePath string // absolute outbox path it was claimed from

	OrigSHA256 string // hex SHA-256 of the exact original bytes
	OrigSize   int64
	SpoolPath  string // where the exact original bytes are: InJournal, or dir/spool/<id>.orig (claimed before schema 3); "" once pruned

	RegisteredPath string // the bytes actually sent to KSeF (may differ after conversion)
	RegisteredHash string // base64 SHA-256 of RegisteredPath: the idempotency key
	RegisteredSize int64
	Conversion     string

	InvoiceNumber string
	IssueDate     string
	HasAttachment bool

	State         State
	Mode          string // online|batch
	SessionRef    string
	InvoiceRef    string
	BatchFileName string

	KsefNumber      string
	AcquisitionDate *time.Time
	UpoURL          string
	UpoPath         string

	ErrCode        int
	ErrDescription string
	ErrDetails     []string
	ErrStage       string // validation|ksef
	ErrKind        string // stable machine code of a local validation error ("not-xml", …)
	ErrHint        string

	Outcome    string // accepted|rejected, set with StateDone
	OutputStem string // reserved before outputs are written, so a crash mid-write reuses the names

	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// Offline issuance (issue 14). OfflineMode is the legal mode the invoice was issued in
	// (offline24, unavailable, failure, total-failure; "" when online): it is sent with
	// offlineMode true. OutageStart/OutageEnd are the outage its deadline counts from (OutageEnd
	// zero while it lasts). InvoicingMode is what KSeF says (Online, Offline).
	OfflineMode   string
	OutageStart   time.Time
	OutageEnd     time.Time
	InvoicingMode string
	// A technical correction names the rejected invoice it corrects: the SHA-256 (base64) of the
	// rejected bytes, sent as hashOfCorrectedInvoice, and that invoice's file name.
	CorrectedHash string
	CorrectedFile string
}

// Fixed invoice queries; kept together so the index test can EXPLAIN each of them.
const (
	queryByID         = selectInvoice + ` WHERE id = ?`
	queryFindAccepted = selectInvoice + `
		WHERE nip = ? AND registered_hash = ? AND registered_hash <> ''
		  AND (state = 'accepted' OR (state = 'done' AND outcome = 'accepted'))
		ORDER BY id LIMIT 1`
	queryInFlight = `SELECT count(*) FROM invoices
		WHERE nip = ? AND registered_hash = ? AND registered_hash <> '' AND id <> ?
		  AND state IN ('sending', 'submitted')`
	queryCountByState    = `SELECT state, count(*) FROM invoices WHERE nip = ? GROUP BY state`
	queryCountAllByState = `SELECT state, count(*) FROM invoices GROUP BY state`
	queryPendingSources  = selectInvoice + ` WHERE source_pending = 1 AND state <> ? ORDER BY id`
	queryStatePage       = selectInvoice + ` WHERE nip = ? AND state = ? AND id > ? ORDER BY id LIMIT ?`
	queryPendingForPath  = `SELECT id, state FROM invoices
		WHERE nip = ? AND source_path = ? AND source_pending = 1 AND orig_sha256 = ?
		ORDER BY id LIMIT 1`
)

// Get returns one invoice, or an error wrapping ErrNotFound.
func (j *Journal) Get(ctx context.Context, id int64) (*Invoice, error) {
	inv, err := j.scanInvoice(j.queryRow(ctx, queryByID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("invoice %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get invoice %d: %w", id, err)
	}
	return inv, nil
}

// transition moves invoice id from one of from to to without consulting the state machine. Only
// tests use it, to build records in any state; production code goes through the named operations in
// lifecycle.go.
func (j *Journal) transition(ctx context.Context, id int64, from []State, to State, mutate func(*Invoice)) error {
	return j.changeMany(ctx, []int64{id}, func(inv *Invoice) (State, error) {
		if !slices.Contains(from, inv.State) {
			return "", fmt.Errorf("invoice %d is %s, want one of %v: %w", inv.ID, inv.State, from, ErrConflict)
		}
		if mutate != nil {
			mutate(inv)
		}
		return to, nil
	})
}

// changeMany changes many invoices in ONE transaction: either all change or none does. change gets
// each current record, may edit it (any field except ID and CreatedAt) and returns the new state, or
// an error that aborts the whole transaction. It runs inside the transaction: it must not call the
// Journal. It returns an error wrapping ErrNotFound if an id does not exist. The change is durable
// on return.
func (j *Journal) changeMany(ctx context.Context, ids []int64, change func(*Invoice) (State, error)) error {
	var moved []*Invoice
	var prev []State
	err := j.inTx(ctx, func(tx *sql.Tx) error {
		moved, prev = moved[:0], prev[:0]
		upd := &updater{tx: tx, stmts: map[string]*sql.Stmt{}}
		defer upd.close()
		for lot := range slices.Chunk(ids, changeLot) {
			recs, err := j.loadLot(ctx, tx, lot)
			if err != nil {
				return err
			}
			for _, id := range lot {
				inv := recs[id]
				if inv == nil {
					return fmt.Errorf("invoice %d: %w", id, ErrNotFound)
				}
				old, err := j.changeOne(ctx, upd, inv, change)
				if err != nil {
					return err
				}
				moved, prev = append(moved, inv), append(prev, old)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, inv := range moved {
		j.logTransition(inv, prev[i])
	}
	return nil
}

// changeLot is how many records changeMany reads with one query: reading them one query each
// cost more than the reading itself in a burst's state changes (ten thousand records, six times).
const changeLot = 256

// loadLot reads the records of ids inside tx. An id listed twice is changed twice in order, on the
// one record it loaded: the second change sees the first, as a fresh read would.
func (j *Journal) loadLot(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]*Invoice, error) {
	// The ids are our own integers, so building the IN list is safe; the text differs per lot, so
	// it is not kept prepared.
	rows, err := tx.QueryContext(ctx, selectInvoice+` WHERE id IN (`+joinIDs(ids)+`)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs := make(map[int64]*Invoice, len(ids))
	for rows.Next() {
		inv, err := j.scanInvoice(rows)
		if err != nil {
			return nil, err
		}
		recs[inv.ID] = inv
	}
	return recs, rows.Err()
}

// changeOne applies change to inv (read in this transaction) and writes the columns it changed.
// It returns the state inv had.
func (j *Journal) changeOne(ctx context.Context, upd *updater, inv *Invoice, change func(*Invoice) (State, error)) (State, error) {
	id := inv.ID
	before, err := j.updateArgs(inv)
	if err != nil {
		return "", fmt.Errorf("invoice %d: %w", id, err)
	}
	old, created := inv.State, inv.CreatedAt
	to, err := change(inv)
	if err != nil {
		return "", err
	}
	inv.ID, inv.CreatedAt, inv.State, inv.UpdatedAt = id, created, to, j.now().UTC()
	args, err := j.updateArgs(inv)
	if err != nil {
		return "", fmt.Errorf("invoice %d: %w", id, err)
	}
	if err := upd.exec(ctx, before, args); err != nil {
		return "", fmt.Errorf("invoice %d: %w", id, err)
	}
	return old, nil
}

// updater writes only the columns a change touched: SQLite then leaves alone every index whose
// columns kept their values (writing all of them rewrote all seven indexes of every record, for
// every state change). Statements are prepared once per column set in the transaction.
type updater struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// exec updates the record whose updateArgs were before to after (the id is their last value).
func (u *updater) exec(ctx context.Context, before, after []any) error {
	var set strings.Builder
	args := make([]any, 0, len(after))
	for i, col := range updateColumns {
		if before[i] != after[i] {
			if set.Len() > 0 {
				set.WriteString(", ")
			}
			set.WriteString(col + " = ?")
			args = append(args, after[i])
		}
	}
	if len(args) == 0 {
		return nil
	}
	query := "UPDATE invoices SET " + set.String() + " WHERE id = ?"
	st, ok := u.stmts[query]
	if !ok {
		var err error
		if st, err = u.tx.PrepareContext(ctx, query); err != nil {
			return err
		}
		u.stmts[query] = st
	}
	_, err := st.ExecContext(ctx, append(args, after[len(after)-1])...)
	return err
}

func (u *updater) close() {
	for _, st := range u.stmts {
		_ = st.Close()
	}
}

func (j *Journal) logTransition(inv *Invoice, from State) {
	attrs := []any{"invoice", inv.ID, "nip", inv.NIP, "file", inv.FileName, "from", string(from), "to", string(inv.State)}
	if inv.SessionRef != "" {
		attrs = append(attrs, "session", inv.SessionRef)
	}
	if inv.KsefNumber != "" {
		attrs = append(attrs, "ksef_number", inv.KsefNumber)
	}
	// The engine logs each transition with its reason; this debug line is the journal's own trace.
	j.log.Debug("invoice state", attrs...)
}

// ByState returns the invoices of nip in any of states, ordered by ID. An empty nip means every NIP.
func (j *Journal) ByState(ctx context.Context, nip string, states ...State) ([]Invoice, error) {
	if len(states) == 0 {
		return nil, nil
	}
	query, args := byStateQuery(nip, states)
	return j.queryInvoices(ctx, query, args...)
}

func byStateQuery(nip string, states []State) (string, []any) {
	in, args := inClause(states)
	query := selectInvoice + ` WHERE state IN ` + in
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	return query + ` ORDER BY id`, args
}

// ByStatePage returns up to limit invoices of nip in state whose id is above after, in id order:
// a long list read a page at a time (the next page starts after the last id of this one), so a
// burst's 10,000 accepted invoices are never all in memory at once. One range of the
// (nip, state, id) index per page, without sorting.
func (j *Journal) ByStatePage(ctx context.Context, nip string, state State, after int64, limit int) ([]Invoice, error) {
	var out []Invoice // an idle company's pages are empty: room for limit rows is made at the first row
	err := j.eachRow(ctx, queryStatePage, []any{nip, state, after, limit}, func(rows *sql.Rows) error {
		inv, err := j.scanInvoice(rows)
		if err == nil {
			if out == nil {
				out = make([]Invoice, 0, limit)
			}
			out = append(out, *inv)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("query invoices: %w", err)
	}
	return out, nil
}

// FindAccepted returns the earliest invoice of nip with registeredHash that KSeF accepted (state
// accepted, or done with outcome accepted).
func (j *Journal) FindAccepted(ctx context.Context, nip, registeredHash string) (*Invoice, bool, error) {
	if registeredHash == "" {
		return nil, false, nil
	}
	inv, err := j.scanInvoice(j.queryRow(ctx, queryFindAccepted, nip, registeredHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find accepted: %w", err)
	}
	return inv, true, nil
}

// InFlight reports whether another invoice of nip (not exceptID) with registeredHash has been handed
// to KSeF (sending or submitted) and awaits its verdict. Ready copies are not counted: the engine
// picks one of them itself, and counting them would make two ready copies wait for each other.
func (j *Journal) InFlight(ctx context.Context, nip, registeredHash string, exceptID int64) (bool, error) {
	if registeredHash == "" {
		return false, nil
	}
	var n int
	err := j.queryRow(ctx, queryInFlight, nip, registeredHash, exceptID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("in flight: %w", err)
	}
	return n > 0, nil
}

// HasWork reports whether nip has an invoice that is not done yet, i.e. anything the send loop may
// still have to move. An idle company's loop asks this one indexed question instead of running a
// whole step: 400 idle companies stepping every poll interval spent most of a daemon's idle CPU.
func (j *Journal) HasWork(ctx context.Context, nip string) (bool, error) {
	var found bool
	if err := j.queryRow(ctx, queryHasWork, nip).Scan(&found); err != nil {
		return false, fmt.Errorf("has work: %w", err)
	}
	return found, nil
}

// queryHasWork lists the unfinished states rather than saying state <> 'done', so that the
// (nip, state) index answers it without walking a company's finished history.
const queryHasWork = `SELECT EXISTS(SELECT 1 FROM invoices WHERE nip = ? AND state IN ('claiming', 'claimed', 'ready', 'sending', 'submitted', 'accepted', 'rejected'))`

// CountByState counts the invoices of nip per state. An empty nip means every NIP.
func (j *Journal) CountByState(ctx context.Context, nip string) (map[State]int, error) {
	query, args := queryCountAllByState, []any{}
	if nip != "" {
		query, args = queryCountByState, []any{nip}
	}
	counts := map[State]int{}
	err := j.eachRow(ctx, query, args, func(rows *sql.Rows) error {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return err
		}
		counts[State(s)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count by state: %w", err)
	}
	return counts, nil
}

// RecentRejections returns up to n rejected invoices of nip, newest first: those with Outcome
// rejected and those in StateRejected whose outputs are not written yet. An empty nip means every NIP.
func (j *Journal) RecentRejections(ctx context.Context, nip string, n int) ([]Invoice, error) {
	if n <= 0 {
		return nil, nil
	}
	query, args := recentRejectionsQuery(nip, n)
	return j.queryInvoices(ctx, query, args...)
}

func recentRejectionsQuery(nip string, n int) (string, []any) {
	// The WHERE term matches the partial index invoices_rejected word for word, so SQLite uses it.
	query, args := selectInvoice+` WHERE (outcome = 'rejected' OR state = 'rejected')`, []any{}
	if nip != "" {
		query += ` AND nip = ?`
		args = append(args, nip)
	}
	return query + ` ORDER BY updated_at DESC, id DESC LIMIT ?`, append(args, n)
}

func (j *Journal) queryInvoices(ctx context.Context, query string, args ...any) ([]Invoice, error) {
	var out []Invoice
	err := j.eachRow(ctx, query, args, func(rows *sql.Rows) error {
		inv, err := j.scanInvoice(rows)
		if err != nil {
			return err
		}
		out = append(out, *inv)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query invoices: %w", err)
	}
	return out, nil
}

// eachRow runs query and calls scan for every row it returns. The query's, a scan's and the rows'
// errors come back as they are: the caller names the read they belong to.
func (j *Journal) eachRow(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := j.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inClause returns "(?, ?, ...)" and the values for a SQL IN list.
func inClause[T ~string](vals []T) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = string(v)
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")", args
}
