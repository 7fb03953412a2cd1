package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// These tests drive the binary the way README's "Outputs" and "Commands" sections tell an ERP and
// an administrator to, and check what README promises, key by key.

// rawJSON reads one output file as a map, so a key that is missing differs from one that is empty.
func rawJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(testutil.ReadFile(t, path), &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// TestOutputRecordsCarryREADMEKeys: README lists the keys of sent/*.ksef.json (among them
// `conversion`) and error/*.error.json (`invoiceNumber`, `sessionReferenceNumber`,
// `referenceNumber`, …) without exceptions, and says `.ksef.json` records `invoicingMode` (what
// KSeF said). A validation rejection used to leave out the invoice number even when the file
// named it (a wrong seller NIP, a schema error, a future issue date), and the three keys
// altogether; `conversion` was missing whenever nothing was converted; and a file whose bytes KSeF
// had already accepted got a `.ksef.json` without `invoicingMode`.
func TestOutputRecordsCarryREADMEKeys(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	now := time.Now()
	number := func(tag string) string { return "FA/GRQMB-" + tag + "/05/2025" } // the templates' P_2
	e.drop("FV_ok.xml", invoice(0, "FLOW-OK"))
	e.drop("FV_wrong_nip.xml", samples.Invoice(0, samples.BuyerNIP, now, "FLOW-WNIP"))
	e.drop("FV_future.xml", samples.Invoice(0, testNIP, now.AddDate(0, 0, 3), "FLOW-FUTURE"))
	schemaBad := strings.Replace(string(samples.Invoice(1, testNIP, now, "FLOW-SCHEMA")), "</P_2>", "</P_2><Nieznany>1</Nieznany>", 1)
	e.drop("FV_schema.xml", []byte(schemaBad))
	e.drop("FV_not_xml.xml", []byte("not an invoice\n"))
	e.sendWants(exitRejected, 2*time.Minute)
	// The same bytes again, under another name: not sent again, outputs with the known number.
	e.drop("FV_ok_again.xml", invoice(0, "FLOW-OK"))
	e.sendWants(exitOK, 2*time.Minute)

	wantErr := map[string]struct{ code, number string }{
		"FV_wrong_nip": {"wrong-seller-nip", number("FLOW-WNIP")},
		"FV_future":    {"future-issue-date", number("FLOW-FUTURE")},
		"FV_schema":    {"schema", number("FLOW-SCHEMA")},
		"FV_not_xml":   {"not-xml", ""},
	}
	for stem, want := range wantErr {
		r := rawJSON(t, filepath.Join(e.errDir, stem+".error.json"))
		for _, k := range []string{"code", "description", "details", "stage", "hint", "fileName", "invoiceNumber",
			"sessionReferenceNumber", "referenceNumber", "time", "company"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s.error.json has no %q: %v", stem, k, r)
			}
		}
		if r["code"] != want.code || r["invoiceNumber"] != want.number || r["sessionReferenceNumber"] != "" || r["referenceNumber"] != "" {
			t.Errorf("%s.error.json: code %v invoiceNumber %q session %q reference %q; want %s, %q and no KSeF references",
				stem, r["code"], r["invoiceNumber"], r["sessionReferenceNumber"], r["referenceNumber"], want.code, want.number)
		}
	}

	first := rawJSON(t, filepath.Join(e.sent, "FV_ok.ksef.json"))
	again := rawJSON(t, filepath.Join(e.sent, "FV_ok_again.ksef.json"))
	for name, r := range map[string]map[string]any{"FV_ok": first, "FV_ok_again": again} {
		for _, k := range []string{"ksefNumber", "invoiceNumber", "invoiceHash", "sessionReferenceNumber", "referenceNumber",
			"acquisitionDate", "mode", "qrCodeI", "sellerNip", "company", "issueDate", "fileName", "upoFile", "conversion",
			"offlineMode", "invoicingMode"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s.ksef.json has no %q: %v", name, k, r)
			}
		}
	}
	if first["conversion"] != "" || first["invoicingMode"] != "Online" {
		t.Errorf("FV_ok.ksef.json: conversion %q invoicingMode %q, want \"\" and Online", first["conversion"], first["invoicingMode"])
	}
	if again["ksefNumber"] != first["ksefNumber"] || again["invoicingMode"] != first["invoicingMode"] {
		t.Errorf("FV_ok_again.ksef.json: %v / %v, want the original's KSeF number %v and invoicingMode %v",
			again["ksefNumber"], again["invoicingMode"], first["ksefNumber"], first["invoicingMode"])
	}
}

