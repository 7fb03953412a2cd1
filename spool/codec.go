package spool

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// timeLayout is fixed-width UTC so that text comparison in SQL orders times correctly
// (RFC3339Nano drops trailing zeros and would not).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// encodeTime stores the zero time as "" so "not set" survives a round trip.
func encodeTime(t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	u := t.UTC()
	if y := u.Year(); y < 1 || y > 9999 {
		return "", fmt.Errorf("time %v outside the storable years 1-9999", t)
	}
	return u.Format(timeLayout), nil
}

// timeEncoder encodes the times of one row and keeps the first error, so a row's times are
// encoded together and checked once.
type timeEncoder struct{ err error }

func (e *timeEncoder) time(t time.Time) string {
	s, err := encodeTime(t)
	if e.err == nil {
		e.err = err
	}
	return s
}

func (e *timeEncoder) timePtr(t *time.Time) string {
	s, err := encodeTimePtr(t)
	if e.err == nil {
		e.err = err
	}
	return s
}

func decodeTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func encodeTimePtr(t *time.Time) (string, error) {
	if t == nil {
		return "", nil
	}
	return encodeTime(*t)
}

func decodeTimePtr(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := decodeTime(s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// encodeDetails stores error details as a JSON array. Invalid UTF-8 is replaced by U+FFFD first
// (JSON would do it anyway), so what is stored is exactly what decodes.
func encodeDetails(d []string) (string, error) {
	if len(d) == 0 {
		return "", nil
	}
	clean := make([]string, len(d))
	for i, s := range d {
		clean[i] = strings.ToValidUTF8(s, "\uFFFD")
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return "", fmt.Errorf("encode error details: %w", err)
	}
	return string(b), nil
}

func decodeDetails(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var d []string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("decode error details: %w", err)
	}
	if len(d) == 0 {
		return nil, nil
	}
	return d, nil
}

// invoiceColumns lists every invoices column except id, in the order of invoiceRow fields.
const invoiceColumns = `nip, file_name, source_path, orig_sha256, orig_size, spool_path,
	registered_path, registered_hash, registered_size, conversion, invoice_number, issue_date,
	has_attachment, state, mode, session_ref, invoice_ref, batch_file_name, ksef_number,
	acquisition_date, upo_url, upo_path, err_code, err_description, err_details, err_stage, err_kind,
	err_hint, outcome, output_stem, attempts, next_attempt_at, created_at, updated_at, offline_mode,
	outage_start, outage_end, invoicing_mode, corrected_hash, corrected_file`

const selectInvoice = `SELECT id, ` + invoiceColumns + ` FROM invoices`

// updateInvoice lists every mutable column in the order of updateArgs; id, created_at and
// source_pending are never changed through it. changeMany writes only the columns a change
// touched (updater).
const updateInvoice = `UPDATE invoices SET nip=?, file_name=?, source_path=?, orig_sha256=?, orig_size=?,
	spool_path=?, registered_path=?, registered_hash=?, registered_size=?, conversion=?,
	invoice_number=?, issue_date=?, has_attachment=?, state=?, mode=?, session_ref=?, invoice_ref=?,
	batch_file_name=?, ksef_number=?, acquisition_date=?, upo_url=?, upo_path=?, err_code=?,
	err_description=?, err_details=?, err_stage=?, err_kind=?, err_hint=?, outcome=?, output_stem=?, attempts=?,
	next_attempt_at=?, updated_at=?, offline_mode=?, outage_start=?, outage_end=?, invoicing_mode=?,
	corrected_hash=?, corrected_file=? WHERE id=?`

// updateColumns are the columns updateInvoice sets, in the order of updateArgs.
var updateColumns = func() []string {
	set := strings.TrimPrefix(strings.Split(updateInvoice, " WHERE ")[0], "UPDATE invoices SET ")
	var cols []string
	for _, c := range strings.Split(set, ",") {
		cols = append(cols, strings.TrimSuffix(strings.TrimSpace(c), "=?"))
	}
	return cols
}()

type scanner interface{ Scan(dest ...any) error }

// scanInvoice reads one row produced by selectInvoice.
func (j *Journal) scanInvoice(r scanner) (*Invoice, error) {
	var (
		inv                               Invoice
		spool, registered, state          string
		acq, next, created, updated, errd string
		outStart, outEnd                  string
	)
	err := r.Scan(&inv.ID, &inv.NIP, &inv.FileName, &inv.SourcePath, &inv.OrigSHA256, &inv.OrigSize,
		&spool, &registered, &inv.RegisteredHash, &inv.RegisteredSize, &inv.Conversion,
		&inv.InvoiceNumber, &inv.IssueDate, &inv.HasAttachment, &state, &inv.Mode, &inv.SessionRef,
		&inv.InvoiceRef, &inv.BatchFileName, &inv.KsefNumber, &acq, &inv.UpoURL, &inv.UpoPath,
		&inv.ErrCode, &inv.ErrDescription, &errd, &inv.ErrStage, &inv.ErrKind, &inv.ErrHint, &inv.Outcome,
		&inv.OutputStem, &inv.Attempts, &next, &created, &updated, &inv.OfflineMode, &outStart, &outEnd,
		&inv.InvoicingMode, &inv.CorrectedHash, &inv.CorrectedFile)
	if err != nil {
		return nil, err
	}
	inv.State = State(state)
	inv.SpoolPath = j.loadPath(spool)
	inv.RegisteredPath = j.loadPath(registered)
	if inv.AcquisitionDate, err = decodeTimePtr(acq); err != nil {
		return nil, fmt.Errorf("invoice %d: %w", inv.ID, err)
	}
	if inv.ErrDetails, err = decodeDetails(errd); err != nil {
		return nil, fmt.Errorf("invoice %d: %w", inv.ID, err)
	}
	for _, f := range []struct {
		dst *time.Time
		src string
	}{{&inv.NextAttemptAt, next}, {&inv.CreatedAt, created}, {&inv.UpdatedAt, updated},
		{&inv.OutageStart, outStart}, {&inv.OutageEnd, outEnd}} {
		if *f.dst, err = decodeTime(f.src); err != nil {
			return nil, fmt.Errorf("invoice %d: %w", inv.ID, err)
		}
	}
	return &inv, nil
}

// updateArgs are the bound values of updateInvoice for inv.
func (j *Journal) updateArgs(inv *Invoice) ([]any, error) {
	var enc timeEncoder
	acq, next, updated := enc.timePtr(inv.AcquisitionDate), enc.time(inv.NextAttemptAt), enc.time(inv.UpdatedAt)
	if enc.err != nil {
		return nil, enc.err
	}
	details, err := encodeDetails(inv.ErrDetails)
	if err != nil {
		return nil, err
	}
	outStart, err := encodeTime(inv.OutageStart)
	if err != nil {
		return nil, err
	}
	outEnd, err := encodeTime(inv.OutageEnd)
	if err != nil {
		return nil, err
	}
	return []any{inv.NIP, inv.FileName, inv.SourcePath, inv.OrigSHA256, inv.OrigSize,
		j.storePath(inv.SpoolPath), j.storePath(inv.RegisteredPath), inv.RegisteredHash,
		inv.RegisteredSize, inv.Conversion, inv.InvoiceNumber, inv.IssueDate, inv.HasAttachment,
		string(inv.State), inv.Mode, inv.SessionRef, inv.InvoiceRef, inv.BatchFileName, inv.KsefNumber,
		acq, inv.UpoURL, inv.UpoPath, inv.ErrCode, inv.ErrDescription, details, inv.ErrStage,
		inv.ErrKind, inv.ErrHint, inv.Outcome, inv.OutputStem, inv.Attempts, next, updated, inv.OfflineMode,
		outStart, outEnd, inv.InvoicingMode, inv.CorrectedHash, inv.CorrectedFile, inv.ID}, nil
}

// storePath keeps paths inside the state folder relative, so a state folder that is moved or
// restored elsewhere still finds its spool copies.
func (j *Journal) storePath(p string) string {
	if p == "" || p == InJournal {
		return p
	}
	rel, err := filepath.Rel(j.dir, p)
	if err != nil || !filepath.IsLocal(rel) {
		return p
	}
	return filepath.ToSlash(rel)
}

func (j *Journal) loadPath(p string) string {
	if p == "" || p == InJournal || filepath.IsAbs(p) {
		return p
	}
	local := filepath.FromSlash(p)
	if !filepath.IsLocal(local) {
		return p
	}
	return filepath.Join(j.dir, local)
}
