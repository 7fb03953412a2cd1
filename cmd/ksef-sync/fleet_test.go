package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ksef-sync/ksef-sync/internal/engine"
	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// The NIPs of the many-company tests: an accounting office and its clients (valid check digits).
const officeNIP = "1234567802"

// fleetCompany is one company of a many-company test configuration.
type fleetCompany struct {
	name, nip string
	// auth is the body of its [company.auth] table; "" logs in with [credentials.office].
	auth string
}

// fleetFixture is a state folder, a folder tree per company and a configuration for a simulator.
type fleetFixture struct {
	t       testing.TB
	dir     string
	sim     *ksefsim.Server
	cfgPath string
}

func (f *fleetFixture) folder(company, kind string) string {
	return filepath.Join(f.dir, "srv", company, kind)
}

// fleetUntuned is the [send], [watch] and [pull] of a fleet configuration without test timings:
// the defaults, and no pull.
const fleetUntuned = "[send]\n[watch]\n[pull]\nenabled = false\n"

// newFleetFixture writes the configuration: shared folders with {company}, the office's
// certificate as [credentials.office], and one [[company]] table each (extra is added to the top).
// tuned shortens the send and watch timings for tests; benchmarks run with the defaults.
func newFleetFixture(t testing.TB, sim *ksefsim.Server, companies []fleetCompany, extra string, tuned bool) *fleetFixture {
	t.Helper()
	f := &fleetFixture{t: t, dir: workDir(t), sim: sim}
	office := f.officeCertificate()
	tuning := fleetUntuned
	if tuned {
		tuning = `[send]
gather_window = "300ms"
poll_interval = "200ms"

[watch]
settle = "300ms"
rescan = "1s"

[pull]
enabled = true
subjects = ["cost"]
`
	}
	f.writeConfig(companies, extra, tuning, office)
	return f
}

// writeConfig writes f.cfgPath: extra at the top, the shared folders with {company}, tuning's
// [send], [watch] and [pull], office as the body of [credentials.office], and one [[company]]
// table each, whose folder tree it creates.
func (f *fleetFixture) writeConfig(companies []fleetCompany, extra, tuning, office string) {
	f.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `%s
[ksef]
environment = "test"
url = %q

[folders]
outbox = "srv/{company}/outbox"
sent = "srv/{company}/sent"
error = "srv/{company}/error"
inbox = "srv/{company}/inbox"
state = "state"

%s
[http]
listen = ""

[credentials.office]
%s
`, extra, f.sim.URL(), tuning, office)
	for _, c := range companies {
		b.WriteString(fleetTable(c))
		f.mkdirs(c.name)
	}
	f.cfgPath = filepath.Join(f.dir, "config.toml")
	writeFile(f.t, f.cfgPath, []byte(b.String()))
}

func (f *fleetFixture) mkdirs(company string) {
	for _, k := range []string{"outbox", "sent", "error", "inbox"} {
		if err := os.MkdirAll(f.folder(company, k), 0o755); err != nil {
			f.t.Fatal(err)
		}
	}
}

// fleetTable is the [[company]] table of c.
func fleetTable(c fleetCompany) string {
	s := fmt.Sprintf("\n[[company]]\nname = %q\nnip = %q\n", c.name, c.nip)
	if c.auth == "" {
		return s + "credentials = \"office\"\n"
	}
	return s + "[company.auth]\n" + c.auth + "\n"
}

// officeCertificate writes the office's certificate and key into f.dir and returns the body of
// [credentials.office] that logs in with them. An office acts for its clients with its certificate:
// a KSeF token works only in the context it was generated in (CIRFMF/ksef-api #741).
func (f *fleetFixture) officeCertificate() string {
	f.t.Helper()
	certPEM, keyPEM, err := xades.GenerateTestCertificate(validCert(officeNIP, "ecdsa"))
	if err != nil {
		f.t.Fatal(err)
	}
	writeFile(f.t, filepath.Join(f.dir, "office-cert.pem"), certPEM)
	writeFile(f.t, filepath.Join(f.dir, "office-key.pem"), keyPEM)
	return "method = \"certificate\"\ncert_file = \"office-cert.pem\"\nkey_file = \"office-key.pem\"\n"
}