// TestReadmeOwnConfigAgainstSim follows README's Quick start by the letter: `ksef-sync sim` on its
// own, config.example.toml with the URL, status URL, token and folders set as README says, a
// sample invoice filled in as README says, then check-config and send. README used to stop at
// "it prints its URL, a NIP and a token" and said nothing of the samples' placeholders.
func TestReadmeOwnConfigAgainstSim(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	testutil.SkipUnderWine(t, "spawns the real binary")
	sim := exec.Command(binPath, "sim", "-addr", "127.0.0.1:0")
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Process.Kill(); _ = sim.Wait() })
	printed := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for printed["token"] == "" && sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			printed[k] = v
		}
	}
	go drainScanner(sc)
	base, ok := strings.CutSuffix(printed["url"], "/v2")
	if !ok || printed["nip"] != testNIP {
		t.Fatalf("sim printed %v, want url …/v2, nip %s and a token", printed, testNIP)
	}

	dir := t.TempDir()
	cfg := string(testutil.ReadFile(t, filepath.Join("..", "..", "config.example.toml")))
	set := func(old, new string) {
		t.Helper()
		if !strings.Contains(cfg, old) {
			t.Fatalf("config.example.toml has no %q", old)
		}
		cfg = strings.Replace(cfg, old, new, 1)
	}
	set(`url = ""`, fmt.Sprintf("url = %q", printed["url"]))
	set(`status_url = ""`, fmt.Sprintf("status_url = %q", base+"/latarnia"))
	for _, f := range []string{"outbox", "sent", "error", "inbox"} {
		set(fmt.Sprintf("%s = \"//fileserver/erp/ksef/%s\"", f, f), fmt.Sprintf("%s = %q", f, filepath.ToSlash(filepath.Join(dir, f))))
	}
	set(`state = "C:/ProgramData/ksef-sync/state"`, fmt.Sprintf("state = %q", filepath.ToSlash(filepath.Join(dir, "state"))))
	for _, f := range []string{"outbox", "sent", "error", "inbox", "state", "secrets"} {
		if err := os.MkdirAll(filepath.Join(dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "secrets", "ksef-token.txt"), []byte(printed["token"]))
	cfgPath := filepath.Join(dir, "config.toml")
	writeFile(t, cfgPath, []byte(cfg))

	today := time.Now().In(plzone.Warsaw).Format("2006-01-02")
	inv := strings.NewReplacer("#nip#", printed["nip"], "#invoicing_date#", today, "#invoice_number#", "README-1",
		"#subject2nip#", "3861610227", "#selfInvocingNip#", "3861610227",
		"#subject3IdentifierValue#", "<NIP>3861610227</NIP>").Replace(string(samples.Template("invoice-template-fa-3-with-custom-subject_3.xml")))
	writeFile(t, filepath.Join(dir, "outbox", "FV_README.xml"), []byte(inv))

	// Every placeholder of every sample is explained in README.
	readme := string(testutil.ReadFile(t, filepath.Join("..", "..", "README.md")))
	placeholder := regexp.MustCompile(`#[A-Za-z0-9_]+#`)
	for _, name := range append(samples.Names(), "invoice_template_v3_self_invoicing.xml") {
		for _, p := range placeholder.FindAllString(string(samples.Template(name)), -1) {
			if !strings.Contains(readme, "`"+p+"`") {
				t.Errorf("README does not say what to put for %s (in %s)", p, name)
			}
		}
	}

	e := &e2e{t: t}
	if code, out, errOut := e.runCmd(time.Minute, "check-config", "-config", cfgPath); code != exitOK {
		t.Fatalf("check-config exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := e.runCmd(2*time.Minute, "send", "-config", cfgPath)
	if code != exitOK || !strings.Contains(out, "accepted: 1") {
		t.Fatalf("send exit %d, want 0 and accepted: 1\n%s\n%s", code, out, tail(errOut))
	}
	if r := rawJSON(t, filepath.Join(dir, "sent", "FV_README.ksef.json")); r["invoiceNumber"] != "FA/GRQMB-README-1/05/2025" {
		t.Errorf("FV_README.ksef.json: invoiceNumber %v, want FA/GRQMB-README-1/05/2025 as README says", r["invoiceNumber"])
	}
}

// TestReadmeCommandFlags: every flag README's command table gives a command exists in that
// command's -h, and every flag the binary's -h lists is in the command's row (the simulator's
// own flags are documented in docs/simulator.md). README had left out get -lang, cert gen-test
// -key and -days, and demo -timeout.
func TestReadmeCommandFlags(t *testing.T) {
	testutil.SkipUnderWine(t, "spawns the real binary")
	readme := readRepoFile(t, "README.md")
	span := regexp.MustCompile("`ksef-sync ([^`]*)`")
	flag := regexp.MustCompile(`(?:^|[\s\[])(-[a-z][a-z-]*)`)
	rows := map[string]string{}     // command words → its table row
	listed := map[string][]string{} // command words → the flags of its synopsis
	for line := range strings.Lines(readme) {
		if !strings.HasPrefix(line, "| `ksef-sync ") {
			continue
		}
		first, _, _ := strings.Cut(line, " | ")
		for _, m := range span.FindAllStringSubmatch(first, -1) {
			fields := strings.Fields(m[1])
			i := 0
			for i < len(fields) && !strings.HasPrefix(fields[i], "-") && !strings.HasPrefix(fields[i], "[") {
				i++
			}
			for _, name := range strings.Split(strings.Join(fields[:i], " "), `\|`) {
				rows[name] = line
				for _, f := range flag.FindAllStringSubmatch(strings.Join(fields[i:], " "), -1) {
					listed[name] = append(listed[name], f[1])
				}
			}
		}
	}
	if len(rows) < len(commands()) {
		t.Fatalf("README's command table names %d commands, the binary has %d", len(rows), len(commands()))
	}
	helpFlag := regexp.MustCompile(`(?m)^\s+(-[a-z][a-z-]*)`)
	for name, row := range rows {
		out, _ := exec.Command(binPath, append(strings.Fields(name), "-h")...).CombinedOutput()
		var has []string
		for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
			has = append(has, m[1])
		}
		for _, f := range listed[name] {
			if !slices.Contains(has, f) {
				t.Errorf("README gives `ksef-sync %s` the flag %s, which its -h does not list:\n%s", name, f, out)
			}
		}
		if name == "sim" {
			continue
		}
		for _, f := range has {
			if !regexp.MustCompile(regexp.QuoteMeta(f) + `\b`).MatchString(row) {
				t.Errorf("`ksef-sync %s -h` lists %s, which README's row for it does not mention", name, f)
			}
		}
	}
}

// TestCheckConfigNotesTokenShapePerCompany: README's troubleshooting tells the reader to run
// check-config after saving a token, "it checks the token's shape". With [[company]] tables the
// check ran but its note was dropped: only a single-company configuration got it.
func TestCheckConfigNotesTokenShapePerCompany(t *testing.T) {
	cfgPath := officeTokenConfig(t, "[company.auth]\nmethod = \"token\"\ntoken_file = \"beta.token\"\n")
	writeFile(t, filepath.Join(filepath.Dir(cfgPath), "beta.token"), []byte("not-a-ksef-token"))
	e := &e2e{t: t}
	code, out, errOut := e.runCmd(time.Minute, "check-config", "-config", cfgPath)
	if code != exitOK {
		t.Fatalf("check-config exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `note: company "beta": the token in auth.token_file does not look like one issued by the KSeF application`) {
		t.Errorf("check-config says nothing of beta's token:\n%s", out)
	}
	if strings.Contains(out, `company "acme": the token`) {
		t.Errorf("check-config finds fault with acme's well-formed token:\n%s", out)
	}
}

// TestCheckConfigRefusesASharedTokenInAnotherContext: a KSeF token works only in the context it was
// generated in (CIRFMF/ksef-api #741), so an office's token shared through [credentials.office]
// cannot log in as a client: check-config says so for that company, and names the fix.
func TestCheckConfigRefusesASharedTokenInAnotherContext(t *testing.T) {
	cfgPath := officeTokenConfig(t, "credentials = \"office\"\n")
	code, out, errOut := runCLI(t, "", nil, "check-config", "-config", cfgPath)
	want := `company "beta": auth.token_file: the token was generated in the context of NIP 5265877635 and works only there`
	if code != exitFatal || !strings.Contains(errOut, want) || !strings.Contains(errOut, `method = "certificate"`) || strings.Contains(errOut, `company "acme"`) {
		t.Errorf("check-config: exit %d, want %d and %q for beta only\n%s%s", code, exitFatal, want, out, errOut)
	}
}

// officeTokenConfig writes a configuration of two companies under t's temporary folder and returns
// its path: acme (NIP 5265877635) logs in with [credentials.office], a KSeF token generated in
// acme's context; beta (NIP 3861610227) with what betaAuth says (its table's lines after nip).
func officeTokenConfig(t *testing.T, betaAuth string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"acme/outbox", "acme/sent", "acme/error", "beta/outbox", "beta/sent", "beta/error", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "office.token"), []byte("20261204-EC-0123456789-0123456789-AB|nip-5265877635|"+strings.Repeat("a", 64)))
	cfgPath := filepath.Join(dir, "config.toml")
	writeFile(t, cfgPath, []byte(`[ksef]
environment = "test"
[folders]
outbox = "{company}/outbox"
sent = "{company}/sent"
error = "{company}/error"
state = "state"
[credentials.office]
method = "token"
token_file = "office.token"
[[company]]
name = "acme"
nip = "5265877635"
credentials = "office"
[[company]]
name = "beta"
nip = "3861610227"
`+betaAuth))
	return cfgPath
}

