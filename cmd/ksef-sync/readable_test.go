package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
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
	e.sendWants(exitOK, 2*time.Minute)
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
	e.sendWants(exitOK, 2*time.Minute)
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
	startLoggedDaemon(t, e.cfgPath)
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

// TestGetCommand fetches a received and an issued invoice from the simulator by KSeF number.
func TestGetCommand(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "[render]\nformats = [\"pdf\", \"html\"]\n")
	ps := time.Now().Add(-time.Hour)
	seeded, err := e.sim.Seed(
		ksefsim.SeedInvoice{SellerNIP: pullOtherNIP, BuyerNIP: testNIP, PermanentStorageDate: ps, InvoiceNumber: "FZ/1/2026"},
		ksefsim.SeedInvoice{SellerNIP: testNIP, BuyerNIP: pullOtherNIP, PermanentStorageDate: ps, InvoiceNumber: "FS/7/2026"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seeded {
		t.Run([]string{"received", "issued"}[i], func(t *testing.T) {
			out := filepath.Join(e.dir, "got")
			code, stdout, stderr := runCLI(t, "", nil, "get", "-config", e.cfgPath, "-ksef-number", s.KsefNumber, "-out", out)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			base := filepath.Join(out, s.KsefNumber)
			xml, err := os.ReadFile(base + ".xml")
			if err != nil || !bytes.Equal(xml, s.XML) {
				t.Fatalf("XML differs from what KSeF holds (%v)", err)
			}
			var meta struct {
				KsefNumber, InvoiceNumber, InvoiceHash, MetadataSource string
			}
			b, err := os.ReadFile(base + ".json")
			if err != nil || json.Unmarshal(b, &meta) != nil {
				t.Fatalf("metadata: %v: %s", err, b)
			}
			if meta.KsefNumber != s.KsefNumber || meta.InvoiceHash != s.InvoiceHash || meta.MetadataSource != "" {
				t.Errorf("metadata %+v, want KSeF's record of %s", meta, s.KsefNumber)
			}
			pdf, err := os.ReadFile(base + ".pdf")
			if err != nil {
				t.Fatal(err)
			}
			if text := testutil.PDFText(t, pdf); !strings.Contains(text, s.KsefNumber) {
				t.Errorf("PDF lacks the KSeF number")
			}
			if _, err := os.Stat(base + ".html"); err != nil {
				t.Errorf("formats has html but: %v", err)
			}
			if !strings.Contains(stdout, base+".pdf") {
				t.Errorf("stdout %q does not list the PDF", stdout)
			}
		})
	}
	t.Run("unknown number", func(t *testing.T) {
		first32 := "5265877635-20260201-0200A0D6723E"
		n := first32 + "-" + ksef.KsefNumberCRC(first32)
		code, _, stderr := runCLI(t, "", nil, "get", "-config", e.cfgPath, "-ksef-number", n, "-out", e.dir)
		if code != exitFatal || !strings.Contains(stderr, "KSeF has no invoice "+n) {
			t.Errorf("exit %d, want %d, saying KSeF has no such invoice: %s", code, exitFatal, stderr)
		}
		if _, err := os.Stat(filepath.Join(e.dir, n+".xml")); !os.IsNotExist(err) {
			t.Error("a failed get left a file")
		}
	})
	t.Run("numbered but not stored yet", func(t *testing.T) {
		// KSeF serves an invoice by number only once stored: 21165 until then (open-api.json).
		fresh, err := e.sim.Seed(ksefsim.SeedInvoice{SellerNIP: pullOtherNIP, BuyerNIP: testNIP, PermanentStorageDate: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		n := fresh[0].KsefNumber
		code, _, stderr := runCLI(t, "", nil, "get", "-config", e.cfgPath, "-ksef-number", n, "-out", e.dir)
		if code != exitFatal || !strings.Contains(stderr, "not stored it for download yet; run get again in a few minutes") {
			t.Errorf("exit %d, want %d, saying to try again later: %s", code, exitFatal, stderr)
		}
	})
	t.Run("other company", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", nil, "get", "-config", e.cfgPath, "-company", pullOtherNIP, "-ksef-number", seeded[0].KsefNumber)
		if code != exitUsage || !strings.Contains(stderr, testNIP) {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("bad number", func(t *testing.T) {
		if code, _, _ := runCLI(t, "", nil, "get", "-config", e.cfgPath, "-ksef-number", "12345"); code != exitUsage {
			t.Errorf("exit %d, want %d", code, exitUsage)
		}
	})
}

const renderUPO = `<?xml version="1.0" encoding="utf-8"?>
<Potwierdzenie xmlns="http://upo.schematy.mf.gov.pl/KSeF/v4-3">
<NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>
<NumerReferencyjnySesji>20260201-SO-2F0C3D1E2A-1234567890-AB</NumerReferencyjnySesji>
<Uwierzytelnienie><IdKontekstu><Nip>5265877635</Nip></IdKontekstu><SkrotDokumentuUwierzytelniajacego>kyqH+QUgP8ATWd/95IY632mP4uqibwG66Oqclq9+qno=</SkrotDokumentuUwierzytelniajacego></Uwierzytelnienie>
<NazwaStrukturyLogicznej>Schemat_FA(3)_v1-0E.xsd</NazwaStrukturyLogicznej><KodFormularza>FA (3)</KodFormularza>
<Dokument><NipSprzedawcy>5265877635</NipSprzedawcy><NumerKSeFDokumentu>5265877635-20260201-0200A0D6723E-C2</NumerKSeFDokumentu>
<NumerFaktury>FA/GRQMB-R1/05/2025</NumerFaktury><DataWystawieniaFaktury>2026-02-01</DataWystawieniaFaktury>
<DataPrzeslaniaDokumentu>2026-02-01T11:05:40.841+01:00</DataPrzeslaniaDokumentu><DataNadaniaNumeruKSeF>2026-02-01T11:05:41.045+01:00</DataNadaniaNumeruKSeF>
<SkrotDokumentu>GZMGNVzs3krF6URKgvaw77OOeG3nJ+WGziT5xguliQ8=</SkrotDokumentu><TrybWysylki>Online</TrybWysylki></Dokument>
</Potwierdzenie>`

func TestRenderCommand(t *testing.T) {
	dir := t.TempDir()
	issue := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	xml := samples.Invoice(0, testNIP, issue, "R1")
	in := writeTestFile(t, dir, "inv.xml", string(xml))
	upo := writeTestFile(t, dir, "inv.upo.xml", renderUPO)

	t.Run("pdf with UPO and KOD I", func(t *testing.T) {
		out := filepath.Join(dir, "out", "inv.pdf")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "", nil, "render", "-in", in, "-upo", upo, "-env", "test", "-out", out)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, p := range []string{out, filepath.Join(dir, "out", "inv.upo.pdf")} {
			b, err := os.ReadFile(p)
			if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Errorf("%s: not a PDF (%v)", p, err)
			}
			if !strings.Contains(stdout, p) {
				t.Errorf("stdout does not name %s: %q", p, stdout)
			}
		}
		// The KSeF number came from the UPO, the KOD I link from the file's own hash.
		b, _ := os.ReadFile(out)
		want := ksef.QRCodeI("https://qr-test.ksef.mf.gov.pl", testNIP, issue, ksef.InvoiceSHA256(xml))
		text := testutil.PDFText(t, b)
		for _, w := range []string{"5265877635-20260201-0200A0D6723E-C2", "FA/GRQMB-R1/05/2025"} {
			if !strings.Contains(text, w) {
				t.Errorf("PDF text lacks %q", w)
			}
		}
		if !strings.Contains(strings.ReplaceAll(text, "\n", ""), want) {
			t.Errorf("PDF text lacks the KOD I link %s", want)
		}
	})
	t.Run("html in English", func(t *testing.T) {
		out := filepath.Join(dir, "inv.html")
		if code, _, stderr := runCLI(t, "", nil, "render", "-in", in, "-lang", "en", "-ksef-number", "5265877635-20260201-0200A0D6723E-C2", "-out", out); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		b, _ := os.ReadFile(out)
		for _, w := range []string{"<!DOCTYPE html>", "Seller", "5265877635-20260201-0200A0D6723E-C2"} {
			if !bytes.Contains(b, []byte(w)) {
				t.Errorf("HTML lacks %q", w)
			}
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"render", "-in", in},
			{"render", "-out", filepath.Join(dir, "x.pdf")},
			{"render", "-in", in, "-out", filepath.Join(dir, "x.docx")},
			{"render", "-in", in, "-lang", "de", "-out", filepath.Join(dir, "x.pdf")},
		} {
			if code, _, _ := runCLI(t, "", nil, args...); code != exitUsage {
				t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
			}
		}
	})
	t.Run("not an invoice", func(t *testing.T) {
		bad := writeTestFile(t, dir, "bad.xml", "<Other/>")
		if code, _, stderr := runCLI(t, "", nil, "render", "-in", bad, "-out", filepath.Join(dir, "bad.pdf")); code != exitFatal || !strings.Contains(stderr, "Faktura") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "bad.pdf")); !os.IsNotExist(err) {
			t.Error("a failed render left a file")
		}
	})
}
