package spool

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func TestClaimHappyPath(t *testing.T) {
	j, dir := openTest(t)
	data := []byte("<Faktura>FV/1/2026</Faktura>\n")
	src := outboxFile(t, "FV_001.xml", data)

	inv, err := claimOne(j, context.Background(), testNIP, src)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if fileExists(t, src) {
		t.Errorf("outbox file %s still exists after claim", src)
	}
	if got := original(t, j, inv); !bytes.Equal(got, data) {
		t.Errorf("spool copy = %q, want %q", got, data)
	}
	if inv.SpoolPath != InJournal {
		t.Errorf("SpoolPath = %s, want %s", inv.SpoolPath, InJournal)
	}
	if left, err := os.ReadDir(filepath.Join(dir, "spool")); err != nil || len(left) != 0 {
		t.Errorf("spool folder holds %d files (%v), want none: the copy is in the journal", len(left), err)
	}
	got, err := j.Get(context.Background(), inv.ID)
	if err != nil || !reflect.DeepEqual(got, inv) {
		t.Errorf("ClaimMany returned %+v, the journal holds %+v (%v)", inv, got, err)
	}
	wantFields := []struct{ name, got, want string }{
		{"State", string(inv.State), string(StateClaimed)},
		{"NIP", inv.NIP, testNIP},
		{"FileName", inv.FileName, "FV_001.xml"},
		{"SourcePath", inv.SourcePath, src},
		{"OrigSHA256", inv.OrigSHA256, hexSHA256(data)},
	}
	for _, f := range wantFields {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.name, f.got, f.want)
		}
	}
	if inv.OrigSize != int64(len(data)) {
		t.Errorf("OrigSize = %d, want %d", inv.OrigSize, len(data))
	}
	if inv.CreatedAt.IsZero() || inv.UpdatedAt.Before(inv.CreatedAt) {
		t.Errorf("CreatedAt %v UpdatedAt %v", inv.CreatedAt, inv.UpdatedAt)
	}
}

func TestClaimVanished(t *testing.T) {
	j, _ := openTest(t)
	_, err := claimOne(j, context.Background(), testNIP, filepath.Join(t.TempDir(), "gone.xml"))
	if !errors.Is(err, ErrVanished) {
		t.Fatalf("Claim of missing file: err = %v, want ErrVanished", err)
	}
	assertNoRecords(t, j)
}

func TestClaimTooLarge(t *testing.T) {
	j, _ := openTest(t)
	src := outboxFile(t, "huge.xml", nil)
	// A sparse file: the size is what matters, not the disk space.
	if err := os.Truncate(src, MaxClaimSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := claimOne(j, context.Background(), testNIP, src)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Claim of %d bytes: err = %v, want ErrTooLarge", MaxClaimSize+1, err)
	}
	if !fileExists(t, src) {
		t.Error("oversized file was removed from the outbox")
	}
	assertNoRecords(t, j)
}

func TestClaimAtSizeCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MB")
	}
	j, _ := openTest(t)
	src := outboxFile(t, "big.xml", nil)
	if err := os.Truncate(src, MaxClaimSize); err != nil {
		t.Fatal(err)
	}
	inv, err := claimOne(j, context.Background(), testNIP, src)
	if err != nil {
		t.Fatalf("Claim of exactly MaxClaimSize: %v", err)
	}
	if inv.OrigSize != MaxClaimSize {
		t.Errorf("OrigSize = %d, want %d", inv.OrigSize, MaxClaimSize)
	}
}

func assertNoRecords(t *testing.T, j *Journal) {
	t.Helper()
	all, err := j.ByState(context.Background(), "", allStates...)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Errorf("journal has %d records, want none: %+v", len(all), all)
	}
}

// errCrash is the panic value that simulates the process dying at an injection point.
var errCrash = errors.New("simulated crash")

func crash() { panic(errCrash) }

// claimCrashing runs ClaimMany and reports whether it "crashed" (panicked with errCrash).
func claimCrashing(j *Journal, path string) (crashed bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if r != errCrash {
				panic(r)
			}
			crashed = true
		}
	}()
	_, err = claimOne(j, context.Background(), testNIP, path)
	return false, err
}