// TestStrayArgumentIsUsageError: README's exit codes give 2 for a command-line usage error. A word
// that is neither a flag nor a flag's value was ignored: `ksef-sync status config.toml` (the
// -config forgotten) read the default configuration instead, and `send -config F extra` ran.
func TestStrayArgumentIsUsageError(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	writeFile(t, cfgPath, []byte(testConfig("http://127.0.0.1:1/v2", testNIP, tokenFileAuth)))
	e := &e2e{t: t}
	for _, args := range [][]string{
		{"status", cfgPath},
		{"check-config", "-config", cfgPath, "extra"},
		{"send", "-config", cfgPath, "FV_1.xml", "-timeout", "1s"},
		{"doctor", "-config", cfgPath, "extra"},
		{"version", "extra"},
	} {
		code, out, errOut := e.runCmd(time.Minute, args...)
		if code != exitUsage || !strings.Contains(errOut, "unexpected argument") {
			t.Errorf("ksef-sync %s: exit %d, want %d and the stray word named\n%s\n%s", strings.Join(args, " "), code, exitUsage, out, errOut)
		}
	}
	if _, _, errOut := e.runCmd(time.Minute, "status", cfgPath); !strings.Contains(errOut, "goes after -config") {
		t.Errorf("status FILE does not say where the file goes:\n%s", errOut)
	}
}

