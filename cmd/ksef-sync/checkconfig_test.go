package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// opNIP is a NIP with a valid check digit; the simulator's default context.
const opNIP = "5265877635"

// runCLI runs one command in-process, as main would, and returns its exit code and output.
func runCLI(t *testing.T, stdin string, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	// Goroutine-safe, as the process's own stdout and stderr are: a command's background work (a
	// company's start-up fetch of KSeF's limits) logs to stderr while the command itself writes.
	var out, errb testutil.LogBuffer
	env := &cliEnv{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin), getenv: getenv}
	code := dispatch(context.Background(), env, args)
	return code, out.String(), errb.String()
}

// writeTestFile writes data to dir/name and returns the path.
func writeTestFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig is how the test configs begin: [ksef] for the test environment at url (left out when
// empty) with nip, [auth] with the given lines, and [folders] naming the five standard folders
// (outbox, sent, error, inbox, state) next to the config.
func testConfig(url, nip, auth string) string {
	ksef := "environment = \"test\"\n"
	if url != "" {
		ksef += fmt.Sprintf("url = %q\n", url)
	}
	ksef += fmt.Sprintf("nip = %q\n", nip)
	return "[ksef]\n" + ksef + "[auth]\n" + auth + "\n" + `[folders]
outbox = "outbox"
sent = "sent"
error = "error"
inbox = "inbox"
state = "state"
`
}

// tokenFileAuth is the [auth] of a config that signs in with the token in token.txt.
const tokenFileAuth = "method = \"token\"\ntoken_file = \"token.txt\""

// baseConfig is a complete, valid config; the table below breaks one thing at a time. Every
// section is present so a case can add a key by replacing the section header.
var baseConfig = testConfig("http://127.0.0.1:1/v2", opNIP, tokenFileAuth) + `
[send]
mode = "auto"
poll_interval = "2s"

[pull]
enabled = true
schedule = "*/15 * * * *"
subjects = ["cost", "sales"]
layout = "{subject}/{yyyy}/{mm}/{ksefNumber}"

[log]
level = "info"
`

func TestCheckConfigValid(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, dir, "token.txt", "tok")
	if err := os.Mkdir(filepath.Join(dir, "outbox"), 0o755); err != nil { // the ERP's folder must exist
		t.Fatal(err)
	}
	path := writeTestFile(t, dir, "config.toml", baseConfig)
	code, out, errOut := runCLI(t, "", nil, "check-config", "-config", path)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if want := "OK (environment test, NIP " + opNIP + ", auth token)"; !strings.Contains(out, want) {
		t.Errorf("stdout %q does not contain %q", out, want)
	}
}

func TestCheckConfigProblems(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // one replacement in baseConfig
		key      string // the key stderr must name
		fix      string // the advice on the key's line
	}{
		{"unknown key with did-you-mean", "[send]\n", "[send]\ngather_windw = \"2s\"\n",
			"send.gather_windw", "did you mean send.gather_window?"},
		{"key in the wrong table", "[send]\n", "[send]\npatterns = [\"*.xml\"]\n",
			"send.patterns", "did you mean watch.patterns?"},
		{"bad NIP checksum", `nip = "5265877635"`, `nip = "5265877636"`,
			"ksef.nip", "wrong check digit: check for a typo"},
		{"NIP with dashes", `nip = "5265877635"`, `nip = "526-587-76-35"`,
			"ksef.nip", "without dashes"},
		{"missing outbox", "outbox = \"outbox\"\n", "",
			"folders.outbox", "missing: set the folder path"},
		{"state on a UNC path", `state = "state"`, `state = "//fileserver/ksef/state"`,
			"folders.state", "state must be on a local disk"},
		{"inline key password", "[auth]\n", "[auth]\nkey_password = \"s3cr3t-Pa55\"\n",
			"auth.key_password", "use key_password_env or key_password_file"},
		{"inline token", "[auth]\n", "[auth]\ntoken = \"s3cr3t-Pa55\"\n",
			"auth.token", "use token_file or token_env"},
		{"bad duration", `poll_interval = "2s"`, `poll_interval = "2 seconds"`,
			"send.poll_interval", `e.g. "30s", "5m" or "1h"`},
		{"bad cron schedule", `schedule = "*/15 * * * *"`, `schedule = "every quarter hour"`,
			"pull.schedule", `use e.g. "*/15 * * * *" or "@every 15m"`},
		{"unknown pull subject", `subjects = ["cost", "sales"]`, `subjects = ["cost", "purchases"]`,
			"pull.subjects", `"purchases" is not allowed: use "cost", "sales", "subject3", "authorized"`},
		{"layout without ksefNumber", `layout = "{subject}/{yyyy}/{mm}/{ksefNumber}"`, `layout = "{subject}/{yyyy}/{mm}"`,
			"pull.layout", "must contain {ksefNumber}"},
		{"environment invalid", `environment = "test"`, `environment = "production"`,
			"ksef.environment", `use "test", "demo", "prod"`},
		{"token_file and token_env both set", "token_file = \"token.txt\"\n", "token_file = \"token.txt\"\ntoken_env = \"KSEF_TOKEN\"\n",
			"auth.token_env", "set either token_file or token_env, not both"},
		{"mode invalid", `mode = "auto"`, `mode = "fast"`,
			"send.mode", `use "auto", "online", "batch"`},
		{"token file missing", `token_file = "token.txt"`, `token_file = "no-such-token.txt"`,
			"auth.token_file", "no such file or directory"},
		{"inbox missing while pull is enabled", "inbox = \"inbox\"\n", "",
			"folders.inbox", "missing: set the folder path"},
		{"log level invalid", `level = "info"`, `level = "verbose"`,
			"log.level", `use "debug", "info", "warn", "error"`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(baseConfig, tt.old) {
				t.Fatalf("test bug: %q not in the base config", tt.old)
			}
			dir := t.TempDir()
			writeTestFile(t, dir, "token.txt", "tok")
			path := writeTestFile(t, dir, "config.toml", strings.Replace(baseConfig, tt.old, tt.new, 1))
			code, out, errOut := runCLI(t, "", nil, "check-config", "-config", path)
			if code != exitFatal {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, exitFatal, out, errOut)
			}
			if !strings.Contains(errOut, "has 1 problem(s)") {
				t.Errorf("want exactly one problem, stderr:\n%s", errOut)
			}
			line := lineWith(errOut, "  "+tt.key+": ")
			if line == "" {
				t.Fatalf("stderr does not name %s:\n%s", tt.key, errOut)
			}
			if !strings.Contains(line, tt.fix) {
				t.Errorf("line %q lacks the fix %q", line, tt.fix)
			}
			if !strings.Contains(errOut, "Fix them in "+path) {
				t.Errorf("no closing advice in:\n%s", errOut)
			}
			if strings.Contains(errOut, "s3cr3t-Pa55") {
				t.Errorf("the secret was echoed: %s", errOut)
			}
		})
		seen[tt.key] = true
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct keys covered", len(seen))
	}
}

func TestCheckConfigUnreadable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"not TOML", "[ksef\nnip = 1\n", "\n  the file is not valid TOML: line "},
		{"missing file", "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "absent.toml")
			if tt.content != "" {
				path = writeTestFile(t, dir, "broken.toml", tt.content)
			}
			code, _, errOut := runCLI(t, "", nil, "check-config", "-config", path)
			if code != exitFatal || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d stderr %q, want %d and %q", code, errOut, exitFatal, tt.want)
			}
		})
	}
}

// lineWith returns the first line of s containing sub, or "".
func lineWith(s, sub string) string {
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
