package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCompaniesDirIgnoresHiddenFiles: companies_dir holds "*.toml files" (README), and a hidden
// file is none: macOS writes an AppleDouble "._<name>" of binary data beside every file it copies
// to an SMB share, and a backup ".acme.toml" is no second acme. Read as companies they made the
// whole configuration fail (bad TOML, a NIP twice), so `run` would not start any company.
func TestCompaniesDirIgnoresHiddenFiles(t *testing.T) {
	path := writeConfig(t, "companies_dir = \"companies.d\"\n"+fleetConfig)
	dir := filepath.Join(filepath.Dir(path), "companies.d")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	gamma := "nip = \"3861610227\"\ncredentials = \"office\"\n"
	for name, body := range map[string]string{
		"gamma.toml":    gamma,
		".gamma.toml":   gamma,
		"._gamma.toml":  "\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ",
		"._gamma2.toml": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := mustLoad(t, path)
	if n := len(cfg.Companies()); n != 3 {
		t.Errorf("%d companies, want acme, beta and gamma", n)
	}
	if _, ok := cfg.CompanyNamed("gamma"); !ok {
		t.Error("gamma.toml is not loaded")
	}
}
