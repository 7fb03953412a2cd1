package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

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
		code, _, _ := runCLI(t, "", nil, "get", "-config", e.cfgPath, "-ksef-number", n, "-out", e.dir)
		if code != exitFatal {
			t.Errorf("exit %d, want %d", code, exitFatal)
		}
		if _, err := os.Stat(filepath.Join(e.dir, n+".xml")); !os.IsNotExist(err) {
			t.Error("a failed get left a file")
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
