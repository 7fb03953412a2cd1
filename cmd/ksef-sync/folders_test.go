package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/config"
)

// TestFolderRuleSharedByCheckConfigAndDoctor: check-config and doctor judge folders by one rule.
// A missing outbox is a problem for both (the ERP fills it; we cannot create it); sent, error and
// state are created at first use when their parent exists; the inbox counts only when pull uses it;
// the fix spells shares as README does (//server/share).
func TestFolderRuleSharedByCheckConfigAndDoctor(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, dir, "token.txt", "20251201-EC-0000000000-0000000000-00|nip-5265877635|"+strings.Repeat("a", 64)+"\n")
	cfgText := strings.Replace(testConfig("http://127.0.0.1:1/v2", opNIP, tokenFileAuth),
		`inbox = "inbox"`, `inbox = "/proc/not-used-without-pull"`, 1)
	path := writeTestFile(t, dir, "config.toml", cfgText)

	code, out, errOut := runCLI(t, "", nil, "check-config", "-config", path)
	if code != exitFatal {
		t.Fatalf("check-config with a missing outbox: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"folders.outbox", "the folder does not exist", "//server/share"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `\\server`) {
		t.Errorf("check-config suggests a backslash share path, README says //server/share:\n%s", errOut)
	}
	doctor := folderFindings(mustLoad(t, path))
	if !hasProblem(doctor, "folders.outbox") {
		t.Errorf("doctor does not flag the missing outbox: %+v", doctor)
	}

	if err := os.Mkdir(filepath.Join(dir, "outbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "", nil, "check-config", "-config", path); code != exitOK {
		t.Fatalf("check-config with the outbox present (sent, error, state created later; inbox unused): exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range folderFindings(mustLoad(t, path)) {
		if !f.ok() {
			t.Errorf("doctor flags %s although check-config accepts it: %s", f.Check, f.Problem)
		}
		if strings.HasPrefix(f.Check, "folders.inbox") {
			t.Errorf("doctor checks the inbox although pull is off: %+v", f)
		}
	}
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, code := loadConfig(&cliEnv{stdout: os.Stdout, stderr: os.Stderr}, path)
	if code != exitOK {
		t.Fatalf("config %s does not load", path)
	}
	return cfg
}

func hasProblem(fs []finding, key string) bool {
	for _, f := range fs {
		if strings.HasPrefix(f.Check, key) && !f.ok() {
			return true
		}
	}
	return false
}
