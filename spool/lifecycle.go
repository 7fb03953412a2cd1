package spool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// op names one journal operation on invoices. Every change of an invoice record goes through one
// of them, and each is checked against the tables below, so a reader finds the whole state machine
// here.
type op string

const (
	opClaimed        op = "claimed" // internal: the spool copy is durable (claim protocol)
	opMarkReady      op = "MarkReady"
	opMarkSending    op = "MarkSending"
	opMarkSubmitted  op = "MarkSubmitted"
	opAccept         op = "Accept"
	opReject         op = "Reject"
	opRetry          op = "Retry"
	opMarkDone       op = "MarkDone"
	opDefer          op = "Defer"
	opReserveOutputs op = "ReserveOutputs"
	opIssueOffline   op = "IssueOffline"
)

// transitions is the invoice state machine: for each state, the states it may move to and the one
// operation that makes that move. Anything not listed is refused with ErrConflict.
//
//	claiming  → claimed   (claim protocol of journals before schema 3: spool copy file durable;
//	                      ClaimMany now inserts records claimed, with their bytes, in one transaction)
//	claimed   → ready     MarkReady      validation passed
//	claimed   → rejected  Reject         validation failed
//	ready     → sending   MarkSending    handed to an online or batch session
//	ready     → accepted  Accept         the same bytes were registered earlier
//	sending   → submitted MarkSubmitted  KSeF took the invoice (or the batch was closed)
//	sending   → ready     Retry          KSeF has no record of it; send again later
//	sending   → rejected  Reject         KSeF refused the request outright (400)
//	submitted → accepted  Accept         KSeF registered it (status 200, or a 440 with our bytes)
//	submitted → rejected  Reject         KSeF's verdict is an error
//	submitted → ready     Retry          transient verdict, or a batch that ended without results
//	accepted  → done      MarkDone       outputs in sent/ written
//	rejected  → done      MarkDone       outputs in error/ written
var transitions = map[State]map[State]op{
	StateClaiming:  {StateClaimed: opClaimed},
	StateClaimed:   {StateReady: opMarkReady, StateRejected: opReject},
	StateReady:     {StateSending: opMarkSending, StateAccepted: opAccept},
	StateSending:   {StateSubmitted: opMarkSubmitted, StateReady: opRetry, StateRejected: opReject},
	StateSubmitted: {StateAccepted: opAccept, StateRejected: opReject, StateReady: opRetry},
	StateAccepted:  {StateDone: opMarkDone},
	StateRejected:  {StateDone: opMarkDone},
	StateDone:      {},
}

// updates are the operations that change a record without moving it, and the states they apply in.
var updates = map[op][]State{
	opDefer:          {StateReady},                   // not sendable now; try again later
	opReserveOutputs: {StateAccepted, StateRejected}, // output names chosen before writing
	opIssueOffline:   {StateReady},                   // not sent on its issue day: offline by law
}

// targets is the state each moving operation leads to.
var targets = map[op]State{
	opClaimed: StateClaimed, opMarkReady: StateReady, opMarkSending: StateSending,
	opMarkSubmitted: StateSubmitted, opAccept: StateAccepted, opReject: StateRejected,
	opRetry: StateReady, opMarkDone: StateDone,
}

// CanMove reports whether the state machine has an edge from → to.
func CanMove(from, to State) bool {
	_, ok := transitions[from][to]
	return ok
}

// check returns nil if o may act on a record in state cur, else an error naming both states.
func (o op) check(id int64, cur State) error {
	if in, ok := updates[o]; ok {
		if slices.Contains(in, cur) {
			return nil
		}
		return fmt.Errorf("invoice %d: %s is not allowed in state %s (only %v): %w", id, o, cur, in, ErrConflict)
	}
	to := targets[o]
	if transitions[cur][to] == o {
		return nil
	}
	return fmt.Errorf("invoice %d: %s cannot move it from %s to %s: %w", id, o, cur, to, ErrConflict)
}

// target is the state a record has after o: the op's target, or the current state for an update.
func (o op) target(cur State) State {
	if to, ok := targets[o]; ok {
		return to
	}
	return cur
}

