package spool

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// claimReady claims one outbox file and marks it ready with off, returning its ID.
func claimReady(t *testing.T, j *Journal, name, number string, off Offline) int64 {
	t.Helper()
	ctx := context.Background()
	invs, errs := j.ClaimMany(ctx, testNIP, []string{outboxFile(t, name, []byte("<Faktura>"+name+"</Faktura>"))})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	id := invs[0].ID
	if err := j.MarkReady(ctx, time.Now(), []Prepared{{ID: id, RegisteredPath: invs[0].SpoolPath, RegisteredHash: name,
		InvoiceNumber: number, IssueDate: "2026-12-01", Offline: off}}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestOfflineFieldsRoundTripAndOutageEnd(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	failure := claimReady(t, j, "a.xml", "FV/1", Offline{Mode: "failure", OutageStart: start})
	other := claimReady(t, j, "b.xml", "FV/2", Offline{Mode: "failure", OutageStart: start.Add(4 * time.Hour)})
	online := claimReady(t, j, "c.xml", "FV/3", Offline{})

	pending, err := j.OfflinePending(ctx, testNIP)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].ID != failure || pending[1].ID != other {
		t.Fatalf("OfflinePending = %v, want invoices %d and %d (not the online %d)", ids(pending), failure, other, online)
	}
	if got := pending[0]; got.OfflineMode != "failure" || !got.OutageStart.Equal(start) || !got.OutageEnd.IsZero() {
		t.Errorf("stored %q %v %v, want failure from %v, not ended", got.OfflineMode, got.OutageStart, got.OutageEnd, start)
	}
	end := start.Add(3 * time.Hour)
	n, err := j.EndOutage(ctx, testNIP, end)
	if err != nil || n != 1 {
		t.Fatalf("EndOutage = %d, %v; want 1 (not the invoice of a later outage)", n, err)
	}
	got, _ := j.Get(ctx, failure)
	if !got.OutageEnd.Equal(end) {
		t.Errorf("outage end = %v, want %v", got.OutageEnd, end)
	}
	if got, _ := j.Get(ctx, other); !got.OutageEnd.IsZero() {
		t.Errorf("another outage's invoice got an end: %v", got.OutageEnd)
	}
	if err := j.Accept(ctx, Registration{ID: failure, KsefNumber: "K1", InvoicingMode: "Offline"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := j.Get(ctx, failure); got.InvoicingMode != "Offline" {
		t.Errorf("invoicing mode = %q, want KSeF's Offline", got.InvoicingMode)
	}
	if pending, _ := j.OfflinePending(ctx, testNIP); len(pending) != 1 || pending[0].ID != other {
		t.Errorf("after acceptance OfflinePending = %v, want only %d", ids(pending), other)
	}
}

func TestRejectedOfflineFindsTheInvoiceToCorrect(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	id := claimReady(t, j, "a.xml", "FV/7", Offline{Mode: "offline24"})
	local := claimReady(t, j, "b.xml", "FV/8", Offline{Mode: "offline24"})
	// A file KSeF never saw (refused locally) is no basis for a technical correction.
	if _, err := j.db.Exec(`UPDATE invoices SET state = 'claimed' WHERE id = ?`, local); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkSending(ctx, []int64{id}, Sending{Mode: "online", SessionRef: "S"}); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkSubmitted(ctx, id, "R"); err != nil {
		t.Fatal(err)
	}
	if err := j.Reject(ctx, Rejection{ID: id, Code: 450, Description: "semantics", Stage: "ksef"},
		Rejection{ID: local, Kind: "not-xml", Stage: "validation"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := j.RejectedOffline(ctx, testNIP, "FV/7")
	if err != nil || !ok || got.ID != id {
		t.Fatalf("RejectedOffline(FV/7) = %v, %v, %v; want invoice %d", got, ok, err, id)
	}
	if _, ok, _ := j.RejectedOffline(ctx, testNIP, "FV/8"); ok {
		t.Error("an invoice rejected locally (never reached KSeF) cannot be technically corrected")
	}
}

// TestMigrationV1ToV2 opens a journal written by a release before the offline columns: its rows
// survive and read as online invoices.
func TestMigrationV1ToV2(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	j, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	// Rebuild the file as version 1 exactly: a fresh database with only the first migration.
	path := filepath.Join(dir, journalFileName)
	db, err := sql.Open("sqlite", writerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{"DROP TABLE invoices", "DROP TABLE sessions", "DROP TABLE cursors", "DROP TABLE delivered", "DROP TABLE meta", "DROP TABLE spool_copies",
		migrations[0], "PRAGMA user_version = 1",
		`INSERT INTO invoices(nip, file_name, source_path, orig_sha256, orig_size, state, created_at, updated_at)
		 VALUES ('` + testNIP + `', 'old.xml', '/o/old.xml', 'h', 1, 'ready', '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z')`} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	_ = db.Close()
	j, err = Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("Open of a version 1 journal: %v", err)
	}
	defer j.Close()
	invs, err := j.ByState(context.Background(), testNIP, StateReady)
	if err != nil || len(invs) != 1 || invs[0].FileName != "old.xml" || invs[0].OfflineMode != "" {
		t.Fatalf("after migration: %+v, %v; want old.xml, online", invs, err)
	}
}

func ids(invs []Invoice) []int64 {
	var out []int64
	for _, i := range invs {
		out = append(out, i.ID)
	}
	return out
}

// TestLateOnlineAndIssueOffline: only ready invoices declared online whose P_1 is before the day
// are late; IssueOffline gives them the mode and keeps a mode already declared.
func TestLateOnlineAndIssueOffline(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	ready := func(name, issue string, o Offline) int64 {
		inv := claimTest(t, j, name)
		if err := j.MarkReady(ctx, time.Now(), []Prepared{{ID: inv.ID, RegisteredHash: name, IssueDate: issue, Offline: o}}); err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	late := ready("late.xml", "2026-12-05", Offline{})
	ready("today.xml", "2026-12-06", Offline{})
	declared := ready("declared.xml", "2026-12-04", Offline{Mode: "failure"})
	got, err := j.LateOnline(ctx, testNIP, "2026-12-06")
	if err != nil || len(got) != 1 || got[0].ID != late {
		t.Fatalf("LateOnline = %+v, %v; want only late.xml", got, err)
	}
	if err := j.IssueOffline(ctx, []int64{late, declared}, Offline{Mode: "offline24"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]string{late: "offline24", declared: "failure"} {
		if inv, _ := j.Get(ctx, id); inv.OfflineMode != want {
			t.Errorf("invoice %d: mode %q, want %q", id, inv.OfflineMode, want)
		}
	}
}
