package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Tool finds an independent Debian tool a test checks our output with (pdftotext, zbarimg, …).
// Missing on a developer's machine it skips the test; on CI (CI set) it fails, so that a check can
// never silently stop running.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found: CI must install the Debian package %s", name, debianPackage)
		}
		t.Skipf("%s not found (apt-get install %s)", name, debianPackage)
	}
	return p
}

// FileNames lists the names in dir, sorted.
func FileNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// PDFText extracts a PDF's text with pdftotext, as it prints it (pages end in a form feed).
func PDFText(t testing.TB, pdf []byte) string {
	t.Helper()
	bin := Tool(t, "pdftotext", "poppler-utils")
	in := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// PDFPages extracts the text of every page with pdftotext, white space folded to single spaces.
func PDFPages(t testing.TB, pdf []byte) []string {
	t.Helper()
	pages := strings.Split(strings.TrimRight(PDFText(t, pdf), "\f\n"), "\f")
	for i, p := range pages {
		pages[i] = strings.Join(strings.Fields(p), " ")
	}
	return pages
}

// QRCodes decodes every QR code in a picture with zbarimg, a reader independent of the library that
// drew it.
func QRCodes(t testing.TB, png string) []string {
	t.Helper()
	bin := Tool(t, "zbarimg", "zbar-tools")
	// Only QR symbols: with every symbology on, zbar now and then also "finds" a short linear barcode
	// in a QR code's modules (a CI run read "284072" beside the KOD II link).
	out, _ := exec.Command(bin, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", png).Output() // exit 4: no code in the picture
	var codes []string
	for _, s := range strings.Split(strings.TrimRight(string(out), "\r\n"), "\n") {
		if s = strings.TrimRight(s, "\r"); s != "" {
			codes = append(codes, s)
		}
	}
	return codes
}

// PDFQRCodes rasterises every page of a PDF with pdftoppm and decodes the QR codes on them, sorted.
func PDFQRCodes(t testing.TB, pdf []byte) []string {
	t.Helper()
	ppm := Tool(t, "pdftoppm", "poppler-utils")
	dir := t.TempDir()
	in := filepath.Join(dir, "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(ppm, "-r", "150", "-png", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	var codes []string
	for _, png := range pngs {
		codes = append(codes, QRCodes(t, png)...)
	}
	sort.Strings(codes)
	return codes
}