// TestRejectionWrittenWhileKSeFIsSlow: a file validation refuses never goes to KSeF, so its error/
// files must not wait for KSeF. They were written only after the step's dispatch, which waits for
// the login: with KSeF slow to log in (here it never finishes within the pass), `send -timeout`
// reported both invoices pending and error/ stayed empty.
func TestRejectionWrittenWhileKSeFIsSlow(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 10 * time.Minute}, "")
	e.drop("FV_good.xml", invoice(0, "FLOW-SLOW"))
	e.drop("FV_wrong_nip.xml", samples.Invoice(0, samples.BuyerNIP, time.Now(), "FLOW-SLOW-WNIP"))
	code, out, errOut := e.send(20 * time.Second)
	if code != exitFatal || !strings.Contains(out, "rejected: 1") || !strings.Contains(out, "pending: 1") {
		t.Errorf("send exit %d, want %d with the rejection counted and the good invoice pending\n%s\n%s", code, exitFatal, out, tail(errOut))
	}
	if r := rawJSON(t, filepath.Join(e.errDir, "FV_wrong_nip.error.json")); r["code"] != "wrong-seller-nip" {
		t.Errorf("FV_wrong_nip.error.json: %v", r)
	}
}

// TestSendTimeoutWhileLoginIsSlow: README promises `send` exits 1 when -timeout passed with
// invoices still pending. With KSeF slow to log in, a 5 s pass took minutes: the start-up fetch of
// KSeF's rate limits logs in in the background and held the client's login lock while KSeF kept
// the authentication at status 100, and the pass's own login waited for that lock without
// looking at its deadline. (runCmd's limit, -timeout + 30 s, ends a pass that overruns.)
func TestSendTimeoutWhileLoginIsSlow(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{ProcessingDelay: 10 * time.Minute}, "")
	e.drop("FV_good.xml", invoice(0, "FLOW-TIMEOUT"))
	code, out, errOut := e.send(5 * time.Second)
	if code != exitFatal || !strings.Contains(out, "pending: 1") {
		t.Errorf("send -timeout 5s: exit %d, want %d with the invoice pending\n%s\n%s", code, exitFatal, out, tail(errOut))
	}
}

