package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ksef-sync/ksef-sync/internal/nip"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// KSeF hard limits (ksef/limits.go); the config may only be stricter.
const (
	maxBatchInvoices  = ksef.MaxBatchInvoices
	maxBatchPartSize  = ksef.MaxBatchPartSize
	maxInvoiceSizeCap = ksef.MaxRaisedInvoiceSize
)

var (
	validSubjects = []string{"cost", "sales", "subject3", "authorized"}
	layoutTokens  = []string{"subject", "yyyy", "mm", "dd", "ksefNumber", "sellerNip"}
)

func (c *Config) validate() Problems {
	var ps Problems
	c.validateKSeF(&ps)
	c.validateWatch(&ps)
	c.validateRender(&ps)
	c.validateLog(&ps)
	c.validateHTTP(&ps)
	c.validateListen(&ps)
	c.validateNotify(&ps)
	c.validateStatusURL(&ps) // offline.go
	if !c.MultiCompany() {
		c.validateCompany(&ps, true)
		return ps
	}
	return append(ps, c.validateFleet()...) // company.go
}

// validateCompany checks what each company has of its own: NIP, credentials, folders, [send] and
// [pull]. withAuth is false when the company logs in with a named credential, checked once.
func (c *Config) validateCompany(ps *Problems, withAuth bool) {
	if msg := CheckNIP(c.KSeF.NIP); msg != "" {
		ps.add("ksef.nip", "%s", msg)
	}
	if withAuth {
		c.validateAuth(ps)
		c.validateOfflineCert(ps)
	}
	c.validateFolders(ps)
	c.validateSend(ps)
	c.validatePull(ps)
	c.validateQRFolder(ps)
	c.validateOfflineMode(ps)
}

func oneOf(ps *Problems, key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		ps.add(key, "%q is not allowed: use %s", value, quoteList(allowed))
	}
}

func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func positive(ps *Problems, key string, d Duration) {
	if d.Duration <= 0 {
		ps.add(key, "must be a positive duration such as \"30s\" (got %s)", d.Duration)
	}
}

func (c *Config) validateKSeF(ps *Problems) {
	k := c.KSeF
	switch {
	case k.Environment == "":
		ps.add("ksef.environment", "missing: set environment = \"test\", \"demo\" or \"prod\"")
	default:
		oneOf(ps, "ksef.environment", k.Environment, "test", "demo", "prod")
	}
	if k.URL != "" {
		u, err := url.Parse(k.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("ksef.url", "%q is not an absolute http(s) URL, e.g. \"http://127.0.0.1:8080/v2\"; leave it empty to use the environment's URL", k.URL)
		}
	}
	if c.MultiCompany() && k.NIP != "" {
		ps.add("ksef.nip", "with [[company]] tables (or companies_dir) every company sets its own nip: remove ksef.nip")
	}
}

// CheckNIP returns why nip is not a valid Polish tax identifier, or "".
func CheckNIP(id string) string {
	switch {
	case id == "":
		return "missing: set the company's NIP (10 digits, no dashes)"
	case !nip.TenDigits(id):
		return fmt.Sprintf("%q is not 10 digits: write the NIP without dashes, spaces or a PL prefix", id)
	case !nip.Valid(id):
		return fmt.Sprintf("%q has a wrong check digit: check for a typo", id)
	}
	return ""
}

func (c *Config) validateAuth(ps *Problems) {
	a := c.Auth
	switch a.Method {
	case "token":
		switch {
		case a.TokenFile == "" && a.TokenEnv == "":
			ps.add("auth.token_file", "token authentication needs token_file (a file holding the KSeF token) or token_env (an environment variable name)")
		case a.TokenFile != "" && a.TokenEnv != "":
			ps.add("auth.token_env", "set either token_file or token_env, not both")
		case a.TokenFile != "":
			checkExists(ps, "auth.token_file", a.TokenFile)
		}
	case "certificate":
		c.validateCertificate(ps)
	default:
		ps.add("auth.method", "%q is not allowed: use \"token\" or \"certificate\"", a.Method)
	}
	if _, err := time.Parse("2006-01-02", a.TokenDeadline); err != nil && a.TokenDeadline != "" {
		ps.add("auth.token_deadline", "%q is not a date: use the day KSeF stops accepting tokens, e.g. \"2027-01-01\"", a.TokenDeadline)
	}
}

func (c *Config) validateCertificate(ps *Problems) {
	a := c.Auth
	pem := a.CertFile != "" || a.KeyFile != ""
	switch {
	case pem && a.P12File != "":
		ps.add("auth.p12_file", "set either p12_file or cert_file + key_file, not both")
	case a.P12File != "":
		checkExists(ps, "auth.p12_file", a.P12File)
	case a.CertFile == "" && a.KeyFile == "":
		ps.add("auth.cert_file", "certificate authentication needs cert_file + key_file (PEM) or p12_file (PKCS#12)")
	case a.CertFile == "":
		ps.add("auth.cert_file", "key_file is set but cert_file is missing")
	case a.KeyFile == "":
		ps.add("auth.key_file", "cert_file is set but key_file is missing")
	default:
		checkExists(ps, "auth.cert_file", a.CertFile)
		checkExists(ps, "auth.key_file", a.KeyFile)
	}
	if a.KeyPasswordEnv != "" && a.KeyPasswordFile != "" {
		ps.add("auth.key_password_env", "set either key_password_env or key_password_file, not both")
	}
	if a.KeyPasswordFile != "" {
		checkExists(ps, "auth.key_password_file", a.KeyPasswordFile)
	}
	oneOf(ps, "auth.subject_identifier", a.SubjectIdentifier, "certificateSubject", "certificateFingerprint")
}

