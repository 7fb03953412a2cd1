package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/spool"
)

// TestReadableCopiesBesideTheOutputs: with the default [render] settings, `send` leaves a PDF of
// each invoice and of its UPO next to .ksef.json; the PDF names the KSeF number and its KOD I
// decodes to exactly the qrCodeI link of .ksef.json.
func TestReadableCopiesBesideTheOutputs(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	e.dropSeries("FV_%d.xml", 2, 0, "PDF")
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	records := e.sentRecords()
	if len(records) != 2 {
		t.Fatalf("%d .ksef.json files, want 2", len(records))
	}
	for name, rec := range records {
		stem := strings.TrimSuffix(name, ".ksef.json")
		pdf := testutil.ReadFile(t, filepath.Join(e.sent, stem+".pdf"))
		text := strings.Join(testutil.PDFPages(t, pdf), " ")
		for _, want := range []string{rec.KsefNumber, rec.InvoiceNumber, testNIP} {
			if !strings.Contains(text, want) {
				t.Errorf("%s.pdf lacks %q", stem, want)
			}
		}
		if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{rec.QRCodeI}) {
			t.Errorf("%s.pdf QR codes %q, want exactly the qrCodeI link %q", stem, codes, rec.QRCodeI)
		}
		upoText := strings.Join(testutil.PDFPages(t, testutil.ReadFile(t, filepath.Join(e.sent, stem+".upo.pdf"))), " ")
		if !strings.Contains(upoText, rec.KsefNumber) {
			t.Errorf("%s.upo.pdf does not name the KSeF number %s", stem, rec.KsefNumber)
		}
	}
}

// TestRenderingOffWritesNoCopies: formats = [] turns rendering off.
func TestRenderingOffWritesNoCopies(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[render]\nformats = []\n")
	e.drop("FV_1.xml", invoice(1, "NOPDF"))
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if got := glob(t, e.sent, "*.pdf"); len(got) != 0 {
		t.Errorf("copies written although rendering is off: %v", got)
	}
}

// TestReadableCopiesInTheInbox: every pulled invoice gets <ksefNumber>.pdf beside its XML, naming
// its KSeF number, with KOD I built from the invoice's seller, issue date and bytes.
func TestReadableCopiesInTheInbox(t *testing.T) {
	e, seeded := newBoughtE2E(t, "", "")
	if code, out, errOut := e.runCmd(2*time.Minute, "pull", "-config", e.cfgPath); code != exitOK {
		t.Fatalf("pull: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range seeded {
		xmls := glob(t, e.inbox, "*/*/*/"+s.KsefNumber+".xml")
		if len(xmls) != 1 {
			t.Fatalf("%s: %d XML files in the inbox", s.KsefNumber, len(xmls))
		}
		base := strings.TrimSuffix(xmls[0], ".xml")
		var meta struct {
			IssueDate string `json:"issueDate"`
			Seller    struct {
				Nip string `json:"nip"`
			} `json:"seller"`
		}
		if err := json.Unmarshal(testutil.ReadFile(t, base+".json"), &meta); err != nil {
			t.Fatal(err)
		}
		issued, err := time.Parse("2006-01-02", meta.IssueDate)
		if err != nil {
			t.Fatal(err)
		}
		want := ksef.QRCodeI("https://qr-test.ksef.mf.gov.pl", meta.Seller.Nip, issued, ksef.InvoiceSHA256(testutil.ReadFile(t, xmls[0])))
		pdf := testutil.ReadFile(t, base+".pdf")
		if text := strings.Join(testutil.PDFPages(t, pdf), " "); !strings.Contains(text, s.KsefNumber) {
			t.Errorf("%s.pdf does not name its KSeF number", s.KsefNumber)
		}
		if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{want}) {
			t.Errorf("%s.pdf QR codes %q, want %q", s.KsefNumber, codes, want)
		}
	}
}

