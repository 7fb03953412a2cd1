package outboxclaim

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// TestFileBeingRenamedByAnotherDaemonIsSkipped: another daemon's claim holds the outbox file open
// for its rename (DELETE access, no DELETE sharing, as renameExclusive opens it). Our Take must not
// move it away under that handle: it is skipped as in use and stays where the other daemon's
// rename will find it. Once the handle is gone the file is ours at the next listing.
func TestFileBeingRenamedByAnotherDaemonIsSkipped(t *testing.T) {
	outbox := t.TempDir()
	p := filepath.Join(outbox, "FV_1.xml")
	write(t, p, "<Faktura/>")
	name, err := windows.UTF16PtrFromString(p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(name, windows.DELETE|windows.SYNCHRONIZE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := newClaimer(t, "host-aaaaaaaa")
	if got := c.Take([]string{p}); len(got) != 0 {
		t.Fatalf("Take = %v while another daemon holds the file for its rename", got)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the held file left the outbox: %v", err)
	}
	windows.CloseHandle(h)
	if got := c.Take([]string{p}); len(got) != 1 {
		t.Fatalf("Take = %v after the other handle closed, want the file", got)
	}
}

// TestFileOpenByItsWriterIsSkipped: the ERP still has the file open for writing (Go's and most
// programs' default sharing: read and write, not delete): the claim waits for it.
func TestFileOpenByItsWriterIsSkipped(t *testing.T) {
	outbox := t.TempDir()
	p := filepath.Join(outbox, "FV_2.xml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := newClaimer(t, "host-aaaaaaaa")
	if got := c.Take([]string{p}); len(got) != 0 {
		t.Fatalf("Take = %v while the writer holds the file", got)
	}
	f.Close()
	if got := c.Take([]string{p}); len(got) != 1 {
		t.Fatalf("Take = %v after the writer closed, want the file", got)
	}
}