// checkExists only stats the file: its content is read when needed, so a secret is never held longer.
func checkExists(ps *Problems, key, p string) {
	if _, err := os.Stat(p); err != nil {
		ps.add(key, "cannot read %s: %v", p, unwrapPathError(err))
	}
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func (c *Config) validateFolders(ps *Problems) {
	f := c.Folders
	folders := []struct{ key, path string }{
		{"folders.outbox", f.Outbox}, {"folders.sent", f.Sent}, {"folders.error", f.Error},
		{"folders.inbox", f.Inbox}, {"folders.state", f.State},
	}
	seen := map[string]string{}
	for _, fd := range folders {
		if fd.path == "" {
			if fd.key != "folders.inbox" || c.Pull.Enabled {
				ps.add(fd.key, "missing: set the folder path")
			}
			continue
		}
		n := normPath(fd.path)
		if other, dup := seen[n]; dup {
			ps.add(fd.key, "is the same folder as %s: every folder must be different", other)
			continue
		}
		seen[n] = fd.key
	}
	if f.Outbox != "" && f.Sent != "" && normPath(f.Outbox) != normPath(f.Sent) && isInside(f.Outbox, f.Sent) {
		ps.add("folders.outbox", "is inside folders.sent: sent invoices would be picked up again")
	}
	if isUNC(f.State) {
		ps.add("folders.state", "%s is a network path: state must be on a local disk (the journal needs reliable locking and fsync)", f.State)
	}
}

// normPath gives a comparable form: forward slashes, cleaned, and lower case where the file system
// ignores case (Windows paths, whatever OS checks them).
func normPath(p string) string {
	unc := isUNC(p)
	p = path.Clean(strings.ReplaceAll(p, `\`, "/"))
	if unc && !strings.HasPrefix(p, "//") {
		p = "/" + p
	}
	if caseInsensitivePaths || unc || hasDriveLetter(p) {
		p = strings.ToLower(p)
	}
	return p
}

func isInside(child, parent string) bool {
	c, p := normPath(child), normPath(parent)
	return strings.HasPrefix(c, strings.TrimSuffix(p, "/")+"/")
}

func (c *Config) validateSend(ps *Problems) {
	s := c.Send
	oneOf(ps, "send.mode", s.Mode, "auto", "online", "batch")
	oneOf(ps, "send.compression", s.Compression, "zip", "targz")
	positive(ps, "send.gather_window", s.GatherWindow)
	positive(ps, "send.session_idle_close", s.SessionIdleClose)
	positive(ps, "send.poll_interval", s.PollInterval)
	positive(ps, "send.send_timeout", s.SendTimeout)
	if s.SpoolRetention < 0 {
		ps.add("send.spool_retention_days", "must be 0 (keep the copies) or a number of days (got %d)", s.SpoolRetention)
	}
	if s.BatchThreshold < 1 {
		ps.add("send.batch_threshold", "must be at least 1 (got %d)", s.BatchThreshold)
	}
	if s.MaxBatchInvoices < 1 || s.MaxBatchInvoices > maxBatchInvoices {
		ps.add("send.max_batch_invoices", "must be between 1 and %d, the KSeF limit per session (got %d)", maxBatchInvoices, s.MaxBatchInvoices)
	}
	if s.BatchPartSize < 1 || s.BatchPartSize > maxBatchPartSize {
		ps.add("send.batch_part_size", "must be between 1 and %d bytes, the KSeF part limit (got %d)", maxBatchPartSize, s.BatchPartSize)
	}
	if s.MaxInvoiceSize < 0 || s.MaxInvoiceSize > maxInvoiceSizeCap {
		ps.add("send.max_invoice_size", "must be between 0 (KSeF's limit for the context) and %d bytes, the most KSeF raises a context's limit to (got %d)", maxInvoiceSizeCap, s.MaxInvoiceSize)
	}
}

func (c *Config) validateWatch(ps *Problems) {
	w := c.Watch
	if len(w.Patterns) == 0 {
		ps.add("watch.patterns", "no patterns: nothing would ever be sent; use [\"*.xml\"]")
	}
	for _, p := range w.Patterns {
		if _, err := path.Match(p, ""); err != nil || p == "" || strings.ContainsAny(p, `/\`) {
			ps.add("watch.patterns", "%q is not a file name pattern such as \"*.xml\"", p)
		}
	}
	positive(ps, "watch.rescan", w.Rescan)
	positive(ps, "watch.settle", w.Settle)
}

func (c *Config) validatePull(ps *Problems) {
	p := &c.Pull
	if _, err := cron.ParseStandard(p.Schedule); err != nil {
		ps.add("pull.schedule", "%q is not a cron schedule (%v): use e.g. \"*/15 * * * *\" or \"@every 15m\"", p.Schedule, err)
	}
	if len(p.Subjects) == 0 && p.Enabled {
		ps.add("pull.subjects", "no subjects: use e.g. [\"cost\", \"sales\"]")
	}
	for _, s := range p.Subjects {
		if !slices.Contains(validSubjects, s) {
			ps.add("pull.subjects", "%q is not allowed: use %s", s, quoteList(validSubjects))
		}
	}
	if t, err := parseStart(p.Start); err != nil {
		ps.add("pull.start", "%q is not a date: use \"2026-02-01\" or an RFC 3339 time such as \"2026-02-01T00:00:00+01:00\"", p.Start)
	} else {
		p.StartTime = t
	}
	if msg := checkLayout(p.Layout); msg != "" {
		ps.add("pull.layout", "%s", msg)
	}
	positive(ps, "pull.export_timeout", p.ExportTimeout)
}

func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

var tokenRE = regexp.MustCompile(`\{([^{}]*)\}`)

func checkLayout(layout string) string {
	for _, m := range tokenRE.FindAllStringSubmatch(layout, -1) {
		if !slices.Contains(layoutTokens, m[1]) {
			return fmt.Sprintf("unknown token {%s}: use {subject} {yyyy} {mm} {dd} {ksefNumber} {sellerNip}", m[1])
		}
	}
	if rest := tokenRE.ReplaceAllString(layout, ""); strings.ContainsAny(rest, "{}") {
		return fmt.Sprintf("%q has an unbalanced { or }", layout)
	}
	if !strings.Contains(layout, "{ksefNumber}") {
		return "must contain {ksefNumber}: it is the only token unique per invoice"
	}
	if isAbs(layout) || slices.Contains(strings.FieldsFunc(layout, func(r rune) bool { return r == '/' || r == '\\' }), "..") {
		return "must be a relative path inside the inbox (no leading / and no ..)"
	}
	return ""
}

func (c *Config) validateLog(ps *Problems) {
	oneOf(ps, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(ps, "log.format", c.Log.Format, "text", "json")
	if c.Log.MaxSizeMB < 1 {
		ps.add("log.max_size_mb", "must be at least 1 (got %d)", c.Log.MaxSizeMB)
	}
	if c.Log.MaxFiles < 1 {
		ps.add("log.max_files", "must be at least 1 (got %d)", c.Log.MaxFiles)
	}
}

func (c *Config) validateHTTP(ps *Problems) {
	positive(ps, "http.timeout", c.HTTP.Timeout)
	if c.HTTP.Proxy != "" {
		u, err := url.Parse(c.HTTP.Proxy)
		if err != nil || u.Host == "" || !slices.Contains([]string{"http", "https", "socks5"}, u.Scheme) {
			ps.add("http.proxy", "is not a proxy URL such as \"http://proxy.example:3128\"")
		}
	}
}

func (c *Config) validateListen(ps *Problems) {
	h := c.HTTP
	if h.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil || port == "" {
		ps.add("http.listen", "%q is not host:port such as \"127.0.0.1:8765\" (\"\" turns the status page off)", h.Listen)
		return
	}
	if !isLoopback(host) && (h.User == "" || h.PasswordEnv == "") {
		ps.add("http.listen", "%q is reachable from other machines: set http.user and http.password_env (basic auth), or listen on 127.0.0.1", h.Listen)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NotifyEvents are the event kinds [notify] events may list.
var NotifyEvents = []string{"rejected", "stalled", "ksef_unavailable", "credentials_expiring", "offline_deadline", "pull_failing"}

func (c *Config) validateNotify(ps *Problems) {
	n := c.Notify
	if len(n.EmailTo) > 0 {
		if n.SMTPHost == "" {
			ps.add("notify.smtp_host", "missing: e-mail needs the SMTP server (notify.email_to is set)")
		}
		if n.EmailFrom == "" {
			ps.add("notify.email_from", "missing: e-mail needs a sender address (notify.email_to is set)")
		}
	}
	if n.SMTPPort < 1 || n.SMTPPort > 65535 {
		ps.add("notify.smtp_port", "must be a TCP port (1-65535), usually 587 (got %d)", n.SMTPPort)
	}
	if n.SMTPUser != "" && n.SMTPPasswordEnv == "" {
		ps.add("notify.smtp_password_env", "missing: name the environment variable holding the SMTP password of %q", n.SMTPUser)
	}
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("notify.webhook_url", "is not an absolute http(s) URL")
		}
	}
	for _, e := range n.Events {
		oneOf(ps, "notify.events", e, NotifyEvents...)
	}
	positive(ps, "notify.digest", n.Digest)
}