// tokenAuth writes tok into name and returns an [auth] body reading it.
func (f *fleetFixture) tokenAuth(name, tok string) string {
	writeFile(f.t, filepath.Join(f.dir, name), []byte(tok))
	return fmt.Sprintf("method = \"token\"\ntoken_file = %q", name)
}

// dropInvoices writes n invoices sold by nip into the company's outbox.
func (f *fleetFixture) dropInvoices(company, nip string, n int) {
	for i := range n {
		inv := samples.Invoice(i, nip, time.Now(), fmt.Sprintf("%s-%05d", company, i))
		writeFile(f.t, filepath.Join(f.folder(company, "outbox"), fmt.Sprintf("FV_%04d.xml", i)), inv)
	}
}

// sentRecords reads every .ksef.json of the company's sent/.
func (f *fleetFixture) sentRecords(company string) []engine.SentRecord {
	var out []engine.SentRecord
	for _, p := range glob(f.t, f.folder(company, "sent"), "*.ksef.json") {
		var r engine.SentRecord
		if err := json.Unmarshal(testutil.ReadFile(f.t, p), &r); err != nil {
			f.t.Fatalf("%s: %v", p, err)
		}
		out = append(out, r)
	}
	return out
}

// TestManyCompaniesEndToEnd is issue 13's must-show on the real binary: five companies in one
// daemon, three logging in with the office's certificate (granted in their contexts), one with its
// own token and one whose token KSeF refuses. 100 invoices dropped into each good outbox at once,
// plus a pull for each: every invoice lands in its own company's sent/ with its seller NIP, the
// received invoice in its inbox, and the refused company's invoices wait with a clear error in
// status while the others finish.
func TestManyCompaniesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("400 invoices through the real binary")
	}
	good := []fleetCompany{{name: "acme", nip: "5265877635"}, {name: "beta", nip: "1234567819"}, {name: "gamma", nip: "1234567825"},
		{name: "delta", nip: "1234567831"}}
	bad := fleetCompany{name: "omega", nip: "1234567848"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP,
		Grants: map[string][]string{officeNIP: {good[0].nip, good[1].nip, good[2].nip}}})
	refused := sim.Token(bad.nip)
	sim.RevokeToken(refused)
	fx := newFleetFixture(t, sim, nil, "", true)
	good[3].auth = fx.tokenAuth("delta.token", sim.Token(good[3].nip))
	bad.auth = fx.tokenAuth("omega.token", refused)
	var tables strings.Builder
	for _, c := range append(append([]fleetCompany{}, good...), bad) {
		tables.WriteString(fleetTable(c))
		fx.mkdirs(c.name)
	}
	cfg := string(testutil.ReadFile(t, fx.cfgPath)) + tables.String()
	writeFile(t, fx.cfgPath, []byte(cfg))
	if code, out, errOut := runCLI(t, "", nil, "check-config", "-config", fx.cfgPath); code != exitOK {
		t.Fatalf("check-config: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range good {
		if _, err := sim.Seed(ksefsim.SeedInvoice{SellerNIP: "3861610227", BuyerNIP: c.nip, PermanentStorageDate: time.Now().Add(-3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}

	_, log := startLoggedDaemon(t, fx.cfgPath)
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range good {
		wg.Go(func() { fx.dropInvoices(c.name, c.nip, 100) })
	}
	wg.Go(func() { fx.dropInvoices(bad.name, bad.nip, 5) })
	wg.Wait()

	pullArgs := []string{"pull", "-config", fx.cfgPath}
	for _, c := range good {
		pullArgs = append(pullArgs, "-company", c.name)
	}
	code, out, errOut := runCLI(t, "", nil, pullArgs...)
	// Each good company answers; the daemon's own first cycle may already have written a company's
	// one invoice ("written: 0" then), so what was pulled is checked in the inboxes below.
	if code != exitOK || strings.Count(out, "\nexports: ") != len(good) {
		t.Errorf("pull of the good companies while the daemon runs: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range good {
		eventually(t, c.name+"'s 100 outputs", 4*time.Minute, func() bool {
			return len(glob(t, fx.folder(c.name, "sent"), "*.ksef.json")) == 100
		})
		t.Logf("%s: 100 invoices sent after %s", c.name, time.Since(start).Round(time.Millisecond))
	}
	for _, c := range good {
		for _, r := range fx.sentRecords(c.name) {
			if r.SellerNIP != c.nip || r.Company != c.name || !strings.Contains(r.InvoiceNumber, c.name+"-") {
				t.Errorf("%s/sent holds %s of seller %s, company %q", c.name, r.InvoiceNumber, r.SellerNIP, r.Company)
				break
			}
		}
		if n := len(glob(t, fx.folder(c.name, "error"), "*")); n != 0 {
			t.Errorf("%s: %d files in error/", c.name, n)
		}
		if n := len(glob(t, filepath.Join(fx.folder(c.name, "inbox"), "cost", "*", "*"), "*.xml")); n != 1 {
			t.Errorf("%s: %d invoices pulled into the inbox, want 1", c.name, n)
		}
	}

	// The refused company: its invoices wait in the journal, and status says why, by name.
	var rep status.Report
	eventually(t, "omega's login error in status", time.Minute, func() bool {
		code, out, _ := runCLI(t, "", nil, "status", "-config", fx.cfgPath, "-json", "-company", "omega")
		if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Companies) != 1 {
			return false
		}
		c := rep.Companies[0]
		return c.LastError != nil && strings.Contains(c.LastError.Message, `company "omega": KSeF code 450`)
	})
	om := rep.Companies[0]
	if om.Name != "omega" || om.NIP != bad.nip || om.Queue["done"] != 0 || om.Invoices.InProgress != 5 {
		t.Errorf("omega in status: %+v", om)
	}
	if n := len(glob(t, fx.folder("omega", "sent"), "*")) + len(glob(t, fx.folder("omega", "error"), "*")); n != 0 {
		t.Errorf("omega has %d outputs, want none (its invoices wait)", n)
	}
	_, text, _ := runCLI(t, "", nil, "status", "-config", fx.cfgPath)
	for _, c := range append(good, bad) {
		if !strings.Contains(text, "Firma "+c.name+", NIP "+c.nip) {
			t.Errorf("status text does not list company %s:\n%s", c.name, text)
		}
	}
	st := sim.Stats()
	if st.RateLimited != 0 || st.DuplicateSubmissions != 0 || st.SpecViolations != 0 {
		t.Errorf("simulator saw 429s %d, duplicates %d, spec violations %d %v", st.RateLimited, st.DuplicateSubmissions, st.SpecViolations, st.SpecViolationDetails)
	}
	if len(st.Accepted) != 400 {
		t.Errorf("simulator accepted %d invoices, want 400", len(st.Accepted))
	}
	if !hasLine(log(), "level=ERROR", `company=omega`, "KSeF code 450") {
		t.Errorf("the daemon log does not name omega's refused login")
	}
}

// TestCompaniesDirLive: companies in companies_dir start, stop and (when their file changes)
// restart while the daemon runs, and the others are not touched (issue 13).
func TestCompaniesDirLive(t *testing.T) {
	acme, beta, gamma := fleetCompany{name: "acme", nip: "5265877635"}, fleetCompany{name: "beta", nip: "1234567819"},
		fleetCompany{name: "gamma", nip: "1234567825"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP,
		Grants: map[string][]string{officeNIP: {acme.nip, beta.nip, gamma.nip}}})
	fx := newFleetFixture(t, sim, nil, `companies_dir = "companies.d"`, true)
	dir := filepath.Join(fx.dir, "companies.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	companyFile := func(c fleetCompany) string { return filepath.Join(dir, c.name+".toml") }
	for _, c := range []fleetCompany{acme, beta} {
		fx.mkdirs(c.name)
		writeFile(t, companyFile(c), []byte(fmt.Sprintf("nip = %q\ncredentials = \"office\"\n", c.nip)))
	}
	_, log := startLoggedDaemon(t, fx.cfgPath)
	fx.dropInvoices(acme.name, acme.nip, 1)
	eventually(t, "acme's first invoice sent", time.Minute, func() bool {
		return len(glob(t, fx.folder(acme.name, "sent"), "*.ksef.json")) == 1
	})

	fx.mkdirs(gamma.name)
	writeFile(t, companyFile(gamma), []byte(fmt.Sprintf("nip = %q\ncredentials = \"office\"\n", gamma.nip)))
	if err := os.Remove(companyFile(beta)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "gamma started and beta stopped", time.Minute, func() bool {
		return hasLine(log(), "company started: newly configured", "company=gamma") &&
			hasLine(log(), "company stopped: it is no longer configured", "company=beta")
	})
	fx.dropInvoices(gamma.name, gamma.nip, 3)
	eventually(t, "gamma's invoices sent", time.Minute, func() bool {
		return len(glob(t, fx.folder(gamma.name, "sent"), "*.ksef.json")) == 3
	})
	for _, r := range fx.sentRecords(gamma.name) {
		if r.SellerNIP != gamma.nip || r.Company != gamma.name {
			t.Errorf("gamma/sent holds seller %s, company %q", r.SellerNIP, r.Company)
		}
	}

	// A CHANGED company file restarts that company only: gamma's outbox moves, and gamma then sends
	// from the new folder, while acme keeps running and sends a file dropped during the change.
	newOutbox := filepath.Join(fx.dir, "srv", "gamma", "outbox-new")
	if err := os.MkdirAll(newOutbox, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, companyFile(gamma), []byte(fmt.Sprintf("nip = %q\ncredentials = \"office\"\n[folders]\noutbox = \"srv/gamma/outbox-new\"\n", gamma.nip)))
	writeFile(t, filepath.Join(fx.folder(acme.name, "outbox"), "FV_DURING.xml"),
		samples.Invoice(1, acme.nip, time.Now(), "acme-during-change"))
	eventually(t, "gamma restarted for its changed file", time.Minute, func() bool {
		return hasLine(log(), "company restarted: its configuration changed", "company=gamma")
	})
	for i := range 2 {
		writeFile(t, filepath.Join(newOutbox, fmt.Sprintf("FV_NEW_%d.xml", i)),
			samples.Invoice(i, gamma.nip, time.Now(), fmt.Sprintf("gamma-new-%d", i)))
	}
	eventually(t, "gamma's invoices from its new outbox and acme's dropped meanwhile sent", time.Minute, func() bool {
		return len(glob(t, fx.folder(gamma.name, "sent"), "FV_NEW_*.ksef.json")) == 2 &&
			len(glob(t, fx.folder(acme.name, "sent"), "FV_DURING.ksef.json")) == 1
	})
	if hasLine(log(), "company=acme", "restarted") || hasLine(log(), "company=acme", "stopped") {
		t.Error("acme was restarted or stopped by another company's change")
	}
	if hasLine(log(), "config reloaded: nothing changed") {
		t.Error(`the log says "config reloaded: nothing changed" for a reload that started, stopped or restarted companies`)
	}
	_, out, _ := runCLI(t, "", nil, "status", "-config", fx.cfgPath, "-json")
	var rep status.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range rep.Companies {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "acme,gamma" {
		t.Errorf("status lists %v, want acme and gamma", names)
	}
}

// TestAuthCheckNamesTheMissingGrant: the office's certificate used for a company that has not
// granted the office permissions is refused by KSeF (415); `auth check` and `doctor` name the company and the
// permission, the other company's login succeeds, and -company selects (an unknown name is a usage
// error that lists the companies).
func TestAuthCheckNamesTheMissingGrant(t *testing.T) {
	const acme, zeta = "5265877635", "1234567854"
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: {acme}}})
	fx := &fleetFixture{t: t, dir: t.TempDir(), sim: sim}
	fx.writeConfig([]fleetCompany{{name: "acme", nip: acme}, {name: "zeta", nip: zeta}}, "", fleetUntuned,
		fx.officeCertificate())
	cfg := fx.cfgPath
	// The real binary: a login in this process would leave per-IP pacer history that other tests
	// of the package see (ksef.processIP).
	e := &e2e{t: t}
	code, out, errOut := e.runCmd(time.Minute, "auth", "check", "-config", cfg)
	if code != exitFatal || !strings.Contains(out, "company acme:\nlogin OK") {
		t.Errorf("exit %d, stdout:\n%s", code, out)
	}
	want := `company zeta: login FAILED: KSeF code 415: company "zeta" (NIP ` + zeta + `) has not granted [credentials.office] the permission to send and receive its invoices (InvoiceWrite, InvoiceRead)`
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr does not say %q:\n%s", want, errOut)
	}
	if code, out, _ := e.runCmd(time.Minute, "auth", "check", "-config", cfg, "-company", "acme"); code != exitOK || strings.Contains(out, "zeta") {
		t.Errorf("-company acme: exit %d\n%s", code, out)
	}
	code, out, _ = e.runCmd(2*time.Minute, "doctor", "-config", cfg, "-company", "zeta")
	if code != exitFatal || !strings.Contains(out, `[FAIL] company zeta: login (certificate): KSeF code 415: company "zeta"`) || strings.Contains(out, "company acme") {
		t.Errorf("doctor -company zeta: exit %d\n%s", code, out)
	}
	if code, _, errOut := e.runCmd(time.Minute, "status", "-config", cfg, "-company", "nobody"); code != exitUsage || !strings.Contains(errOut, "acme (NIP "+acme+")") {
		t.Errorf("status -company nobody: exit %d, %s", code, errOut)
	}
}

