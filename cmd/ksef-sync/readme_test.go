package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/ksef-sync/ksef-sync/internal/invoicexml"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	sectionRE = regexp.MustCompile(`^\[([a-z_]+)\]\s*$`)
	// A commented-out table of the many-companies example ("# [[company]]", "# [company.auth]").
	commentedSectionRE = regexp.MustCompile(`^#\s*\[\[?([a-z_.]+)\]\]?\s*$`)
	// A key line, also when commented out: the example documents optional keys that way.
	keyRE = regexp.MustCompile(`^#?\s*([a-z][a-z0-9_]*)\s*=`)
)

// exampleKeys lists "section.key" for every key of config.example.toml, commented-out ones included,
// and "key" for the top-level keys before the first table.
func exampleKeys(t *testing.T, example string) []string {
	t.Helper()
	var keys []string
	section := ""
	for line := range strings.Lines(example) {
		line = strings.TrimSpace(line)
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if m := commentedSectionRE.FindStringSubmatch(line); m != nil {
			// Only [[company]]'s own keys are new; its sub-tables, [credentials.NAME] and the
			// repeated defaults take the keys of tables documented above.
			section = "-"
			if m[1] == "company" {
				section = "company"
			}
			continue
		}
		if section == "-" {
			continue
		}
		if m := keyRE.FindStringSubmatch(line); m != nil {
			keys = append(keys, strings.TrimPrefix(section+"."+m[1], "."))
		}
	}
	// Cross-check the line scan against a real TOML decode of the active keys.
	var decoded map[string]any
	if _, err := toml.Decode(example, &decoded); err != nil {
		t.Fatal(err)
	}
	for sec, v := range decoded {
		kv, ok := v.(map[string]any)
		if !ok { // a top-level key
			if !hasString(keys, sec) {
				t.Errorf("the scan missed the top-level key %s", sec)
			}
			continue
		}
		for k := range kv {
			if !hasString(keys, sec+"."+k) {
				t.Errorf("the scan missed %s.%s", sec, k)
			}
		}
	}
	return keys
}

func hasString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestReadmeConfigTable(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	keys := exampleKeys(t, readRepoFile(t, "config.example.toml"))
	if len(keys) < 40 {
		t.Fatalf("only %d keys found in config.example.toml: the scan is broken", len(keys))
	}
	for _, k := range keys {
		if !strings.Contains(readme, "| `"+k+"` |") {
			t.Errorf("README's configuration table has no row for `%s`", k)
		}
	}
	// And the other way: no row for a key the example (and so the program) does not know.
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|").FindAllStringSubmatch(readme, -1) {
		if !hasString(keys, m[1]) {
			t.Errorf("README documents `%s`, which config.example.toml does not have", m[1])
		}
	}
}

func TestReadmeCommands(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	var rows []string
	for line := range strings.Lines(readme) {
		if strings.HasPrefix(line, "| `ksef-sync ") {
			rows = append(rows, line)
		}
	}
	if len(rows) == 0 {
		t.Fatal("README has no command table")
	}
	for _, c := range commands() {
		word := regexp.MustCompile(`(ksef-sync |\\\|)` + regexp.QuoteMeta(c.name) + `[ |\x60\\]`)
		found := false
		for _, r := range rows {
			if word.MatchString(r) {
				found = true
			}
		}
		if !found {
			t.Errorf("README's command table does not mention `ksef-sync %s`", c.name)
		}
	}
}

// adminPathRE finds the admin API's paths in the simulator's source: the switch cases
// ("POST /admin/seed") and the exact paths it compares with ("/admin/latarnia").
var adminPathRE = regexp.MustCompile(`"(?:GET |POST )?(/admin/[a-z0-9/-]*[a-z0-9])"`)

// TestSimulatorAdminAPIDocumented: docs/simulator.md, linked from README, documents every /admin
// control the simulator serves, so a new control cannot stay documented only in Go (issue 11
// item 11).
func TestSimulatorAdminAPIDocumented(t *testing.T) {
	if !strings.Contains(readRepoFile(t, "README.md"), "(docs/simulator.md)") {
		t.Error("README does not link docs/simulator.md")
	}
	doc := readRepoFile(t, "docs/simulator.md")
	files, err := filepath.Glob("../../ksef/ksefsim/*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range adminPathRE.FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
		}
	}
	if len(seen) < 10 {
		t.Fatalf("found only %d admin paths in ksef/ksefsim: the scan is broken (%v)", len(seen), seen)
	}
	for path := range seen {
		if !strings.Contains(doc, path+"`") {
			t.Errorf("docs/simulator.md does not document %s: add a row \"| `METHOD %s` | parameters | effect |\"", path, path)
		}
	}
}

// TestReadmeTroubleshooting: the troubleshooting section quotes the messages a bookkeeper or an
// admin really sees (each still in the source, so a changed message fails here until the README
// follows) and explains every validation code and every KSeF code the error files carry (issue 11
// item 11).
func TestReadmeTroubleshooting(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	start := strings.Index(readme, "\n## Troubleshooting\n")
	if start < 0 {
		t.Fatal("README has no Troubleshooting section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	source := goSources(t, "../..")
	for _, quoted := range []string{
		"state folder is in use by another ksef-sync process",
		"the KSeF token is invalid, revoked, inactive or belongs to another NIP",
		"the challenge was invalid or expired",
		"blocked by KSeF's firewall, incident",
		"rate limited by KSeF",
		"does not answer",
		"queued invoices stay safe",
		"KSeF is unavailable (HTTP",
		"outbox directory does not exist; retrying every few seconds",
		"not readable (permission denied)",
	} {
		if !strings.Contains(section, quoted) {
			t.Errorf("Troubleshooting does not quote %q", quoted)
		}
		if !strings.Contains(source, quoted) {
			t.Errorf("Troubleshooting quotes %q, which the program no longer says", quoted)
		}
	}
	codes := []string{invoicexml.CodeEmpty, invoicexml.CodeNotXML, invoicexml.CodeNotFA3, invoicexml.CodeWrongSellerNIP,
		invoicexml.CodeTooLarge, invoicexml.CodeProcessingInstruction, invoicexml.CodeForbiddenCharacter,
		invoicexml.CodeBadEncoding, invoicexml.CodeMissingField, invoicexml.CodeDoctype, invoicexml.CodeSchema,
		invoicexml.CodeUnsupportedForm, invoicexml.CodeFutureIssueDate}
	for _, c := range codes {
		if !strings.Contains(section, "`"+c+"`") {
			t.Errorf("Troubleshooting does not explain the validation code %s", c)
		}
	}
	for _, c := range []string{"410", "415", "430", "435", "440", "450", "500"} {
		if !strings.Contains(section, "`"+c+"`") {
			t.Errorf("Troubleshooting does not explain KSeF's code %s", c)
		}
	}
}

// goSources is the text of every non-test Go file under root.
func goSources(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := os.ReadFile(p)
		b.Write(src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