// TestClaimCrashSafety stops ClaimMany (what production runs) at every step, restarts the journal, runs RecoverClaims and checks
// the invariant: the invoice is in the outbox or in the journal, never neither, never both.
func TestClaimCrashSafety(t *testing.T) {
	data := []byte("<Faktura>crash</Faktura>")
	tests := []struct {
		name   string
		inject func()
		// wantJournal: after recovery the invoice is claimed in the journal (else: still in the outbox).
		wantJournal bool
	}{
		{name: "no crash", wantJournal: true},
		{name: "after read", inject: func() { afterReadHook = crash }},
		{name: "copy not written", inject: func() {
			insertSpoolCopy = func(context.Context, *sql.Stmt, int64, []byte) error { return errors.New("disk full") }
		}},
		{name: "after claimed", inject: func() { afterClaimedHook = crash }, wantJournal: true},
		{name: "remove fails", inject: func() {
			removeFile = func(string) error { return &fs.PathError{Op: "remove", Err: fs.ErrPermission} }
		}, wantJournal: true},
		{name: "after remove", inject: func() {
			removeFile = func(p string) error {
				if err := os.Remove(p); err != nil {
					return err
				}
				crash()
				return nil
			}
		}, wantJournal: true},
		{name: "outbox dir sync fails", inject: func() {
			syncDir = func(string) error { return errors.New("EIO") }
		}, wantJournal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resetHooks(t)
			dir := filepath.Join(t.TempDir(), "state")
			j, err := Open(context.Background(), dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			src := outboxFile(t, "FV.xml", data)
			if tt.inject != nil {
				tt.inject()
			}
			crashed, claimErr := claimCrashing(j, src)
			t.Logf("crashed=%v err=%v", crashed, claimErr)
			_ = j.Close() // the process died: its lock and connection go away

			restoreHooks()
			j, err = Open(context.Background(), dir, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer j.Close()
			for range 2 { // recovery must be idempotent
				if err := j.RecoverClaims(context.Background()); err != nil {
					t.Fatalf("RecoverClaims: %v", err)
				}
			}
			assertClaimSettled(t, j, src, data, tt.wantJournal)
		})
	}
}

// assertClaimSettled checks "in the outbox or in the journal, never neither, never both".
func assertClaimSettled(t *testing.T, j *Journal, src string, data []byte, wantJournal bool) {
	t.Helper()
	all, err := j.ByState(context.Background(), "", allStates...)
	if err != nil {
		t.Fatal(err)
	}
	inOutbox := fileExists(t, src)
	switch {
	case len(all) == 0 && !inOutbox:
		t.Fatal("invoice lost: neither in the outbox nor in the journal")
	case len(all) > 0 && inOutbox:
		t.Fatalf("invoice both in the outbox and in the journal (%d records)", len(all))
	case len(all) > 1:
		t.Fatalf("%d journal records for one file", len(all))
	}
	if inOutbox {
		if got := testutil.ReadFile(t, src); !bytes.Equal(got, data) {
			t.Errorf("outbox file changed: %q", got)
		}
		if wantJournal {
			t.Error("invoice still in the outbox, want it claimed in the journal")
		}
		assertSpoolEmpty(t, j)
		return
	}
	inv := all[0]
	if inv.State != StateClaimed {
		t.Errorf("state = %s, want claimed", inv.State)
	}
	if got := original(t, j, &inv); !bytes.Equal(got, data) {
		t.Errorf("spool copy = %q, want %q", got, data)
	}
	if !wantJournal {
		t.Error("invoice claimed, want it left in the outbox")
	}
	var pending int
	if err := j.db.QueryRow(`SELECT source_pending FROM invoices WHERE id = ?`, inv.ID).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Error("source_pending still set after recovery")
	}
}

// assertSpoolEmpty checks that no spool copy or temporary file was left behind.
func assertSpoolEmpty(t *testing.T, j *Journal) {
	t.Helper()
	var n int
	if err := j.db.QueryRow(`SELECT count(*) FROM spool_copies`).Scan(&n); err != nil || n != 0 {
		t.Errorf("spool_copies holds %d rows (%v), want none", n, err)
	}
	entries, err := os.ReadDir(j.spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("leftover spool file %s", e.Name())
	}
}

func TestClaimLeavesFileModifiedBeforeRemove(t *testing.T) {
	resetHooks(t)
	j, _ := openTest(t)
	orig := []byte("<Faktura>v1</Faktura>")
	changed := []byte("<Faktura>v2, same size?</Faktura>")
	src := outboxFile(t, "FV.xml", orig)
	afterClaimedHook = func() {
		// The ERP rewrites the file after we read it.
		if err := os.WriteFile(src, changed, 0o600); err != nil {
			panic(err)
		}
	}
	inv, err := claimOne(j, context.Background(), testNIP, src)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if got := testutil.ReadFile(t, src); !bytes.Equal(got, changed) {
		t.Errorf("outbox file = %q, want the new version %q left in place", got, changed)
	}
	if got := original(t, j, inv); !bytes.Equal(got, orig) {
		t.Errorf("spool copy = %q, want the claimed version %q", got, orig)
	}
	// The new version is a new invoice, claimed on its own.
	afterClaimedHook = nil
	inv2, err := claimOne(j, context.Background(), testNIP, src)
	if err != nil {
		t.Fatalf("Claim of new version: %v", err)
	}
	if inv2.ID == inv.ID || fileExists(t, src) {
		t.Errorf("new version: id %d (first %d), outbox exists %v", inv2.ID, inv.ID, fileExists(t, src))
	}
}