// TestAuthCheckLogsInSeveralCompaniesAtOnce: `auth check` does not wait for one company's login
// before it starts the next: while KSeF keeps the first logins at status 100 (as production has for
// half an hour, CIRFMF/ksef-api #567), the later companies' logins are under way too; the report
// still lists the companies in configuration order.
func TestAuthCheckLogsInSeveralCompaniesAtOnce(t *testing.T) {
	sim, fx, companies := officeOfThree(t)
	// The real binary, for the reason TestAuthCheckNamesTheMissingGrant gives.
	out := runWhileLoginsHeld(t, sim, len(companies), "auth", "check", "-config", fx.cfgPath)
	if !regexp.MustCompile(`(?s)^company acme:\nlogin OK.*company beta:\nlogin OK.*company gamma:\nlogin OK`).MatchString(out) {
		t.Errorf("the report does not list acme, beta, gamma in order:\n%s", out)
	}
}

// officeOfThree is an office whose certificate may act for three companies, acme, beta and gamma, with
// the default timings. Tests using it spawn the real binary.
func officeOfThree(t *testing.T) (*ksefsim.Server, *fleetFixture, []fleetCompany) {
	t.Helper()
	companies := []fleetCompany{{name: "acme", nip: "5265877635"}, {name: "beta", nip: "1234567819"}, {name: "gamma", nip: "1234567854"}}
	var nips []string
	for _, c := range companies {
		nips = append(nips, c.nip)
	}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: nips}})
	fx := &fleetFixture{t: t, dir: t.TempDir(), sim: sim}
	fx.writeConfig(companies, "", fleetUntuned, fx.officeCertificate())
	testutil.SkipUnderWine(t, "spawns the real binary")
	return sim, fx, companies
}