// TestCopiesOfAKilledPullAreWrittenByTheNextRun (issue 16's gap): a one-shot pull killed with -9
// while it writes its readable copies leaves invoices without a PDF; the next run finds them
// through the journal (readable_state.go) and writes every missing PDF, with the KOD I of the
// invoice's metadata.
func TestCopiesOfAKilledPullAreWrittenByTheNextRun(t *testing.T) {
	start := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	e := newLongE2E(t, ksefsim.Options{HWMLag: time.Second}, fmt.Sprintf("[pull]\nsubjects = [\"cost\"]\nstart = %q\n", start.Format(time.RFC3339)))
	const n = 300
	var seeds []ksefsim.SeedInvoice
	for i := range n {
		seeds = append(seeds, ksefsim.SeedInvoice{SellerNIP: "3861610227", BuyerNIP: testNIP,
			PermanentStorageDate: time.Now().Add(-3*time.Hour + time.Duration(i)*time.Second)})
	}
	if _, err := e.sim.Seed(seeds...); err != nil {
		t.Fatal(err)
	}
	cmd, lines := startBinary(t, "pull", "-config", e.cfgPath)
	go drainScanner(lines)
	// Killed (SIGKILL: nothing flushed or saved) as soon as the journal records every delivery:
	// the copies, rendered after each batch at ~15 ms of CPU each, are not all there yet, and the
	// next pull will not deliver these invoices again (that path renders its copies anyway).
	eventually(t, "every delivery recorded in the journal", 2*time.Minute, func() bool {
		return deliveredCount(e) == n
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	xmls := glob(t, e.inbox, "*/*/*/*.xml")
	if len(xmls) != n {
		t.Fatalf("%d invoices delivered before the kill, want %d", len(xmls), n)
	}
	missing := 0
	for _, x := range xmls {
		if len(globQuiet(filepath.Dir(x), strings.TrimSuffix(filepath.Base(x), ".xml")+".pdf")) == 0 {
			missing++
		}
	}
	if missing == 0 {
		t.Fatal("every PDF was written before the kill: the test proves nothing")
	}
	t.Logf("%d of %d PDFs missing after the kill", missing, n)

	code, out, errOut := e.runCmd(3*time.Minute, "pull", "-config", e.cfgPath)
	if code != exitOK {
		t.Fatalf("second pull: exit %d\n%s%s", code, out, errOut)
	}
	for i, x := range xmls {
		base := strings.TrimSuffix(x, ".xml")
		pdf := testutil.ReadFile(t, base+".pdf")
		if i%50 != 0 { // decoding every PDF is slow on a shared machine
			continue
		}
		var meta ksef.InvoiceMetadata
		if err := json.Unmarshal(testutil.ReadFile(t, base+".json"), &meta); err != nil {
			t.Fatal(err)
		}
		want := ksef.QRCodeI("https://qr-test.ksef.mf.gov.pl", meta.Seller.Nip, issueDay(t, meta.IssueDate), ksef.InvoiceSHA256(testutil.ReadFile(t, x)))
		if codes := testutil.PDFQRCodes(t, pdf); !slices.Equal(codes, []string{want}) {
			t.Errorf("%s.pdf QR codes %q, want %q", base, codes, want)
		}
	}
}

func issueDay(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// deliveredCount is how many deliveries the journal records, read as `status` reads it.
func deliveredCount(e *e2e) (n int) {
	_ = withJournal(filepath.Join(e.dir, "state"), func(ctx context.Context, j *spool.Journal) error {
		ds, _, err := j.DeliveredSince(ctx, testNIP, time.Time{})
		n = len(ds)
		return err
	})
	return n
}

// TestCopiesOfAKilledDaemonAreWrittenAfterRestart (issue 16's gap): the daemon is killed with -9
// once the journal records every sent invoice done but before its background renderer has written
// their copies; the restarted daemon writes every missing PDF of the invoices and their UPOs.
func TestCopiesOfAKilledDaemonAreWrittenAfterRestart(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	const n = 60
	for i := range n {
		e.drop(fmt.Sprintf("FV_%02d.xml", i), invoice(i, "KILL"))
	}
	first, lines := e.daemon()
	go drainScanner(lines)
	eventually(t, "every invoice recorded done", 3*time.Minute, func() bool { return doneCount(e) == n })
	_ = first.Process.Kill() // SIGKILL
	_ = first.Wait()
	owed := func() int {
		missing := 0
		for _, j := range glob(t, e.sent, "*.ksef.json") {
			stem := strings.TrimSuffix(j, ".ksef.json")
			for _, suffix := range []string{".pdf", ".upo.pdf"} {
				if len(globQuiet(filepath.Dir(stem), filepath.Base(stem)+suffix)) == 0 {
					missing++
				}
			}
		}
		return missing
	}
	before := owed()
	if before == 0 {
		t.Fatal("every copy was written before the kill: the test proves nothing")
	}
	t.Logf("%d of %d copies missing after the kill", before, 2*n)
	_, lines = e.daemon()
	keepLog(t, lines)
	eventually(t, "every copy written by the restarted daemon", 3*time.Minute, func() bool { return owed() == 0 })
}

// doneCount is how many sent invoices the journal records done, read as `status` reads it.
func doneCount(e *e2e) (n int) {
	_ = withJournal(filepath.Join(e.dir, "state"), func(ctx context.Context, j *spool.Journal) error {
		done, err := j.ByState(ctx, testNIP, spool.StateDone)
		n = len(done)
		return err
	})
	return n
}