// apply runs o on every id in ONE transaction (all or none), calling mutate on each record.
func (j *Journal) apply(ctx context.Context, o op, ids []int64, mutate func(*Invoice)) error {
	if len(ids) == 0 {
		return nil
	}
	err := j.changeMany(ctx, ids, func(inv *Invoice) (State, error) {
		if err := o.check(inv.ID, inv.State); err != nil {
			return "", err
		}
		if mutate != nil {
			mutate(inv)
		}
		return o.target(inv.State), nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	return nil
}

// Prepared is what validation learned about a claimed invoice: the bytes KSeF will receive and
// what they say.
type Prepared struct {
	ID             int64
	RegisteredPath string // the bytes to send (the spool copy, or a converted copy beside it)
	RegisteredHash string // base64 SHA-256 of those bytes: the idempotency key
	RegisteredSize int64
	Conversion     string
	InvoiceNumber  string
	IssueDate      string // P_1 as written in the invoice
	HasAttachment  bool
	Offline        Offline // how it is issued: online, or in which offline mode (offline.go)
}

// MarkReady moves validated invoices from claimed to ready; they may be sent from at on.
func (j *Journal) MarkReady(ctx context.Context, at time.Time, items []Prepared) error {
	byID := make(map[int64]Prepared, len(items))
	ids := make([]int64, len(items))
	for i, p := range items {
		byID[p.ID], ids[i] = p, p.ID
	}
	return j.apply(ctx, opMarkReady, ids, func(r *Invoice) {
		p := byID[r.ID]
		r.RegisteredPath, r.RegisteredHash, r.RegisteredSize = p.RegisteredPath, p.RegisteredHash, p.RegisteredSize
		r.Conversion, r.InvoiceNumber, r.IssueDate, r.HasAttachment = p.Conversion, p.InvoiceNumber, p.IssueDate, p.HasAttachment
		p.Offline.apply(r)
		r.NextAttemptAt = at
	})
}

// Sending says where ready invoices are being sent.
type Sending struct {
	Mode           string           // online|batch
	SessionRef     string           // the KSeF session
	BatchFileNames map[int64]string // batch only: each invoice's entry name in the archive
}

// MarkSending moves ready invoices to sending in session s and counts the attempt. It is recorded
// before the call that hands the bytes to KSeF, so a crash leaves a record to reconcile.
func (j *Journal) MarkSending(ctx context.Context, ids []int64, s Sending) error {
	return j.apply(ctx, opMarkSending, ids, func(r *Invoice) {
		r.Mode, r.SessionRef, r.BatchFileName = s.Mode, s.SessionRef, s.BatchFileNames[r.ID]
		r.Attempts++
	})
}

// MarkSubmitted moves one sending invoice to submitted with KSeF's reference for it.
func (j *Journal) MarkSubmitted(ctx context.Context, id int64, invoiceRef string) error {
	return j.apply(ctx, opMarkSubmitted, []int64{id}, func(r *Invoice) { r.InvoiceRef = invoiceRef })
}

// MarkBatchSubmitted moves the sending invoices of a closed batch session to submitted.
func (j *Journal) MarkBatchSubmitted(ctx context.Context, ids []int64) error {
	return j.moveAll(ctx, opMarkSubmitted, ids)
}

// errNotAllMoved makes moveAll's transaction roll back so that apply can name the record at fault.
var errNotAllMoved = errors.New("not every record may move")

// moveAll runs o, which changes nothing but the state, on every id as ONE statement per lot of
// ids instead of a read and a write per record: a 10,000-invoice batch moved record by record cost
// 0.6 CPU-seconds. The statement moves only records in a state o may move from (the transitions
// table); if any id is missing or in another state, nothing is changed and apply runs instead, so
// the error is the same as for a record-by-record change.
func (j *Journal) moveAll(ctx context.Context, o op, ids []int64) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil
	}
	to := targets[o]
	var from []string
	for st, next := range transitions {
		if next[to] == o {
			from = append(from, "'"+string(st)+"'") // our own constants: safe to inline
		}
	}
	at, err := encodeTime(j.now().UTC())
	if err != nil {
		return err
	}
	err = j.inTx(ctx, func(tx *sql.Tx) error {
		for lot := range slices.Chunk(ids, 5000) {
			// The ids are our own integers, so building the IN list is safe.
			q := `UPDATE invoices SET state = ?, updated_at = ? WHERE state IN (` + strings.Join(from, ",") +
				`) AND id IN (` + joinIDs(lot) + `)`
			res, err := tx.ExecContext(ctx, q, string(to), at)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != int64(len(lot)) {
				return errors.Join(errNotAllMoved, err)
			}
		}
		return nil
	})
	if errors.Is(err, errNotAllMoved) {
		return j.apply(ctx, o, ids, nil)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	j.log.Debug("invoice states", "count", len(ids), "op", string(o), "to", string(to))
	return nil
}

// joinIDs is ids as an SQL list.
func joinIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// applyEach applies o to the records items name (in one transaction), editing each record with its
// own item.
func applyEach[T any](ctx context.Context, j *Journal, o op, items []T, idOf func(T) int64, edit func(*Invoice, T)) error {
	byID := make(map[int64]T, len(items))
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = idOf(it)
		byID[ids[i]] = it
	}
	return j.apply(ctx, o, ids, func(r *Invoice) { edit(r, byID[r.ID]) })
}

