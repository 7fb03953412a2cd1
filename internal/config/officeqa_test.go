package config

import (
	"os"
	"path/filepath"
	"strings"
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

// TestCompanyFoldersAreNotAnotherCompanysOutbox: one company's sent, error, inbox or qr folder
// must not be another company's outbox. check-config accepted it, and the daemon then took the
// first company's registered invoices and UPOs out of its sent/ and sent (or rejected) them as the
// second company's: outputs crossing companies.
func TestCompanyFoldersAreNotAnotherCompanysOutbox(t *testing.T) {
	for _, key := range []string{"sent", "error", "inbox", "qr"} {
		t.Run(key, func(t *testing.T) {
			text := fleetConfig + "\n[[company]]\nname = \"gamma\"\nnip = \"3861610227\"\ncredentials = \"office\"\n" +
				"[company.folders]\n" + key + " = \"srv/acme/outbox\"\n"
			_, err := Load(writeConfig(t, text))
			want := `company "gamma": folders.` + key + `: is the outbox of company "acme"`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load = %v, want %s", err, want)
			}
		})
	}
}
