package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const baseConfig = `
[ksef]
environment = "test"
nip = "5265877635"
[auth]
method = "token"
token_file = "secrets/token.txt"
[folders]
outbox = "ksef/outbox"
sent = "ksef/sent"
error = "ksef/error"
inbox = "ksef/inbox"
state = "state"
[send]
mode = "auto"
`

// writeConfig writes text as ksef-sync.toml into a fresh temp dir that also holds the token file.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "token.txt"), []byte("  tok-123\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ksef-sync.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustLoad loads the configuration file at path, which must be valid.
func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func loadProblems(t *testing.T, text string) Problems {
	t.Helper()
	_, err := Load(writeConfig(t, text))
	if err == nil {
		return nil
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load error is %T (%v), want *Problems", err, err)
	}
	return *ps
}

func TestLoadMisconfigurations(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantKey string
		wantMsg string // regexp matched against Problem.Msg
	}{
		{"misspelt key", add("[send]", `mod = "batch"`), "send.mod", `^unknown key send\.mod; did you mean send\.mode\?$`},
		{"misspelt table", replace("[send]", "[sned]"), "sned", `^unknown key sned; did you mean send\?$`},
		{"bad environment", replace(`environment = "test"`, `environment = "production"`), "ksef.environment", `"production" is not allowed: use "test", "demo", "prod"`},
		{"missing environment", replace(`environment = "test"`, ``), "ksef.environment", `^missing`},
		{"relative url", add("[ksef]", `url = "127.0.0.1:8080/v2"`), "ksef.url", `not an absolute http\(s\) URL`},
		{"ftp url", add("[ksef]", `url = "ftp://example.com/v2"`), "ksef.url", `not an absolute http\(s\) URL`},
		{"missing nip", replace(`nip = "5265877635"`, ``), "ksef.nip", `^missing`},
		{"nip with dashes", replace(`nip = "5265877635"`, `nip = "526-587-76-35"`), "ksef.nip", `is not 10 digits`},
		{"nip bad checksum", replace(`nip = "5265877635"`, `nip = "5265877636"`), "ksef.nip", `wrong check digit`},
		{"nip checksum 10", replace(`nip = "5265877635"`, `nip = "1000000030"`), "ksef.nip", `wrong check digit`},
		{"bad auth method", replace(`method = "token"`, `method = "password"`), "auth.method", `"password" is not allowed`},
		{"token without source", replace(`token_file = "secrets/token.txt"`, ``), "auth.token_file", `needs token_file .* or token_env`},
		{"token both sources", add("[auth]", `token_env = "KSEF_TOKEN"`), "auth.token_env", `either token_file or token_env, not both`},
		{"token file missing", replace(`secrets/token.txt`, `secrets/nope.txt`), "auth.token_file", `cannot read .*nope\.txt`},
		{"certificate without files", replace(`method = "token"`, `method = "certificate"`), "auth.cert_file", `needs cert_file \+ key_file .* or p12_file`},
		{"certificate without key", compose(replace(`method = "token"`, `method = "certificate"`), add("[auth]", `cert_file = "secrets/token.txt"`)), "auth.key_file", `key_file is missing`},
		{"inline password", add("[auth]", `password = "hunter2"`), "auth.password", `^passwords are never inline: use key_password_env or key_password_file$`},
		{"inline key password", add("[auth]", `key_password = "hunter2"`), "auth.key_password", `^passwords are never inline`},
		{"inline token", add("[auth]", `token = "abc"`), "auth.token", `^tokens are never inline: use token_file or token_env$`},
		{"misspelt password file", add("[auth]", `key_pasword_file = "pw.txt"`), "auth.key_pasword_file", `did you mean auth\.key_password_file\?`},
		{"bool as string", appendix("[watch]\n" + `events = "yes"`), "watch.events", `must be true or false`},
		{"list as string", appendix("[watch]\n" + `patterns = "*.xml"`), "watch.patterns", `must be a list`},
		{"bad subject identifier", compose(replace(`method = "token"`, `method = "certificate"`), add("[auth]", `p12_file = "secrets/token.txt"`+"\n"+`subject_identifier = "subject"`)), "auth.subject_identifier", `"subject" is not allowed`},
		{"missing outbox", replace(`outbox = "ksef/outbox"`, ``), "folders.outbox", `^missing`},
		{"same folders", replace(`error = "ksef/error"`, `error = "ksef/sent/"`), "folders.error", `same folder as folders\.sent`},
		{"outbox inside sent", replace(`outbox = "ksef/outbox"`, `outbox = "ksef/sent/outbox"`), "folders.outbox", `inside folders\.sent`},
		{"state on UNC (slashes)", replace(`state = "state"`, `state = "//server/share/state"`), "folders.state", `state must be on a local disk`},
		{"state on UNC (backslashes)", replace(`state = "state"`, `state = '\\server\share\state'`), "folders.state", `state must be on a local disk`},
		{"inbox required by pull", compose(replace(`inbox = "ksef/inbox"`, ``), appendix("[pull]\nenabled = true")), "folders.inbox", `^missing`},
		{"bad mode", replace(`mode = "auto"`, `mode = "fast"`), "send.mode", `"fast" is not allowed: use "auto", "online", "batch"`},
		{"bad duration", add("[send]", `gather_window = "2 seconds"`), "send.gather_window", `invalid duration "2 seconds"`},
		{"zero duration", add("[send]", `poll_interval = "0s"`), "send.poll_interval", `must be a positive duration`},
		{"negative duration", appendix("[watch]\n" + `settle = "-1s"`), "watch.settle", `must be a positive duration`},
		{"duration as number", appendix("[http]\ntimeout = 60"), "http.timeout", `invalid duration "60"`},
		{"wrong type", add("[send]", `batch_threshold = "two"`), "send.batch_threshold", `^wrong type: must be a whole number without quotes$`},
		{"batch part too big", add("[send]", `batch_part_size = 100000001`), "send.batch_part_size", `between 1 and 100000000`},
		{"too many batch invoices", add("[send]", `max_batch_invoices = 10001`), "send.max_batch_invoices", `between 1 and 10000`},
		{"invoice size above KSeF's highest", add("[send]", `max_invoice_size = 5000001`), "send.max_invoice_size", `between 0 \(KSeF's limit for the context\) and 5000000 bytes`},
		{"bad compression", add("[send]", `compression = "rar"`), "send.compression", `"rar" is not allowed`},
		{"bad pattern", appendix("[watch]\n" + `patterns = ["[*.xml"]`), "watch.patterns", `not a file name pattern`},
		{"bad cron", appendix("[pull]\n" + `schedule = "every 15 minutes"`), "pull.schedule", `not a cron schedule`},
		{"unknown subject", appendix("[pull]\n" + `subjects = ["cost", "purchase"]`), "pull.subjects", `"purchase" is not allowed`},
		{"bad start", appendix("[pull]\n" + `start = "01.02.2026"`), "pull.start", `is not a date`},
		{"unquoted start", appendix("[pull]\n" + `start = 2026-02-01`), "pull.start", `a date must be written in quotes`},
		{"layout unknown token", appendix("[pull]\n" + `layout = "{year}/{ksefNumber}"`), "pull.layout", `unknown token \{year\}`},
		{"layout without ksefNumber", appendix("[pull]\n" + `layout = "{subject}/{yyyy}"`), "pull.layout", `must contain \{ksefNumber\}`},
		{"layout escaping inbox", appendix("[pull]\n" + `layout = "../{ksefNumber}"`), "pull.layout", `relative path inside the inbox`},
		{"bad log level", appendix("[log]\n" + `level = "verbose"`), "log.level", `"verbose" is not allowed`},
		{"bad log format", appendix("[log]\n" + `format = "xml"`), "log.format", `"xml" is not allowed`},
		{"bad proxy", appendix("[http]\n" + `proxy = "proxy:3128"`), "http.proxy", `not a proxy URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadProblems(t, tt.edit(baseConfig))
			if len(got) != 1 {
				t.Fatalf("got %d problems, want 1:\n%v", len(got), got)
			}
			if got[0].Key != tt.wantKey {
				t.Errorf("key = %q, want %q (msg %q)", got[0].Key, tt.wantKey, got[0].Msg)
			}
			if !regexp.MustCompile(tt.wantMsg).MatchString(got[0].Msg) {
				t.Errorf("msg = %q, want match %q", got[0].Msg, tt.wantMsg)
			}
		})
	}
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test config does not contain " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func add(after, line string) func(string) string {
	return replace(after, after+"\n"+line)
}

func compose(fs ...func(string) string) func(string) string {
	return func(s string) string {
		for _, f := range fs {
			s = f(s)
		}
		return s
	}
}

func TestLoadReportsAllProblemsAtOnce(t *testing.T) {
	text := compose(
		replace(`nip = "5265877635"`, `nip = "123"`),
		add("[send]", `mod = "batch"`+"\n"+`gather_window = "soon"`+"\n"+`batch_threshold = "x"`+"\n"+`poll_interval = "later"`),
		replace(`state = "state"`, `state = "//nas/state"`),
		appendix("[log]\nlevel = \"loud\""),
	)(baseConfig)
	got := loadProblems(t, text)
	var keys []string
	for _, p := range got {
		keys = append(keys, p.Key)
	}
	want := []string{"ksef.nip", "folders.state", "send.gather_window", "send.batch_threshold", "send.poll_interval", "send.mod", "log.level"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("problem keys (-want +got):\n%s\nall: %v", diff, got)
	}
	var ps Problems = got
	lines := strings.Split(ps.Error(), "\n")
	if len(lines) != len(want) || !strings.HasPrefix(lines[2], "send.gather_window: invalid duration") {
		t.Errorf("Error() = %q, want one \"key: msg\" line per problem", ps.Error())
	}
}

func TestProblemsErrorsAsBothForms(t *testing.T) {
	_, err := Load(writeConfig(t, replace(`mode = "auto"`, `mode = "fast"`)(baseConfig)))
	var ptr *Problems
	var val Problems
	if !errors.As(err, &ptr) || !errors.As(fmt.Errorf("wrapped: %w", err), &val) {
		t.Fatalf("errors.As failed: ptr=%v val=%v (err %v)", ptr, val, err)
	}
	if diff := cmp.Diff(*ptr, val); diff != "" || len(val) != 1 || val[0].Key != "send.mode" {
		t.Errorf("(-ptr +val):\n%s\nval=%v", diff, val)
	}
}

func TestLoadSyntaxError(t *testing.T) {
	got := loadProblems(t, baseConfig+"\nmode = \n")
	if len(got) != 1 || !strings.Contains(got[0].Msg, "not valid TOML: line 17") {
		t.Errorf("got %v, want one syntax problem naming line 17", got)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func TestLoadDefaultsAndRelativePaths(t *testing.T) {
	path := writeConfig(t, baseConfig)
	cfg := mustLoad(t, path)
	dir := filepath.Dir(path)
	want := Defaults()
	want.Path = path
	want.KSeF = KSeF{Environment: "test", NIP: "5265877635"}
	want.Auth.TokenFile = filepath.Join(dir, "secrets", "token.txt")
	want.Folders = Folders{
		Outbox: filepath.Join(dir, "ksef", "outbox"),
		Sent:   filepath.Join(dir, "ksef", "sent"),
		Error:  filepath.Join(dir, "ksef", "error"),
		Inbox:  filepath.Join(dir, "ksef", "inbox"),
		State:  filepath.Join(dir, "state"),
	}
	want.Pull.StartTime = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if diff := cmp.Diff(&want, cfg, ignoreLoadState); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if want.Send.GatherWindow.Duration != 2*time.Second || want.Watch.Rescan.Duration != 30*time.Second ||
		want.HTTP.Timeout.Duration != time.Minute || want.Send.BatchThreshold != 2 || want.Log.MaxFiles != 10 {
		t.Errorf("defaults differ from the documented ones: %+v", want)
	}
}

func TestLoadRelativeConfigPath(t *testing.T) {
	path := writeConfig(t, baseConfig)
	t.Chdir(filepath.Dir(path))
	cfg := mustLoad(t, "ksef-sync.toml")
	if cfg.Path != path || cfg.Folders.State != filepath.Join(filepath.Dir(path), "state") {
		t.Errorf("Path = %q, State = %q; want both absolute under %q", cfg.Path, cfg.Folders.State, filepath.Dir(path))
	}
}

func TestLoadValuesOverrideDefaults(t *testing.T) {
	text := compose(add("[send]", `gather_window = "1500ms"
batch_threshold = 5
compression = "targz"
offline_mode = true`), appendix(`[watch]
patterns = ["*.XML", "FV*.xml"]
events = false
[pull]
enabled = true
schedule = "@every 15m"
subjects = ["subject3", "authorized"]
start = "2026-03-01T06:00:00+01:00"
layout = "{sellerNip}/{yyyy}-{mm}-{dd}/{ksefNumber}"
[log]
file = "logs/ksef-sync.log"
[http]
timeout = "2m"
proxy = "http://user:secret@proxy.local:3128"`))(baseConfig)
	cfg := mustLoad(t, writeConfig(t, text))
	got := []any{cfg.Send.GatherWindow.Duration, cfg.Send.BatchThreshold, cfg.Send.Compression, cfg.Send.OfflineMode.Mode,
		cfg.Watch.Patterns, cfg.Watch.Events, cfg.Pull.Schedule, cfg.Pull.Subjects, cfg.Pull.StartTime.UTC(),
		filepath.Base(cfg.Log.File), filepath.IsAbs(cfg.Log.File), cfg.HTTP.Timeout.Duration}
	want := []any{1500 * time.Millisecond, 5, "targz", "offline24",
		[]string{"*.XML", "FV*.xml"}, false, "@every 15m", []string{"subject3", "authorized"}, time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC),
		"ksef-sync.log", true, 2 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWindowsPathsAreKeptAsIs(t *testing.T) {
	text := compose(
		replace(`outbox = "ksef/outbox"`, `outbox = '\\fileserver\erp\outbox'`),
		replace(`sent = "ksef/sent"`, `sent = "//fileserver/erp/sent"`),
		replace(`error = "ksef/error"`, `error = 'D:\erp\error'`),
		replace(`state = "state"`, `state = "C:/ProgramData/ksef-sync/state"`),
	)(baseConfig)
	cfg := mustLoad(t, writeConfig(t, text))
	got := []string{cfg.Folders.Outbox, cfg.Folders.Sent, cfg.Folders.Error, cfg.Folders.State}
	want := []string{`\\fileserver\erp\outbox`, "//fileserver/erp/sent", `D:\erp\error`, "C:/ProgramData/ksef-sync/state"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWindowsPathsCompareCaseInsensitively(t *testing.T) {
	text := compose(
		replace(`sent = "ksef/sent"`, `sent = 'C:\ERP\Sent'`),
		replace(`outbox = "ksef/outbox"`, `outbox = "c:/erp/sent/outbox"`),
		replace(`error = "ksef/error"`, `error = '\\NAS\Share\err'`),
		replace(`inbox = "ksef/inbox"`, `inbox = "//nas/share/ERR/"`),
	)(baseConfig)
	got := loadProblems(t, text)
	want := Problems{
		{"folders.outbox", "is inside folders.sent: sent invoices would be picked up again"},
		{"folders.inbox", "is the same folder as folders.error: every folder must be different"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAPIAndQRBaseURL(t *testing.T) {
	tests := []struct{ env, url, wantAPI, wantQR string }{
		{"test", "", "https://api-test.ksef.mf.gov.pl/v2", "https://qr-test.ksef.mf.gov.pl"},
		{"demo", "", "https://api-demo.ksef.mf.gov.pl/v2", "https://qr-demo.ksef.mf.gov.pl"},
		{"prod", "", "https://api.ksef.mf.gov.pl/v2", "https://qr.ksef.mf.gov.pl"},
		{"test", "http://127.0.0.1:8080/v2/", "http://127.0.0.1:8080/v2", "https://qr-test.ksef.mf.gov.pl"},
	}
	for _, tt := range tests {
		t.Run(tt.env+tt.url, func(t *testing.T) {
			text := replace(`environment = "test"`, `environment = "`+tt.env+`"`+"\n"+`url = "`+tt.url+`"`)(baseConfig)
			cfg := mustLoad(t, writeConfig(t, text))
			api, err := cfg.APIBaseURL()
			if err != nil || api != tt.wantAPI || cfg.QRBaseURL() != tt.wantQR {
				t.Errorf("APIBaseURL = %q, %v; QRBaseURL = %q; want %q, %q", api, err, cfg.QRBaseURL(), tt.wantAPI, tt.wantQR)
			}
		})
	}
	if _, err := (&Config{KSeF: KSeF{Environment: "staging"}}).APIBaseURL(); err == nil {
		t.Error("APIBaseURL with unknown environment: want error")
	}
}

func TestReadToken(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, baseConfig))
	if got, err := cfg.ReadToken(); err != nil || got != "tok-123" {
		t.Errorf("ReadToken from file = %q, %v; want trimmed \"tok-123\"", got, err)
	}

	t.Setenv("KSEF_SYNC_TEST_TOKEN", "env-token-456")
	envCfg := &Config{Auth: Auth{TokenEnv: "KSEF_SYNC_TEST_TOKEN"}}
	if got, err := envCfg.ReadToken(); err != nil || got != "env-token-456" {
		t.Errorf("ReadToken from env = %q, %v", got, err)
	}

	if err := os.WriteFile(cfg.Auth.TokenFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.ReadToken(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("ReadToken of empty file: err = %v, want \"empty\"", err)
	}
	t.Setenv("KSEF_SYNC_TEST_TOKEN", "")
	if _, err := envCfg.ReadToken(); err == nil {
		t.Error("ReadToken with empty env: want error")
	}
}

func TestReadKeyPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw.txt")
	if err := os.WriteFile(file, []byte(" s3cret pass \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KSEF_SYNC_TEST_PW", "from-env")
	tests := []struct {
		name string
		auth Auth
		want []byte
		err  bool
	}{
		{"file keeps inner spaces", Auth{KeyPasswordFile: file}, []byte(" s3cret pass "), false},
		{"env", Auth{KeyPasswordEnv: "KSEF_SYNC_TEST_PW"}, []byte("from-env"), false},
		{"none", Auth{}, nil, false},
		{"unset env", Auth{KeyPasswordEnv: "KSEF_SYNC_TEST_UNSET_PW"}, nil, true},
		{"missing file", Auth{KeyPasswordFile: filepath.Join(dir, "none")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Config{Auth: tt.auth}).ReadKeyPassword()
			if (err != nil) != tt.err || !bytes.Equal(got, tt.want) {
				t.Errorf("ReadKeyPassword = %q, %v; want %q, err=%v", got, err, tt.want, tt.err)
			}
		})
	}
}

// ignoreLoadState skips what Load derives (the companies, which keys were set) from comparisons.
var ignoreLoadState = cmpopts.IgnoreUnexported(Config{})

func TestCompanies(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, baseConfig))
	got := cfg.Companies()
	want := []Company{{Name: DefaultCompanyName, NIP: "5265877635", KSeF: cfg.KSeF, Auth: cfg.Auth, Folders: cfg.Folders, Send: cfg.Send, Pull: cfg.Pull}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExampleIsIdenticalToRepositoryCopy(t *testing.T) {
	root, err := os.ReadFile(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, Example()) {
		t.Error("config.example.toml at the repository root differs from internal/config/config.example.toml: copy it over")
	}
}

func TestExampleLoadsWithoutProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "ksef-token.txt"), []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ksef-sync.toml")
	if err := os.WriteFile(path, Example(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := Defaults()
	want.Path, want.KSeF, want.Auth.TokenFile, want.Folders, want.Pull.StartTime = cfg.Path, cfg.KSeF, cfg.Auth.TokenFile, cfg.Folders, cfg.Pull.StartTime
	if diff := cmp.Diff(&want, cfg, ignoreLoadState); diff != "" {
		t.Errorf("the example must spell out the defaults (-defaults +example):\n%s", diff)
	}
}

// TestExampleMentionsEveryKey keeps the example (and the README reference built from it) complete:
// every key must appear in its table, either set or as a commented-out alternative.
func TestExampleMentionsEveryKey(t *testing.T) {
	sections := map[string]string{}
	current := ""
	for line := range strings.Lines(string(Example())) {
		if m := regexp.MustCompile(`^\[(\w+)\]`).FindStringSubmatch(line); m != nil {
			current = m[1]
			continue
		}
		sections[current] += line
	}
	ct := reflect.TypeFor[Config]()
	for table := range ct.Fields() {
		tableKey := table.Tag.Get("toml")
		if tableKey == "-" || tableKey == "" {
			continue
		}
		switch table.Type.Kind() {
		case reflect.Map: // [credentials.NAME]
			if !strings.Contains(string(Example()), "# ["+tableKey+".") {
				t.Errorf("example does not show a [%s.NAME] table", tableKey)
			}
			continue
		case reflect.Slice: // [[company]]
			for f := range table.Type.Elem().Fields() {
				key := f.Tag.Get("toml")
				if key != "" && !regexp.MustCompile(`(?m)^# (`+key+` = |\[`+tableKey+`\.`+key+`\])`).Match(Example()) {
					t.Errorf("example does not mention [[%s]] %s", tableKey, key)
				}
			}
			continue
		}
		if table.Type.Kind() != reflect.Struct { // a top-level key, before the first table
			if !regexp.MustCompile(`(?m)^#? ?` + tableKey + ` = `).MatchString(sections[""]) {
				t.Errorf("example does not mention the top-level key %s", tableKey)
			}
			continue
		}
		if _, ok := sections[tableKey]; !ok {
			t.Errorf("example has no [%s] table", tableKey)
			continue
		}
		for f := range table.Type.Fields() {
			key := f.Tag.Get("toml")
			if key == "-" {
				continue
			}
			if !regexp.MustCompile(`(?m)^#? ?` + key + ` = `).MatchString(sections[tableKey]) {
				t.Errorf("example [%s] does not mention %s", tableKey, key)
			}
		}
	}
}

func TestCheckNIP(t *testing.T) {
	for _, nip := range []string{"5265877635", "1111111111", "3861610227"} {
		if msg := CheckNIP(nip); msg != "" {
			t.Errorf("CheckNIP(%s) = %q, want valid", nip, msg)
		}
	}
}

func appendix(text string) func(string) string {
	return func(s string) string { return s + text + "\n" }
}

func FuzzParse(f *testing.F) {
	f.Add(Example())
	f.Add([]byte(baseConfig))
	f.Add([]byte(baseConfig + "[send]\nmod = 1\ngather_window = \"x\"\n[pull]\nstart = 2026-01-01\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, problems := parse(data)
		if cfg == nil && len(problems) == 0 {
			t.Fatal("parse returned neither a config nor a problem")
		}
		if cfg != nil {
			cfg.resolvePaths("cfgdir")
			_ = cfg.validate()
		}
		sortProblems(problems)
	})
}