// Registration is KSeF's acceptance of one invoice. Empty SessionRef, InvoiceRef, Mode and UpoPath
// keep what the record already holds (the session it was sent in).
type Registration struct {
	ID              int64
	KsefNumber      string
	AcquisitionDate *time.Time
	UpoURL          string
	UpoPath         string
	SessionRef      string // the session that registered it, when not the one we sent it in (a duplicate)
	SessionUnknown  bool   // a duplicate whose registering session KSeF did not name truly: SessionRef becomes ""
	InvoiceRef      string
	Mode            string
	InvoicingMode   string // KSeF's invoicingMode (Online, Offline); empty keeps what is recorded
}

// Accept records KSeF numbers for invoices that are submitted (KSeF's verdict) or ready (the same
// bytes were registered earlier), all in one transaction.
func (j *Journal) Accept(ctx context.Context, regs ...Registration) error {
	return applyEach(ctx, j, opAccept, regs, func(g Registration) int64 { return g.ID }, func(r *Invoice, g Registration) {
		r.KsefNumber, r.AcquisitionDate, r.UpoURL = g.KsefNumber, g.AcquisitionDate, g.UpoURL
		keep(&r.UpoPath, g.UpoPath)
		keep(&r.SessionRef, g.SessionRef)
		if g.SessionUnknown {
			r.SessionRef = ""
		}
		keep(&r.InvoiceRef, g.InvoiceRef)
		keep(&r.Mode, g.Mode)
		keep(&r.InvoicingMode, g.InvoicingMode)
		r.Outcome = "accepted"
	})
}

func keep(field *string, v string) {
	if v != "" {
		*field = v
	}
}

// Rejection is the final error of one invoice.
type Rejection struct {
	ID          int64
	Code        int    // KSeF's status code; 0 for local validation
	Kind        string // stable machine code of a local validation error ("not-xml", …)
	Description string
	Details     []string
	Stage       string // validation|ksef
	Hint        string
	// InvoiceNumber is P_2 as validation read it; empty keeps what is recorded (a record that
	// passed validation has it already).
	InvoiceNumber string
}

// Reject records the final error of invoices that are claimed (validation), sending (KSeF refused
// the request) or submitted (KSeF's verdict), all in one transaction.
func (j *Journal) Reject(ctx context.Context, rs ...Rejection) error {
	return applyEach(ctx, j, opReject, rs, func(x Rejection) int64 { return x.ID }, func(r *Invoice, x Rejection) {
		r.ErrCode, r.ErrKind, r.ErrDescription, r.ErrDetails = x.Code, x.Kind, x.Description, x.Details
		r.ErrStage, r.ErrHint, r.Outcome = x.Stage, x.Hint, "rejected"
		keep(&r.InvoiceNumber, x.InvoiceNumber)
	})
}

// Retry moves sending or submitted invoices back to ready, forgetting the session they were in:
// KSeF has no record of them or asked for them to be sent again. notBefore gets each record's
// attempts so far and says when it may be sent again.
func (j *Journal) Retry(ctx context.Context, ids []int64, notBefore func(attempts int) time.Time) error {
	return j.apply(ctx, opRetry, ids, func(r *Invoice) {
		r.SessionRef, r.InvoiceRef, r.BatchFileName, r.Mode = "", "", "", ""
		r.NextAttemptAt = notBefore(r.Attempts)
	})
}

// Defer keeps ready invoices ready but not before notBefore(attempts), and counts the attempt: they
// could not be sent now (no session, KSeF unreachable).
func (j *Journal) Defer(ctx context.Context, ids []int64, notBefore func(attempts int) time.Time) error {
	return j.apply(ctx, opDefer, ids, func(r *Invoice) {
		r.NextAttemptAt = notBefore(r.Attempts)
		r.Attempts++
	})
}

// ReserveOutputs records the output name stem of accepted or rejected invoices before their
// outputs are written, so a crash mid-write reuses the same names.
func (j *Journal) ReserveOutputs(ctx context.Context, stems map[int64]string) error {
	return j.apply(ctx, opReserveOutputs, slices.Sorted(maps.Keys(stems)), func(r *Invoice) { r.OutputStem = stems[r.ID] })
}

// MarkDone moves accepted or rejected invoices whose outputs are written to done. upoPaths maps
// each id to the UPO file written for it ("" for a rejection).
func (j *Journal) MarkDone(ctx context.Context, upoPaths map[int64]string) error {
	return j.apply(ctx, opMarkDone, slices.Sorted(maps.Keys(upoPaths)), func(r *Invoice) { keep(&r.UpoPath, upoPaths[r.ID]) })
}