func TestClaimSameSizeModification(t *testing.T) {
	resetHooks(t)
	j, _ := openTest(t)
	src := outboxFile(t, "FV.xml", []byte("<a>1</a>"))
	afterClaimedHook = func() {
		if err := os.WriteFile(src, []byte("<a>2</a>"), 0o600); err != nil {
			panic(err)
		}
	}
	if _, err := claimOne(j, context.Background(), testNIP, src); err != nil {
		t.Fatal(err)
	}
	if got := string(testutil.ReadFile(t, src)); got != "<a>2</a>" {
		t.Errorf("outbox file = %q, want the same-size rewrite left in place", got)
	}
}

func TestClaimRemoveFailureRetried(t *testing.T) {
	resetHooks(t)
	j, _ := openTest(t)
	src := outboxFile(t, "FV.xml", []byte("<Faktura/>"))
	removeFile = func(string) error { return &fs.PathError{Op: "remove", Err: fs.ErrPermission} }
	inv, err := claimOne(j, context.Background(), testNIP, src)
	if err != nil {
		t.Fatalf("Claim with failing remove: %v", err)
	}
	if !fileExists(t, src) {
		t.Fatal("outbox file removed although remove failed")
	}
	// The watcher lists the file again: no second record, and the removal is retried.
	removeFile = os.Remove
	_, err = claimOne(j, context.Background(), testNIP, src)
	if !errors.Is(err, ErrAlreadyClaimed) {
		t.Fatalf("second Claim: err = %v, want ErrAlreadyClaimed", err)
	}
	if fileExists(t, src) {
		t.Error("outbox file not removed on retry")
	}
	all, err := j.ByState(context.Background(), testNIP, allStates...)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != inv.ID {
		t.Errorf("records = %+v, want only invoice %d", all, inv.ID)
	}
}

