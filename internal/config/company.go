package config

// Many companies in one service (issue 13). A configuration either has no [[company]] table and no
// companies_dir (the single-company form: one company named DefaultCompanyName, from [ksef] nip and
// [auth]) or lists its companies. Each company's sections are the top-level [folders], [send] and
// [pull] with the keys its own [company.*] tables set laid over them; its credentials are either a
// named [credentials.NAME] or its own [company.auth]. Everything else (KSeF environment, watch,
// log, http, notify, the state folder and so the one journal) is shared.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultCompanyName names the one company of the single-company form (logs, status, {company}).
const DefaultCompanyName = "default"

// CompanyTable is one [[company]] table, or one file in companies_dir, as written.
type CompanyTable struct {
	Name        string  `toml:"name"`        // letters, digits, '-' and '_'; unique
	NIP         string  `toml:"nip"`         // the company's context NIP; unique
	Credentials string  `toml:"credentials"` // a [credentials.NAME] to log in with, or "" with [company.auth]
	Auth        Auth    `toml:"auth"`
	Folders     Folders `toml:"folders"`
	Send        Send    `toml:"send"`
	Pull        Pull    `toml:"pull"`

	set  map[string]bool // "send.mode" for every key the table sets: only those override
	file string          // the companies_dir file it came from; "" for a [[company]] table
}

// Company is everything that is per company, after defaults and overrides are applied.
type Company struct {
	Name string
	NIP  string
	// Credential names the [credentials.NAME] the company logs in with ("" for its own).
	Credential string
	// File is the companies_dir file the company comes from ("" for [[company]] or the single form).
	File    string
	KSeF    KSeF
	Auth    Auth
	Folders Folders
	Send    Send
	Pull    Pull
}

// MultiCompany reports whether the file lists its companies ([[company]] or companies_dir).
func (c *Config) MultiCompany() bool { return len(c.Company) > 0 || c.CompaniesDir != "" }

// Companies returns the companies the daemon serves: exactly one in the single-company form.
func (c *Config) Companies() []Company {
	if c.fleet != nil {
		return c.fleet
	}
	return []Company{{Name: DefaultCompanyName, NIP: c.KSeF.NIP, KSeF: c.KSeF, Auth: c.Auth,
		Folders: c.Folders, Send: c.Send, Pull: c.Pull}}
}

// CompanyNamed returns the company called name, or the one whose NIP is name.
func (c *Config) CompanyNamed(name string) (Company, bool) {
	for _, co := range c.Companies() {
		if co.Name == name || co.NIP == name {
			return co, true
		}
	}
	return Company{}, false
}

// ForCompany is the configuration as one company sees it: the shared sections plus the company's
// NIP, credentials, folders, [send] and [pull]. Code written for one company takes it unchanged.
func (c *Config) ForCompany(co Company) *Config {
	v := *c
	v.KSeF, v.Auth, v.Folders, v.Send, v.Pull = co.KSeF, co.Auth, co.Folders, co.Send, co.Pull
	v.fleet = []Company{co}
	return &v
}

// CompanyName is the name of the configuration's company when it has exactly one (a ForCompany
// view or the single-company form); "" otherwise.
func (c *Config) CompanyName() string {
	if cs := c.Companies(); len(cs) == 1 {
		return cs[0].Name
	}
	return ""
}

// MetaScope is what scopes the journal meta keys of this configuration's company: its NIP when one
// journal serves listed companies, "" in the single-company form (whose keys stay as they were).
func (c *Config) MetaScope() string {
	if c.MultiCompany() {
		return c.KSeF.NIP
	}
	return ""
}

// MetaKey is key in scope (see MetaScope).
func MetaKey(key, scope string) string {
	if scope == "" {
		return key
	}
	return key + "@" + scope
}

var companyNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// expandFolders replaces {company} and {nip} in the folder paths of f.
func expandFolders(f *Folders, name, nip string) {
	r := strings.NewReplacer("{company}", name, "{nip}", nip)
	for _, p := range []*string{&f.Outbox, &f.Sent, &f.Error, &f.Inbox, &f.QR} {
		*p = r.Replace(*p)
	}
}

// noteSetKeys remembers, from the raw decoded file, which keys each company table and each named
// credential sets, so only those override the defaults.
func (c *Config) noteSetKeys(raw map[string]any) {
	tables, _ := raw["company"].([]map[string]any)
	for i := range c.Company {
		if i < len(tables) {
			c.Company[i].set = setKeys(tables[i], "")
		}
	}
	c.credSet = map[string]map[string]bool{}
	creds, _ := raw["credentials"].(map[string]any)
	for name, v := range creds {
		if m, ok := v.(map[string]any); ok {
			c.credSet[name] = setKeys(m, "")
		}
	}
	_, c.topAuth = raw["auth"]
}

func setKeys(m map[string]any, prefix string) map[string]bool {
	out := map[string]bool{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for kk := range setKeys(sub, prefix+k+".") {
				out[kk] = true
			}
			continue
		}
		out[prefix+k] = true
	}
	return out
}