// runWhileLoginsHeld runs the binary with args while KSeF holds the next n logins at status 100
// until all n have started, which only a command working on n companies at once reaches, and
// returns its standard output. The command must succeed.
func runWhileLoginsHeld(t *testing.T, sim *ksefsim.Server, n int, args ...string) string {
	t.Helper()
	before := sim.Stats().LoginsStarted
	sim.HoldLogins(n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, args[0]+": every company's login started while the first ones are held", time.Minute, func() bool {
		return sim.Stats().LoginsStarted == before+n
	})
	sim.ReleaseLogins()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// TestSendAndPullWorkOnSeveralCompaniesAtOnce: without a daemon, `send` and `pull` work on an
// office's companies at the same time, as the daemon does (one after another, 400 companies waited
// for 400 logins, sends and exports), and still print each company's lines together under its
// "company NAME:" line in configuration order. KSeF holds every login at status 100 until all
// three have started, which one company at a time never reaches.
func TestSendAndPullWorkOnSeveralCompaniesAtOnce(t *testing.T) {
	sim, fx, companies := officeOfThree(t)
	for _, c := range companies {
		fx.dropInvoices(c.name, c.nip, 1)
	}
	for _, tc := range []struct {
		command string
		each    string // what each company's lines hold
	}{
		{"send", `accepted: 1\nrejected: 0\npending: 0\n`},
		{"pull", `exports: `},
	} {
		out := runWhileLoginsHeld(t, sim, len(companies), tc.command, "-config", fx.cfgPath)
		inOrder := `(?s)^company acme:\n` + tc.each + `.*company beta:\n` + tc.each + `.*company gamma:\n` + tc.each
		if !regexp.MustCompile(inOrder).MatchString(out) || strings.Count(out, "company ") != len(companies) {
			t.Errorf("%s does not print acme, beta, gamma in order, each with its own lines:\n%s", tc.command, out)
		}
	}
	for _, c := range companies {
		if n := len(fx.sentRecords(c.name)); n != 1 {
			t.Errorf("%s: %d invoices in sent/, want 1", c.name, n)
		}
	}
}

// TestFleetMetricsPerCompany: with two companies, /metrics of the real daemon labels every
// journal-derived series with the company's name and NIP and every KSeF request series with the
// name, each company with its own counts (issue 13: company.name is used in metrics).
func TestFleetMetricsPerCompany(t *testing.T) {
	acme, beta := fleetCompany{name: "acme", nip: "5265877635"}, fleetCompany{name: "beta", nip: "1234567819"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: {acme.nip, beta.nip}}})
	fx := newFleetFixture(t, sim, []fleetCompany{acme, beta}, "", true)
	port := freePort(t)
	cfg := strings.Replace(string(testutil.ReadFile(t, fx.cfgPath)), "[http]\nlisten = \"\"", fmt.Sprintf("[http]\nlisten = \"127.0.0.1:%d\"", port), 1)
	writeFile(t, fx.cfgPath, []byte(cfg))
	startLoggedDaemon(t, fx.cfgPath)
	fx.dropInvoices(acme.name, acme.nip, 3)
	fx.dropInvoices(beta.name, beta.nip, 2)
	web := webClient{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	want := map[string]float64{"acme/" + acme.nip + "/accepted": 3, "acme/" + acme.nip + "/rejected": 0,
		"beta/" + beta.nip + "/accepted": 2, "beta/" + beta.nip + "/rejected": 0}
	var fams map[string]*dto.MetricFamily
	eventually(t, "3 accepted for acme and 2 for beta in /metrics", 2*time.Minute, func() bool {
		if len(glob(t, fx.folder(acme.name, "sent"), "*.ksef.json")) < 3 || len(glob(t, fx.folder(beta.name, "sent"), "*.ksef.json")) < 2 {
			return false
		}
		code, text := web.get("/metrics", false)
		if code != http.StatusOK {
			return false
		}
		var got map[string]float64
		fams, got = parseMetrics(t, text)
		return cmp.Equal(want, got)
	})
	requests := map[string]float64{}
	for _, m := range fams["ksef_sync_ksef_requests_total"].GetMetric() {
		requests[labelMap(m)["company"]] += m.GetCounter().GetValue()
	}
	if requests["acme"] == 0 || requests["beta"] == 0 {
		t.Errorf("ksef_sync_ksef_requests_total by company: %v, want requests of acme and of beta", requests)
	}
	for _, m := range fams["ksef_sync_queue_invoices"].GetMetric() {
		if l := labelMap(m); (l["company"] != acme.name || l["nip"] != acme.nip) && (l["company"] != beta.name || l["nip"] != beta.nip) {
			t.Errorf("ksef_sync_queue_invoices series with labels %v", l)
		}
	}
}

