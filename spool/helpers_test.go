package spool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

const testNIP = "5265877635"

var allStates = []State{StateClaiming, StateClaimed, StateReady, StateSending, StateSubmitted,
	StateAccepted, StateRejected, StateDone}

// openTest opens a journal in a fresh state folder and closes it at the end of the test.
func openTest(t testing.TB) (*Journal, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	j, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j, dir
}

// outboxFile writes data as a file in a fresh outbox folder and returns its path.
func outboxFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileExists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// claimTest claims a new outbox file and returns the invoice.
func claimTest(t testing.TB, j *Journal, name string) *Invoice {
	t.Helper()
	inv, err := claimOne(j, context.Background(), testNIP, outboxFile(t, name, []byte("<Faktura>"+name+"</Faktura>")))
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return inv
}

// claimOne claims one outbox file the way production does (ClaimMany with one path).
func claimOne(j *Journal, ctx context.Context, nip, path string) (*Invoice, error) {
	invs, errs := j.ClaimMany(ctx, nip, []string{path})
	return invs[0], errs[0]
}

// move sets up a record in state to (from from) without consulting the state machine, or fails the
// test. Tests of the state machine itself use the named operations.
func move(t testing.TB, j *Journal, id int64, from, to State, mutate func(*Invoice)) {
	t.Helper()
	if err := j.transition(context.Background(), id, []State{from}, to, mutate); err != nil {
		t.Fatalf("transition %d %s→%s: %v", id, from, to, err)
	}
}

var (
	origWriteFileAtomic = writeFileAtomic
	origInsertSpoolCopy = insertSpoolCopy
	origSyncDir         = syncDir
	origRemoveFile      = removeFile
)

// restoreHooks puts every failure-injection variable back to the real implementation.
func restoreHooks() {
	writeFileAtomic, syncDir, removeFile = origWriteFileAtomic, origSyncDir, origRemoveFile
	insertSpoolCopy = origInsertSpoolCopy
	afterReadHook, afterClaimedHook = nil, nil
}

// resetHooks restores the failure-injection variables when the test ends.
func resetHooks(t testing.TB) {
	t.Helper()
	t.Cleanup(restoreHooks)
}

func writeTestFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

// original reads inv's spool copy through the journal, or fails the test.
func original(t testing.TB, j *Journal, inv *Invoice) []byte {
	t.Helper()
	b, err := j.Original(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
