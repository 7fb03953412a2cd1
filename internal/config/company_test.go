package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fleetConfig is the many-companies example of issue 13 with local paths.
const fleetConfig = `
[ksef]
environment = "test"

[folders]
outbox = "srv/{company}/outbox"
sent   = "srv/{company}/sent"
error  = "srv/{company}/error"
inbox  = "srv/{nip}/inbox"
state  = "state"

[send]
gather_window = "5s"

[credentials.office]
method = "token"
token_file = "secrets/token.txt"

[[company]]
name = "acme"
nip = "5265877635"
credentials = "office"

[[company]]
name = "beta"
nip = "1111111111"
[company.auth]
method = "token"
token_env = "BETA_TOKEN"
[company.folders]
outbox = "other/beta/out"
[company.send]
mode = "batch"
[company.pull]
enabled = true
`

func TestFleetConfig(t *testing.T) {
	path := writeConfig(t, fleetConfig)
	cfg := mustLoad(t, path)
	dir := filepath.Dir(path)
	cos := cfg.Companies()
	if len(cos) != 2 {
		t.Fatalf("companies = %d, want 2", len(cos))
	}
	acme, beta := cos[0], cos[1]
	if acme.Name != "acme" || acme.NIP != "5265877635" || acme.KSeF.NIP != "5265877635" || acme.Credential != "office" {
		t.Errorf("acme = %+v", acme)
	}
	if acme.Auth.TokenFile != filepath.Join(dir, "secrets", "token.txt") || acme.Auth.SubjectIdentifier != "certificateSubject" {
		t.Errorf("acme logs in with %+v, want the office credential over the [auth] defaults", acme.Auth)
	}
	if want := filepath.Join(dir, "srv", "acme", "outbox"); acme.Folders.Outbox != want {
		t.Errorf("acme outbox = %s, want %s ({company} replaced)", acme.Folders.Outbox, want)
	}
	if want := filepath.Join(dir, "srv", "5265877635", "inbox"); acme.Folders.Inbox != want {
		t.Errorf("acme inbox = %s, want %s ({nip} replaced)", acme.Folders.Inbox, want)
	}
	if acme.Send.Mode != "auto" || acme.Send.GatherWindow.Duration != 5*time.Second || acme.Pull.Enabled {
		t.Errorf("acme send/pull = %+v %+v, want the top-level defaults", acme.Send, acme.Pull)
	}
	if beta.Auth.TokenEnv != "BETA_TOKEN" || beta.Auth.TokenFile != "" || beta.Credential != "" {
		t.Errorf("beta auth = %+v, want its own [company.auth]", beta.Auth)
	}
	if want := filepath.Join(dir, "other", "beta", "out"); beta.Folders.Outbox != want {
		t.Errorf("beta outbox = %s, want the override %s", beta.Folders.Outbox, want)
	}
	if want := filepath.Join(dir, "srv", "beta", "sent"); beta.Folders.Sent != want {
		t.Errorf("beta sent = %s, want the default %s", beta.Folders.Sent, want)
	}
	if beta.Send.Mode != "batch" || beta.Send.GatherWindow.Duration != 5*time.Second || !beta.Pull.Enabled || beta.Pull.StartTime.IsZero() {
		t.Errorf("beta send/pull = %+v %+v, want mode batch over the defaults and pull enabled", beta.Send, beta.Pull)
	}
	if beta.Folders.State != acme.Folders.State || beta.Folders.State != filepath.Join(dir, "state") {
		t.Errorf("state folders %s and %s, want one shared", acme.Folders.State, beta.Folders.State)
	}
	v := cfg.ForCompany(beta)
	if v.KSeF.NIP != "1111111111" || v.Folders.Outbox != beta.Folders.Outbox || v.CompanyName() != "beta" || v.Send.Mode != "batch" {
		t.Errorf("ForCompany(beta) = %+v", v)
	}
	if co, ok := cfg.CompanyNamed("1111111111"); !ok || co.Name != "beta" {
		t.Errorf("CompanyNamed by NIP = %+v, %v", co, ok)
	}
}

func TestSingleCompanyIsNamedDefault(t *testing.T) {
	cfg := mustLoad(t, writeConfig(t, strings.Replace(baseConfig, `outbox = "ksef/outbox"`, `outbox = "ksef/{company}-{nip}/outbox"`, 1)))
	if cfg.MultiCompany() || cfg.CompanyName() != DefaultCompanyName {
		t.Errorf("single-company form: multi=%v name=%q", cfg.MultiCompany(), cfg.CompanyName())
	}
	if !strings.HasSuffix(cfg.Folders.Outbox, filepath.Join("ksef", "default-5265877635", "outbox")) {
		t.Errorf("outbox = %s, want {company} and {nip} replaced", cfg.Folders.Outbox)
	}
}