func TestClaimConcurrentDistinctFiles(t *testing.T) {
	j, _ := openTest(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		src := outboxFile(t, fmt.Sprintf("FV_%02d.xml", i), fmt.Appendf(nil, "<Faktura>%d</Faktura>", i))
		wg.Go(func() {
			_, err := claimOne(j, context.Background(), testNIP, src)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	counts, err := j.CountByState(context.Background(), testNIP)
	if err != nil {
		t.Fatal(err)
	}
	if counts[StateClaimed] != n {
		t.Errorf("claimed = %d, want %d", counts[StateClaimed], n)
	}
}

func TestWriteSpoolFile(t *testing.T) {
	j, _ := openTest(t)
	path, err := j.WriteSpoolFile("7.registered.xml", []byte("<x/>"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != j.spoolDir || string(testutil.ReadFile(t, path)) != "<x/>" {
		t.Errorf("WriteSpoolFile wrote %s", path)
	}
	for _, bad := range []string{"", "..", "../x", "a/b", "7.orig", ".x.0123456789ab.tmp"} {
		if _, err := j.WriteSpoolFile(bad, nil); err == nil {
			t.Errorf("WriteSpoolFile(%q) succeeded, want error", bad)
		}
	}
}

func TestRecoverClaimsRemovesSpoolTemps(t *testing.T) {
	j, _ := openTest(t)
	inv := claimTest(t, j, "a.xml")
	// What a crash inside atomicfile.WriteFile leaves behind, next to a real spool copy.
	tmp := filepath.Join(j.spoolDir, ".2.orig.0123456789ab.tmp")
	if err := os.WriteFile(tmp, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.RecoverClaims(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fileExists(t, tmp) {
		t.Error("temporary spool file survived RecoverClaims")
	}
	if got := original(t, j, inv); string(got) != "<Faktura>a.xml</Faktura>" {
		t.Errorf("spool copy after RecoverClaims = %q", got)
	}
}

// claimCancelledAt claims a fresh outbox file with a context that *hook cancels when the claim
// reaches it.
func claimCancelledAt(t *testing.T, hook *func()) (j *Journal, src string, inv *Invoice, err error) {
	t.Helper()
	resetHooks(t)
	j, _ = openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	src = outboxFile(t, "FV.xml", []byte("<Faktura/>"))
	*hook = cancel
	inv, err = claimOne(j, ctx, testNIP, src)
	return j, src, inv, err
}

func TestClaimCancelledAfterClaimedStillSucceeds(t *testing.T) {
	_, src, inv, err := claimCancelledAt(t, &afterClaimedHook)
	if err != nil {
		t.Fatalf("Claim cancelled after the claim became durable: %v", err)
	}
	if inv.State != StateClaimed || fileExists(t, src) {
		t.Errorf("state %s, outbox exists %v", inv.State, fileExists(t, src))
	}
}

func TestClaimCancelledBeforeClaimedLeavesOutbox(t *testing.T) {
	j, src, _, err := claimCancelledAt(t, &afterReadHook)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim: err = %v, want context.Canceled", err)
	}
	if !fileExists(t, src) {
		t.Error("outbox file removed by a cancelled claim")
	}
	assertNoRecords(t, j)
	assertSpoolEmpty(t, j)
}

func TestClaimSameFileWhileClaiming(t *testing.T) {
	resetHooks(t)
	j, _ := openTest(t)
	data := []byte("<Faktura>once</Faktura>")
	src := outboxFile(t, "FV.xml", data)
	// A second claim of the same file arrives after the first is durable, before the outbox file
	// is removed.
	var second error
	afterClaimedHook = func() {
		afterClaimedHook = nil
		_, second = claimOne(j, context.Background(), testNIP, src)
	}
	inv, err := claimOne(j, context.Background(), testNIP, src)
	if err != nil {
		t.Fatalf("first Claim: %v", err)
	}
	if !errors.Is(second, ErrAlreadyClaimed) {
		t.Errorf("second Claim: err = %v, want ErrAlreadyClaimed", second)
	}
	all, err := j.ByState(context.Background(), "", allStates...)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].ID != inv.ID || fileExists(t, src) {
		t.Errorf("records %+v, outbox exists %v; want one claimed record and no outbox file", all, fileExists(t, src))
	}
}

// TestRecoverLegacyFileClaims: a journal from before schema version 3 kept spool copies as files,
// written between a claiming insert and the claimed mark. Interrupted claims of that kind are
// still settled: a complete copy makes the invoice claimed (and the outbox file goes), a torn one
// drops the record (the outbox file stays).
func TestRecoverLegacyFileClaims(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	complete, torn := []byte("<Faktura>complete</Faktura>"), []byte("<Faktura>torn</Faktura>")
	srcA, srcB := outboxFile(t, "A.xml", complete), outboxFile(t, "B.xml", torn)
	now, _ := encodeTime(time.Now())
	legacy := func(src string, data, onDisk []byte) int64 {
		res, err := j.db.Exec(`INSERT INTO invoices (nip, file_name, source_path, source_pending, orig_sha256,
			orig_size, state, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, 'claiming', ?, ?)`,
			testNIP, filepath.Base(src), src, hexSHA256(data), len(data), now, now)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		name := fmt.Sprintf("%d.orig", id)
		if err := os.WriteFile(filepath.Join(j.spoolDir, name), onDisk, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := j.db.Exec(`UPDATE invoices SET spool_path = ? WHERE id = ?`, "spool/"+name, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	idA := legacy(srcA, complete, complete)
	legacy(srcB, torn, torn[:5])
	if err := j.RecoverClaims(ctx); err != nil {
		t.Fatal(err)
	}
	inv, err := j.Get(ctx, idA)
	if err != nil || inv.State != StateClaimed || fileExists(t, srcA) {
		t.Fatalf("complete legacy claim: %+v %v, outbox file left %v", inv, err, fileExists(t, srcA))
	}
	if got := original(t, j, inv); !bytes.Equal(got, complete) {
		t.Errorf("legacy spool copy = %q", got)
	}
	all, _ := j.ByState(ctx, "", allStates...)
	if len(all) != 1 || !fileExists(t, srcB) {
		t.Errorf("torn legacy claim: %d records, outbox file kept %v", len(all), fileExists(t, srcB))
	}
}

// TestCopiesInJournalReadsManyAtOnce: the lot read gives each invoice exactly its claimed bytes,
// as Original does, across more than one query; an id without a copy is simply absent.
func TestCopiesInJournalReadsManyAtOnce(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	var ids []int64
	want := map[int64][]byte{}
	for i := range copiesLot + 3 {
		inv := claimTest(t, j, fmt.Sprintf("FV_%d.xml", i))
		ids = append(ids, inv.ID)
		want[inv.ID] = original(t, j, inv)
	}
	got, err := j.CopiesInJournal(ctx, append(ids, 999999))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CopiesInJournal read %d copies, want the %d Original returns, byte for byte", len(got), len(want))
	}
}