// labelMap is a metric's labels by name.
// parseMetrics parses the text of /metrics with the Prometheus parser, failing the test when it does
// not parse, and returns its families with ksef_sync_invoices_total as "company/nip/outcome" → count.
func parseMetrics(t *testing.T, text string) (map[string]*dto.MetricFamily, map[string]float64) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	invoices := map[string]float64{}
	for _, m := range fams["ksef_sync_invoices_total"].GetMetric() {
		l := labelMap(m)
		invoices[l["company"]+"/"+l["nip"]+"/"+l["outcome"]] = m.GetCounter().GetValue()
	}
	return fams, invoices
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// TestPullOneOffPerCompany: `pull -since -out DIR` with several selected companies writes each
// into DIR/<company name>/, so their invoices never mix; with one company, into DIR itself.
func TestPullOneOffPerCompany(t *testing.T) {
	acme, beta := fleetCompany{name: "acme", nip: "5265877635"}, fleetCompany{name: "beta", nip: "1234567819"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: {acme.nip, beta.nip}}})
	fx := newFleetFixture(t, sim, []fleetCompany{acme, beta}, "", true)
	numbers := map[string]string{} // KSeF number of each company's received invoice
	for _, c := range []fleetCompany{acme, beta} {
		seeded, err := sim.Seed(ksefsim.SeedInvoice{SellerNIP: "3861610227", BuyerNIP: c.nip, PermanentStorageDate: time.Now().Add(-3 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		numbers[c.name] = seeded[0].KsefNumber
	}
	since := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	all := filepath.Join(fx.dir, "again")
	if code, out, errOut := runCLI(t, "", nil, "pull", "-config", fx.cfgPath, "-since", since, "-out", all); code != exitOK {
		t.Fatalf("pull -since of both companies: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range []fleetCompany{acme, beta} {
		if got := pulledXML(t, filepath.Join(all, c.name)); len(got) != 1 || !strings.Contains(got[0], numbers[c.name]) {
			t.Errorf("%s/%s holds %v, want only %s", all, c.name, got, numbers[c.name])
		}
	}
	if n := len(pulledXML(t, all)); n != 2 {
		t.Errorf("%s holds %d invoices in all, want 2 (one per company folder)", all, n)
	}

	one := filepath.Join(fx.dir, "acme-only")
	if code, out, errOut := runCLI(t, "", nil, "pull", "-config", fx.cfgPath, "-company", acme.name, "-since", since, "-out", one); code != exitOK {
		t.Fatalf("pull -since of acme: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(one, acme.name)); !os.IsNotExist(err) {
		t.Errorf("with one company the download has a company subfolder (%v)", err)
	}
	if got := pulledXML(t, one); len(got) != 1 || !strings.Contains(got[0], numbers[acme.name]) {
		t.Errorf("%s holds %v, want only %s", one, got, numbers[acme.name])
	}
}

// pulledXML lists the invoice XML files anywhere under dir (the inbox layout nests them).
func pulledXML(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".xml") {
			out = append(out, p)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestSendBesideTheDaemonCountsWhatItTookAlready: an accounting office's ERP hook runs `send
// -company` while the service runs. README promises the same summary and exit codes as `send`
// alone, which waits for every invoice of the company not final yet. An invoice the daemon has
// already claimed (it takes a renamed-in file within milliseconds, and here: a company whose token
// KSeF refuses, so it waits in the journal) must be reported as pending with exit 1, not as
// "nothing to do" with exit 0; the other company's summary stays its own.
func TestSendBesideTheDaemonCountsWhatItTookAlready(t *testing.T) {
	acme, omega := fleetCompany{name: "acme", nip: "5265877635"}, fleetCompany{name: "omega", nip: "1234567848"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: {acme.nip}}})
	refused := sim.Token(omega.nip)
	sim.RevokeToken(refused)
	fx := newFleetFixture(t, sim, nil, "", true)
	omega.auth = fx.tokenAuth("omega.token", refused)
	fx.writeConfig([]fleetCompany{acme, omega}, "", "[send]\ngather_window = \"300ms\"\npoll_interval = \"200ms\"\n[watch]\nsettle = \"300ms\"\nrescan = \"1s\"\n",
		fx.officeCertificate())

	startLoggedDaemon(t, fx.cfgPath)
	fx.dropInvoices(acme.name, acme.nip, 1)
	fx.dropInvoices(omega.name, omega.nip, 1)
	// acme's invoice done (its outputs written, not only accepted: an accepted invoice is one the
	// daemon has not finished, which send would wait for and count), omega's waiting in the journal.
	eventually(t, "acme's invoice sent and omega's waiting in the journal", time.Minute, func() bool {
		code, out, _ := runCLI(t, "", nil, "status", "-config", fx.cfgPath, "-json")
		var rep status.Report
		if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Companies) != 2 {
			return false
		}
		a, o := rep.Companies[0], rep.Companies[1]
		return a.Invoices.Accepted == 1 && a.Queue["done"] == 1 && o.Invoices.InProgress == 1 && o.Queue["claimed"] == 0 &&
			len(glob(t, fx.folder(omega.name, "outbox"), "*.xml")) == 0
	})

	code, out, errOut := runCLI(t, "", nil, "send", "-config", fx.cfgPath, "-company", "acme,omega", "-timeout", "2s")
	want := "company acme:\naccepted: 0\nrejected: 0\npending: 0\ncompany omega:\naccepted: 0\nrejected: 0\npending: 1\n"
	if code != exitFatal || out != want {
		t.Errorf("send beside the daemon: exit %d, want %d (omega's invoice is not final)\n%s\nwant:\n%s\n%s", code, exitFatal, out, want, errOut)
	}
	if !strings.Contains(errOut, "daemon is running") || !strings.Contains(errOut, "the 1 invoice(s) it has not finished yet") {
		t.Errorf("send does not say it follows the daemon's unfinished invoice: %s", errOut)
	}
}

// TestPullNamesTheMissingGrant: `pull -company` for a company that has not granted the office
// InvoiceRead ends with KSeF's 415 at login. Like `auth check`, the log and status (README, "Office
// credentials"), it names the company and the grant, and never advises generating a new token:
// the office's credentials are good, and revoking them would stop every other company.
func TestPullNamesTheMissingGrant(t *testing.T) {
	acme, zeta := fleetCompany{name: "acme", nip: "5265877635"}, fleetCompany{name: "zeta", nip: "1234567848"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: {acme.nip}}})
	fx := newFleetFixture(t, sim, nil, "", true)
	fx.writeConfig([]fleetCompany{acme, zeta}, "", fleetUntuned, fx.officeCertificate())

	code, out, errOut := runCLI(t, "", nil, "pull", "-config", fx.cfgPath, "-company", "acme,zeta")
	if code != exitFatal || strings.Count(out, "exports: ") != 2 {
		t.Fatalf("pull of a granted and a not granted company: exit %d, want %d\n%s%s", code, exitFatal, out, errOut)
	}
	if want := `company "zeta" (NIP 1234567848) has not granted [credentials.office] the permission`; !strings.Contains(errOut, want) {
		t.Errorf("pull's error does not name the missing grant (%s):\n%s", want, errOut)
	}
	if strings.Contains(errOut, "new token") || strings.Contains(errOut, `company "acme"`) {
		t.Errorf("pull's error advises a new token, or blames acme:\n%s", errOut)
	}
}
