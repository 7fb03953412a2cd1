package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
)

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