func TestFleetProblems(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // substrings of "key: msg" lines, each must appear
	}{
		{"unknown key in a company", strings.Replace(fleetConfig, `outbox = "other/beta/out"`, `outbx = "other/beta/out"`, 1),
			[]string{`company "beta": folders.outbx: unknown key folders.outbx; did you mean folders.outbox?`}},
		{"unknown credential key", strings.Replace(fleetConfig, `token_file = "secrets/token.txt"`, "token_file = \"secrets/token.txt\"\nmethd = 1", 1),
			[]string{`credentials.office.methd: unknown key credentials.office.methd; did you mean credentials.office.method?`}},
		{"company folder problem", strings.Replace(fleetConfig, `outbox = "other/beta/out"`, `outbox = "srv/beta/sent"`, 1),
			[]string{`company "beta": folders.sent: is the same folder as folders.outbox`}},
		{"duplicate name and NIP", strings.Replace(strings.Replace(fleetConfig, `name = "beta"`, `name = "acme"`, 1), `nip = "1111111111"`, `nip = "5265877635"`, 1),
			[]string{`company "acme": name: another company has this name`, `company "acme": nip: company "acme" has the same NIP`}},
		{"shared outbox", strings.Replace(fleetConfig, `outbox = "other/beta/out"`, `outbox = "srv/acme/outbox"`, 1),
			[]string{`company "beta": folders.outbox: is the outbox of company "acme" too`}},
		{"bad name", strings.Replace(fleetConfig, `name = "beta"`, `name = "beta corp"`, 1),
			[]string{`company "beta corp": name: "beta corp" is not a company name`}},
		{"missing credential", strings.Replace(fleetConfig, `credentials = "office"`, `credentials = "ofice"`, 1),
			[]string{`company "acme": credentials: there is no [credentials.ofice] table`}},
		{"bad NIP", strings.Replace(fleetConfig, `nip = "1111111111"`, `nip = "1111111112"`, 1),
			[]string{`company "beta": ksef.nip: "1111111112" has a wrong check digit`}},
		{"state per company", strings.Replace(fleetConfig, `outbox = "other/beta/out"`, "outbox = \"other/beta/out\"\nstate = \"s2\"", 1),
			[]string{`company "beta": folders.state: the state folder is shared by every company`}},
		{"top-level nip", strings.Replace(fleetConfig, `environment = "test"`, "environment = \"test\"\nnip = \"5265877635\"", 1),
			[]string{`ksef.nip: with [[company]] tables`}},
		{"bad type in a company", strings.Replace(fleetConfig, `mode = "batch"`, `mode = 3`, 1),
			[]string{`company.send.mode: wrong type`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := loadProblems(t, tt.text)
			got := ps.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems do not say %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestCompaniesDir(t *testing.T) {
	text := strings.Replace(fleetConfig, `environment = "test"`, "environment = \"test\"", 1)
	text = "companies_dir = \"companies.d\"\n" + text
	path := writeConfig(t, text)
	dir := filepath.Join(filepath.Dir(path), "companies.d")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("gamma.toml", "nip = \"3861610227\"\ncredentials = \"office\"\n[send]\nmode = \"online\"\n")
	write("notes.txt", "not a company")
	cfg := mustLoad(t, path)
	g, ok := cfg.CompanyNamed("gamma")
	if !ok || g.NIP != "3861610227" || g.Send.Mode != "online" || g.File != filepath.Join(dir, "gamma.toml") {
		t.Fatalf("gamma = %+v, %v; companies %d", g, ok, len(cfg.Companies()))
	}
	if !strings.HasSuffix(g.Folders.Outbox, filepath.Join("srv", "gamma", "outbox")) {
		t.Errorf("gamma outbox = %s", g.Folders.Outbox)
	}
	write("delta.toml", "nip = \"3861610227\"\ncredentials = \"office\"\n[folders]\noutbx = \"x\"\n")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "company file delta.toml: folders.outbx: unknown key folders.outbx; did you mean folders.outbox?") ||
		!strings.Contains(err.Error(), `company "gamma": nip: company "delta" has the same NIP`) {
		t.Errorf("Load = %v, want the file's unknown key and the shared NIP", err)
	}
}