// overlay copies into dst (a pointer to a section struct) every field of src whose key, prefixed
// with section, is in set.
func overlay(dst, src any, section string, set map[string]bool) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := range dv.NumField() {
		tag := strings.Split(dv.Type().Field(i).Tag.Get("toml"), ",")[0]
		if tag != "" && tag != "-" && set[section+tag] {
			dv.Field(i).Set(sv.Field(i))
		}
	}
}

// loadCompaniesDir reads companies_dir: every *.toml file is one more company table; a missing
// name is the file's name without .toml.
func (c *Config) loadCompaniesDir(dir string) Problems {
	var ps Problems
	if c.CompaniesDir == "" {
		return nil
	}
	if !isAbs(c.CompaniesDir) {
		c.CompaniesDir = filepath.Join(dir, c.CompaniesDir)
	}
	files, err := filepath.Glob(filepath.Join(c.CompaniesDir, "*.toml"))
	// A hidden file is no company, as a shell's *.toml would not list it: an editor's or a share's
	// leftover such as macOS's AppleDouble "._acme.toml" (binary, written beside every file a Mac
	// copies to an SMB share) would otherwise make the whole configuration fail to load.
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasPrefix(filepath.Base(f), ".") })
	if err == nil && len(files) == 0 {
		if _, serr := os.Stat(c.CompaniesDir); serr != nil {
			err = serr
		}
	}
	if err != nil {
		ps.add("companies_dir", "cannot read %s: %v", c.CompaniesDir, unwrapPathError(err))
		return ps
	}
	slices.Sort(files)
	for _, f := range files {
		t, fps := parseCompanyFile(f)
		ps = append(ps, fps...)
		if t != nil {
			c.Company = append(c.Company, *t)
		}
	}
	return ps
}

// parseCompanyFile decodes one companies_dir file; its problems name the file.
func parseCompanyFile(path string) (*CompanyTable, Problems) {
	var ps Problems
	where := fmt.Sprintf("company file %s", filepath.Base(path))
	data, err := os.ReadFile(path)
	if err != nil {
		ps.add(where, "%v", err)
		return nil, ps
	}
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		ps.add(where, "the file is not valid TOML: %s", syntaxMessage(err))
		return nil, ps
	}
	var t CompanyTable
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&t)
	if err != nil {
		key, msg := valueError(err)
		ps.add(where+": "+key, "%s", msg)
		return nil, ps
	}
	known := companyKeys()
	for _, k := range md.Undecoded() {
		name := k.String()
		ps.add(where+": "+name, "%s", unknownKey(name, closest(name, known)))
	}
	t.set, t.file = setKeys(raw, ""), path
	if t.Name == "" {
		t.Name = strings.TrimSuffix(filepath.Base(path), ".toml")
	}
	return &t, ps
}

// companyKeys lists the keys a company table accepts ("name", "send.mode").
func companyKeys() []string {
	var keys []string
	for _, k := range knownKeys() {
		if rest, ok := strings.CutPrefix(k, "company."); ok {
			keys = append(keys, rest)
		}
	}
	return keys
}

// buildFleet applies defaults and overrides to every company table; resolvePaths has already run
// on the top level (dir is the configuration file's folder, for the companies' relative paths).
func (c *Config) buildFleet(dir string) {
	c.fleet = make([]Company, 0, len(c.Company))
	for _, t := range c.Company {
		co := Company{Name: t.Name, NIP: t.NIP, Credential: t.Credentials, File: t.file,
			KSeF: c.KSeF, Auth: c.Auth, Folders: c.Folders, Send: c.Send, Pull: c.Pull}
		co.KSeF.NIP = t.NIP
		switch {
		case t.Credentials != "":
			co.Auth = c.credential(t.Credentials)
		case hasSection(t.set, "auth"):
			co.Auth = Defaults().Auth
			overlay(&co.Auth, t.Auth, "auth.", t.set)
		}
		overlay(&co.Folders, t.Folders, "folders.", t.set)
		overlay(&co.Send, t.Send, "send.", t.set)
		overlay(&co.Pull, t.Pull, "pull.", t.set)
		co.Pull.StartTime, _ = parseStart(co.Pull.Start) // validated with the company
		v := Config{Auth: co.Auth, Folders: co.Folders}
		v.resolvePaths(dir)
		co.Auth, co.Folders = v.Auth, v.Folders
		expandFolders(&co.Folders, co.Name, co.NIP)
		c.fleet = append(c.fleet, co)
	}
}

// credential is [credentials.name] over the [auth] defaults; zero when it does not exist.
func (c *Config) credential(name string) Auth {
	a, ok := c.Credentials[name]
	if !ok {
		return Auth{}
	}
	out := Defaults().Auth
	overlay(&out, a, "", c.credSet[name])
	v := Config{Auth: out}
	v.resolvePaths(filepath.Dir(c.Path))
	return v.Auth
}

