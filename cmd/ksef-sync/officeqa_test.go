package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

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
		"method = \"token\"\ntoken_file = \"office.token\"\n")
	writeFile(t, fx.dir+"/office.token", []byte(sim.Token(officeNIP)))

	cmd, lines := startBinary(t, "run", "-config", fx.cfgPath)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	keepLog(t, lines)
	fx.dropInvoices(acme.name, acme.nip, 1)
	fx.dropInvoices(omega.name, omega.nip, 1)
	eventually(t, "acme's invoice sent and omega's waiting in the journal", time.Minute, func() bool {
		code, out, _ := runCLI(t, "", nil, "status", "-config", fx.cfgPath, "-json")
		var rep status.Report
		if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Companies) != 2 {
			return false
		}
		a, o := rep.Companies[0], rep.Companies[1]
		return a.Invoices.Accepted == 1 && o.Invoices.InProgress == 1 && o.Queue["claimed"] == 0 &&
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
// the office's token is good, and revoking it would stop every other company.
func TestPullNamesTheMissingGrant(t *testing.T) {
	acme, zeta := fleetCompany{name: "acme", nip: "5265877635"}, fleetCompany{name: "zeta", nip: "1234567848"}
	sim := startSim(t, ksefsim.Options{DefaultNIP: officeNIP, Grants: map[string][]string{officeNIP: {acme.nip}}})
	fx := newFleetFixture(t, sim, nil, "", true)
	fx.writeConfig([]fleetCompany{acme, zeta}, "", fleetUntuned, "method = \"token\"\ntoken_file = \"office.token\"\n")
	writeFile(t, fx.dir+"/office.token", []byte(sim.Token(officeNIP)))

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