// TestDaemonGoesOnWhileLoginIsSlow: KSeF may keep a login at status 100 for half an hour
// (CIRFMF/ksef-api #567). The daemon's one loop used to wait inside that login, so a file dropped
// meanwhile got no error file however wrong it was. Now the daemon waits for a login for a while
// (15 s), goes on, and asks KSeF about the same login again at its next steps; when KSeF finishes
// it, the waiting invoice is sent under that login, not under a second one.
func TestDaemonGoesOnWhileLoginIsSlow(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	e.sim.HoldLogins(1)
	_, log := startLoggedDaemon(t, e.cfgPath)
	e.drop("FV_good.xml", invoice(0, "FLOW-HELD"))
	eventually(t, "the daemon to stop waiting for the login KSeF holds", time.Minute, func() bool {
		return strings.Contains(log(), "has not finished the login")
	})
	e.rejectedWhileGoodWaits("FLOW-HELD-WNIP", "KSeF still holds the login")
	e.sim.ReleaseLogins()
	e.goodRegistered("once KSeF finishes the login", time.Minute)
	if n := e.sim.Stats().LoginsStarted; n != 1 {
		t.Errorf("%d logins started; want 1: the daemon should have asked about its login again, not started others", n)
	}
	e.assertAcceptedOnce(1)
}