func hasSection(set map[string]bool, section string) bool {
	for k := range set {
		if strings.HasPrefix(k, section+".") {
			return true
		}
	}
	return false
}

// validateFleet checks the named credentials once, every company on its own (its problems start
// with `company "NAME": `) and what companies may not share: names, NIPs and outboxes.
func (c *Config) validateFleet() Problems {
	var ps Problems
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range c.Credentials {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		var cps Problems
		(&Config{Auth: c.credential(n)}).validateAuth(&cps)
		for _, p := range cps {
			ps.add("credentials."+n+"."+strings.TrimPrefix(p.Key, "auth."), "%s", p.Msg)
		}
	}
	for i, co := range c.fleet {
		ps = append(ps, c.validateOneCompany(co, c.Company[i])...)
	}
	ps = append(ps, c.validateUnique()...)
	ps = append(ps, c.validateOutboxesApart()...)
	if len(c.fleet) == 0 {
		ps.add("companies_dir", "no company is configured: add a [[company]] table or a file to %s", c.CompaniesDir)
	}
	return ps
}

// validateOneCompany checks one company as if it were the only one, naming it in every problem.
func (c *Config) validateOneCompany(co Company, t CompanyTable) Problems {
	var ps Problems
	if !companyNameRE.MatchString(co.Name) {
		ps.add("name", "%q is not a company name: use letters, digits, '-' and '_' only (it appears in folder paths, logs and status)", co.Name)
	}
	switch {
	case co.Credential != "" && hasSection(t.set, "auth"):
		ps.add("credentials", "set either credentials = %q or a [company.auth] table, not both", co.Credential)
	case co.Credential != "":
		if _, ok := c.Credentials[co.Credential]; !ok {
			ps.add("credentials", "there is no [credentials.%s] table", co.Credential)
		}
	case !hasSection(t.set, "auth") && !c.topAuth:
		ps.add("credentials", "missing: name a [credentials.NAME] table (credentials = \"office\") or add a [company.auth] table")
	}
	if t.set["folders.state"] {
		ps.add("folders.state", "the state folder is shared by every company (one journal): set it in the top-level [folders] only")
	}
	if strings.Contains(co.Folders.State, "{company}") || strings.Contains(co.Folders.State, "{nip}") {
		ps.add("folders.state", "the state folder is shared by every company: it may not contain {company} or {nip}")
	}
	v := c.ForCompany(co)
	v.validateCompany(&ps, co.Credential == "")
	if co.Credential != "" {
		v.validateOfflineCert(&ps)
	}
	where := fmt.Sprintf("company %q", co.Name)
	if co.File != "" {
		where = fmt.Sprintf("company %q (%s)", co.Name, filepath.Base(co.File))
	}
	for i := range ps {
		ps[i].Key = where + ": " + ps[i].Key
	}
	return ps
}

// validateOutboxesApart refuses a company's outbox that is another company's sent, error, inbox or
// qr folder: every output written there (the other company's registered invoices, their UPOs, its
// rejected files) would be taken from the ERP's folder and sent, or rejected, as this company's.
// One company's folders are kept apart by validateFolders; this is the same rule across companies.
func (c *Config) validateOutboxesApart() Problems {
	var ps Problems
	outboxes := map[string]string{}
	for _, co := range c.fleet {
		if co.Folders.Outbox != "" {
			outboxes[normPath(co.Folders.Outbox)] = co.Name
		}
	}
	for _, co := range c.fleet {
		for _, fd := range []struct{ key, path string }{{"folders.sent", co.Folders.Sent}, {"folders.error", co.Folders.Error},
			{"folders.inbox", co.Folders.Inbox}, {"folders.qr", co.Folders.QR}} {
			if other, ok := outboxes[normPath(fd.path)]; ok && fd.path != "" && other != co.Name {
				ps.add(fmt.Sprintf("company %q: %s", co.Name, fd.key),
					"is the outbox of company %q: its files would be taken from there and sent as %q's; give every company folders of its own (use {company} in the path)", other, other)
			}
		}
	}
	return ps
}

// validateUnique refuses two companies with one name, one NIP or one outbox.
func (c *Config) validateUnique() Problems {
	var ps Problems
	names, nips, outboxes := map[string]string{}, map[string]string{}, map[string]string{}
	for _, co := range c.fleet {
		where := fmt.Sprintf("company %q", co.Name)
		if _, dup := names[co.Name]; dup {
			ps.add(where+": name", "another company has this name: every name must be unique")
		}
		names[co.Name] = co.Name
		if other, dup := nips[co.NIP]; dup && co.NIP != "" {
			ps.add(where+": nip", "company %q has the same NIP: every company must have its own", other)
		}
		nips[co.NIP] = co.Name
		if co.Folders.Outbox == "" {
			continue
		}
		n := normPath(co.Folders.Outbox)
		if other, dup := outboxes[n]; dup {
			ps.add(where+": folders.outbox", "is the outbox of company %q too: two companies may not share an outbox (use {company} in the path)", other)
		}
		outboxes[n] = co.Name
	}
	return ps
}
