// Package spooltest gives the tests of the packages that read the journal a real one to work on,
// the way net/http/httptest gives them a real server.
package spooltest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/spool"
)

// Open opens (creating) the journal in dir and closes it when the test ends. Close is idempotent,
// so a test that needs the lock back earlier may still close it itself.
func Open(t testing.TB, dir string) *spool.Journal {
	t.Helper()
	j, err := spool.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	return j
}

// Claim writes content to path and claims the file for nip, as the engine does with what the
// watcher reports; it returns the claimed invoice.
func Claim(t testing.TB, j *spool.Journal, nip, path, content string) *spool.Invoice {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	invs, errs := j.ClaimMany(context.Background(), nip, []string{path})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	return invs[0]
}

// ReadyOffline opens a journal in dir/state holding one invoice, FV/1 of nip, validated and
// waiting to be sent, issued offline24 on issueDate: the start of every offline-deadline test.
func ReadyOffline(t testing.TB, dir, nip, issueDate string) (*spool.Journal, *spool.Invoice) {
	t.Helper()
	j := Open(t, filepath.Join(dir, "state"))
	inv := Claim(t, j, nip, filepath.Join(dir, "FV_1.xml"), "<Faktura>1</Faktura>")
	err := j.MarkReady(context.Background(), time.Now(), []spool.Prepared{{ID: inv.ID, RegisteredHash: "h",
		InvoiceNumber: "FV/1", IssueDate: issueDate, Offline: spool.Offline{Mode: "offline24"}}})
	if err != nil {
		t.Fatal(err)
	}
	return j, inv
}