// TestStatusAfterCleanStop: README says `status` shows `daemon: running (PID …)` while the daemon
// runs. After SIGTERM (systemctl stop, Ctrl-C) it kept saying so for 30 s, until the last
// heartbeat grew stale; a clean stop now records itself.
func TestStatusAfterCleanStop(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "[http]\nlisten = \"\"\n")
	running := func() bool {
		t.Helper()
		code, out, errOut := e.runCmd(time.Minute, "status", "-config", e.cfgPath, "-json")
		if code != exitOK {
			t.Fatalf("status exit %d\n%s\n%s", code, out, errOut)
		}
		var r struct {
			Daemon struct {
				Running bool `json:"running"`
				PID     int  `json:"pid"`
			} `json:"daemon"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("status -json: %v\n%s", err, out)
		}
		return r.Daemon.Running
	}
	cmd, sc := e.daemon()
	go drainScanner(sc)
	eventually(t, "status to see the daemon running", time.Minute, running)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v", err)
	}
	if running() {
		t.Errorf("status -json says the daemon runs right after it stopped cleanly")
	}
	code, out, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
	if code != exitOK || strings.Contains(out, "PID") {
		t.Errorf("status after a clean stop (exit %d) still names a PID:\n%s", code, out)
	}
}

// TestDaemonGoesOnThroughALongRateLimitBlock: after a 429 KSeF blocks further requests until
// Retry-After, and repeated violations lengthen the block (CIRFMF/ksef-docs limity/limity-api.md).
// The daemon's loop used to sleep the whole Retry-After inside the refused call, so a wrong file
// dropped meanwhile got no error file until the block was over. Now the loop waits at most 15 s:
// the invoice goes back to the journal until the block ends (no request of the group is sent
// before), and the loop goes on rejecting the wrong file.
func TestDaemonGoesOnThroughALongRateLimitBlock(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	const block = 30 * time.Second
	e.sim.RateLimitNext("invoiceSend", block)
	_, log := startLoggedDaemon(t, e.cfgPath)
	e.drop("FV_good.xml", invoice(0, "FLOW-429"))
	eventually(t, "the daemon to put the invoice back after KSeF's 429", time.Minute, func() bool {
		return strings.Contains(log(), "invoice will be sent again later")
	})
	e.rejectedWhileGoodWaits("FLOW-429-WNIP", "KSeF's block lasts")
	e.goodRegistered("once the block is over", 2*time.Minute)
	if n := e.sim.Stats().RateLimited; n != 1 {
		t.Errorf("KSeF answered %d×429, want 1: a request was sent during the block", n)
	}
	if strings.Contains(log(), "send outcome unknown") {
		t.Errorf("a 429 was taken for a send that may have reached KSeF:\n%s", tail(log()))
	}
	e.assertAcceptedOnce(1)
}

// rejectedWhileGoodWaits drops FV_wrong_nip.xml (another seller's NIP) and expects its error file
// while FV_good.xml still waits for KSeF (while ...): nothing in sent/ yet.
func (e *e2e) rejectedWhileGoodWaits(tag, while string) {
	e.t.Helper()
	e.drop("FV_wrong_nip.xml", samples.Invoice(0, samples.BuyerNIP, time.Now(), tag))
	wrong := filepath.Join(e.errDir, "FV_wrong_nip.error.json")
	eventually(e.t, "FV_wrong_nip.error.json while "+while, time.Minute, func() bool {
		_, err := os.Stat(wrong)
		return err == nil
	})
	if r := rawJSON(e.t, wrong); r["code"] != "wrong-seller-nip" {
		e.t.Errorf("FV_wrong_nip.error.json: %v", r)
	}
	if got := glob(e.t, e.sent, "*"); len(got) != 0 {
		e.t.Fatalf("sent/ holds %v while %s", got, while)
	}
}

// goodRegistered waits for FV_good.xml's outputs in sent/.
func (e *e2e) goodRegistered(when string, within time.Duration) {
	e.t.Helper()
	eventually(e.t, "FV_good to be registered "+when, within, func() bool {
		_, err := os.Stat(filepath.Join(e.sent, "FV_good.ksef.json"))
		return err == nil
	})
}

// TestBatchesFollowTheContextsSessionLimit: KSeF sets how many invoices one session of a context
// may hold (10 000 by default; raised on request or lowered, GET /limits/context). A batch over
// it fails whole with 420, and after three such sessions its invoices went to error/ though
// nothing was wrong with them. Now batches are cut to the context's limit.
func TestBatchesFollowTheContextsSessionLimit(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	const limit = 3
	e.sim.SetMaxSessionInvoices(testNIP, limit)
	e.dropSeries("FV_%02d.xml", 7, 0, "FLOW-LIMIT")
	e.sendWants(exitOK, 4*time.Minute)
	sessions := map[string]int{}
	for _, a := range e.sim.Stats().Accepted {
		sessions[a.SessionReferenceNumber]++
	}
	for ref, n := range sessions {
		if n > limit {
			t.Errorf("session %s registered %d invoices; the context allows %d", ref, n, limit)
		}
	}
	if got := glob(t, e.errDir, "*"); len(got) != 0 {
		t.Errorf("error/ holds %v", got)
	}
	e.assertAcceptedOnce(7)
}
