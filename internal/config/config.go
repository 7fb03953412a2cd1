// Package config loads and validates the ksef-sync TOML configuration.
//
// Load reports every problem at once (a *Problems error) so an administrator fixes the file in one go
// instead of restarting the service once per typo. Unknown keys are errors: a misspelt key silently
// falling back to a default is how invoices end up in the wrong environment.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// Config is the whole configuration file. Paths are absolute after Load (relative ones are resolved
// against the folder of the configuration file, because services start in C:\Windows\System32 or /).
type Config struct {
	Path string `toml:"-"` // absolute path of the file loaded
	// Language of error-file hints and descriptions and of the status text: pl | en (language.go).
	Language string  `toml:"language"`
	KSeF     KSeF    `toml:"ksef"`
	Auth     Auth    `toml:"auth"`
	Folders  Folders `toml:"folders"`
	Send     Send    `toml:"send"`
	Watch    Watch   `toml:"watch"`
	Pull     Pull    `toml:"pull"`
	Render   Render  `toml:"render"`
	Log      Log     `toml:"log"`
	HTTP     HTTP    `toml:"http"`
	Notify   Notify  `toml:"notify"`

	// Many companies (company.go). CompaniesDir holds one *.toml file per further company.
	CompaniesDir string          `toml:"companies_dir"`
	Credentials  map[string]Auth `toml:"credentials"`
	Company      []CompanyTable  `toml:"company"`

	fleet   []Company                  // every company after Load when the file lists them
	credSet map[string]map[string]bool // keys each [credentials.NAME] sets
	topAuth bool                       // the file has a top-level [auth] table
}

// KSeF selects the KSeF environment and the context the daemon works for.
type KSeF struct {
	Environment string `toml:"environment"` // test | demo | prod
	URL         string `toml:"url"`         // optional API base URL override (simulator, proxy)
	NIP         string `toml:"nip"`         // context NIP
	// StatusURL overrides the status service ("Latarnia") base URL; empty: the environment's.
	StatusURL string `toml:"status_url"`
	// StatusInterval is how often the status service is asked while KSeF works (0: 5 minutes);
	// while it does not, every minute (or this, when shorter).
	StatusInterval Duration `toml:"status_interval"`
}

// Auth holds where credentials come from. Secrets themselves are never stored in the config file.
type Auth struct {
	Method            string `toml:"method"` // token | certificate
	TokenFile         string `toml:"token_file"`
	TokenEnv          string `toml:"token_env"`
	CertFile          string `toml:"cert_file"`
	KeyFile           string `toml:"key_file"`
	P12File           string `toml:"p12_file"`
	KeyPasswordEnv    string `toml:"key_password_env"`
	KeyPasswordFile   string `toml:"key_password_file"`
	SubjectIdentifier string `toml:"subject_identifier"` // certificateSubject | certificateFingerprint
	// The KSeF certificate of type Offline that signs KOD II (PEM pair or PKCS#12; password as
	// for the login key). Optional: without it only KOD I is written.
	OfflineCertFile string `toml:"offline_cert_file"`
	OfflineKeyFile  string `toml:"offline_key_file"`
	OfflineP12File  string `toml:"offline_p12_file"`
	// TokenDeadline is the day KSeF stops accepting KSeF tokens (announced: 2027-01-01). Before it the
	// daemon warns; a refused token names the fix (certificate login).
	TokenDeadline string `toml:"token_deadline"`
}

// DefaultTokenDeadline is the day KSeF announced tokens stop working.
const DefaultTokenDeadline = "2027-01-01"

// TokenDeadlineTime is auth.token_deadline as the start of that day in Warsaw (DefaultTokenDeadline
// when unset or unreadable; Load has already refused an unreadable value).
func (a Auth) TokenDeadlineTime() time.Time {
	loc := plzone.Warsaw
	s := a.TokenDeadline
	if s == "" {
		s = DefaultTokenDeadline
	}
	t, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil {
		t, _ = time.ParseInLocation("2006-01-02", DefaultTokenDeadline, loc)
	}
	return t
}

// Folders are the exchange folders shared with the ERP plus the local state folder.
type Folders struct {
	Outbox string `toml:"outbox"`
	Sent   string `toml:"sent"`
	Error  string `toml:"error"`
	Inbox  string `toml:"inbox"`
	State  string `toml:"state"`
	// QR, when set, receives <stem>.qr.json and the KOD I / KOD II pictures of every claimed invoice.
	QR string `toml:"qr"`
}

// Send tunes how invoices from the outbox are registered in KSeF.
type Send struct {
	Mode             string      `toml:"mode"`                 // auto | online | batch
	GatherWindow     Duration    `toml:"gather_window"`        // collect invoices arriving close together
	BatchThreshold   int         `toml:"batch_threshold"`      // auto mode: this many gathered → batch session
	MaxBatchInvoices int         `toml:"max_batch_invoices"`   // ≤ 10 000 (KSeF session limit)
	BatchPartSize    int64       `toml:"batch_part_size"`      // bytes before encryption, ≤ 100 000 000
	Compression      string      `toml:"compression"`          // zip | targz
	SessionIdleClose Duration    `toml:"session_idle_close"`   // close an idle online session after this
	PollInterval     Duration    `toml:"poll_interval"`        // status polling interval
	MaxInvoiceSize   int64       `toml:"max_invoice_size"`     // bytes, invoices without attachment; 0: KSeF's limit for the context
	OfflineMode      OfflineMode `toml:"offline_mode"`         // "offline24": every invoice is issued offline (offline.go)
	SendTimeout      Duration    `toml:"send_timeout"`         // warn when KSeF has not finished by then
	SpoolRetention   int         `toml:"spool_retention_days"` // delete spool copies of finished invoices after this many days; 0 keeps them
}

// Watch tunes outbox discovery.
type Watch struct {
	Patterns []string `toml:"patterns"`
	Rescan   Duration `toml:"rescan"` // full listing interval; events are only hints
	Settle   Duration `toml:"settle"` // size and mtime must hold still this long
	Events   bool     `toml:"events"` // use filesystem events (useless on some SMB shares)
}

// Pull configures downloading received/issued invoices from KSeF into the inbox.
type Pull struct {
	Enabled  bool     `toml:"enabled"`
	Schedule string   `toml:"schedule"` // cron expression or descriptor (@every 15m)
	Subjects []string `toml:"subjects"` // cost | sales | subject3 | authorized
	Start    string   `toml:"start"`    // date (2026-02-01) or RFC 3339 timestamp
	Layout   string   `toml:"layout"`   // path template inside the inbox
	// ExportTimeout abandons an export KSeF still reports as running (status 100) after this long.
	ExportTimeout Duration `toml:"export_timeout"`
	// StartTime is Start parsed (UTC midnight for a plain date); set by Load.
	StartTime time.Time `toml:"-"`
}

// Log configures the daemon's log output.
type Log struct {
	Level     string `toml:"level"`  // debug | info | warn | error
	Format    string `toml:"format"` // text | json
	File      string `toml:"file"`   // empty → stderr
	MaxSizeMB int    `toml:"max_size_mb"`
	MaxFiles  int    `toml:"max_files"`
}

// HTTP configures the HTTP client talking to KSeF and the daemon's own status page.
type HTTP struct {
	Timeout Duration `toml:"timeout"`
	Proxy   string   `toml:"proxy"` // empty → no proxy configured here (environment is not consulted)
	// Listen is the status page, /api/status, /metrics and /healthz address; "" turns them off.
	Listen      string `toml:"listen"`
	User        string `toml:"user"`         // basic auth user; required with a non-loopback Listen
	PasswordEnv string `toml:"password_env"` // environment variable holding the basic auth password
}

// Notify configures notifications by e-mail and webhook.
type Notify struct {
	EmailTo         []string `toml:"email_to"`
	EmailFrom       string   `toml:"email_from"`
	SMTPHost        string   `toml:"smtp_host"`
	SMTPPort        int      `toml:"smtp_port"`
	SMTPUser        string   `toml:"smtp_user"`
	SMTPPasswordEnv string   `toml:"smtp_password_env"`
	SMTPStartTLS    bool     `toml:"smtp_starttls"`
	WebhookURL      string   `toml:"webhook_url"`
	Events          []string `toml:"events"`
	Digest          Duration `toml:"digest"` // one message per window
}

// Duration is a time.Duration written in TOML as a string ("30s", "5m").
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(text)))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit, e.g. \"30s\", \"5m\" or \"1h\"", text)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

type environment struct{ api, qr string }

// Duplicated from package ksef on purpose (config must not import the client); see digest §1.
var environments = map[string]environment{
	"test": {"https://api-test.ksef.mf.gov.pl/v2", "https://qr-test.ksef.mf.gov.pl"},
	"demo": {"https://api-demo.ksef.mf.gov.pl/v2", "https://qr-demo.ksef.mf.gov.pl"},
	"prod": {"https://api.ksef.mf.gov.pl/v2", "https://qr.ksef.mf.gov.pl"},
}

// APIBaseURL returns the url override if set, otherwise the environment's API base URL.
func (c *Config) APIBaseURL() (string, error) {
	if c.KSeF.URL != "" {
		return strings.TrimRight(c.KSeF.URL, "/"), nil
	}
	env, ok := environments[c.KSeF.Environment]
	if !ok {
		return "", fmt.Errorf("unknown KSeF environment %q", c.KSeF.Environment)
	}
	return env.api, nil
}

// QRBaseURL returns the QR code (KOD I/II) base URL of the environment; empty for an unknown one.
// The url override does not change it: QR codes must always point at the official verification site.
func (c *Config) QRBaseURL() string {
	return environments[c.KSeF.Environment].qr
}

// ReadToken returns the KSeF token from token_file (surrounding whitespace trimmed) or token_env.
// The token never appears in the returned error.
func (c *Config) ReadToken() (string, error) {
	var token string
	switch {
	case c.Auth.TokenFile != "":
		b, err := os.ReadFile(c.Auth.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read KSeF token: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return "", fmt.Errorf("read KSeF token: file %s is empty", c.Auth.TokenFile)
		}
	case c.Auth.TokenEnv != "":
		token = strings.TrimSpace(os.Getenv(c.Auth.TokenEnv))
		if token == "" {
			return "", fmt.Errorf("read KSeF token: environment variable %s is empty or not set", c.Auth.TokenEnv)
		}
	default:
		return "", fmt.Errorf("read KSeF token: neither auth.token_file nor auth.token_env is set")
	}
	return token, nil
}

// ReadKeyPassword returns the private key password from key_password_env or key_password_file, or
// nil when neither is configured (an unencrypted key). A trailing line break in the file is dropped
// (editors add one); other whitespace is kept because it may be part of the password.
func (c *Config) ReadKeyPassword() ([]byte, error) {
	switch {
	case c.Auth.KeyPasswordFile != "":
		b, err := os.ReadFile(c.Auth.KeyPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("read key password: %w", err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	case c.Auth.KeyPasswordEnv != "":
		v, ok := os.LookupEnv(c.Auth.KeyPasswordEnv)
		if !ok {
			return nil, fmt.Errorf("read key password: environment variable %s is not set", c.Auth.KeyPasswordEnv)
		}
		return []byte(v), nil
	default:
		return nil, nil
	}
}

// Problem is one thing wrong with the configuration.
type Problem struct {
	Key string // e.g. "folders.outbox"
	Msg string // what is wrong and how to fix it
}

// Problems is every problem found in a configuration file.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		if p.Key == "" {
			lines[i] = p.Msg
		} else {
			lines[i] = p.Key + ": " + p.Msg
		}
	}
	return strings.Join(lines, "\n")
}

// As lets errors.As fill a Problems value as well as a *Problems, so callers may use either
// `var ps config.Problems` or `var ps *config.Problems` as the target.
func (ps *Problems) As(target any) bool {
	if t, ok := target.(*Problems); ok {
		*t = *ps
		return true
	}
	return false
}

func (ps *Problems) add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Defaults returns the configuration used for every key the file leaves out.
func Defaults() Config {
	return Config{
		Auth: Auth{Method: "token", SubjectIdentifier: "certificateSubject", TokenDeadline: DefaultTokenDeadline},
		Send: Send{
			Mode:             "auto",
			GatherWindow:     Duration{2 * time.Second},
			BatchThreshold:   2,
			MaxBatchInvoices: ksef.MaxBatchInvoices,
			BatchPartSize:    ksef.MaxBatchPartSize,
			Compression:      "zip",
			SessionIdleClose: Duration{5 * time.Minute},
			PollInterval:     Duration{2 * time.Second},
			SendTimeout:      Duration{30 * time.Minute},
			SpoolRetention:   90,
		},
		Watch: Watch{
			Patterns: []string{"*.xml"},
			Rescan:   Duration{30 * time.Second},
			Settle:   Duration{2 * time.Second},
			Events:   true,
		},
		Pull: Pull{
			Schedule: "*/15 * * * *",
			Subjects: []string{"cost", "sales"},
			Start:    "2026-02-01",
			Layout:   "{subject}/{yyyy}/{mm}/{ksefNumber}",
			// KSeF leaves some exports running for days (CIRFMF/ksef-api #307, #366, #846).
			ExportTimeout: Duration{20 * time.Minute},
		},
		Language: "pl",
		Render: Render{Formats: []string{"pdf"},
			Targets: []string{"sent", "inbox"}},
		Log:  Log{Level: "info", Format: "text", MaxSizeMB: 20, MaxFiles: 10},
		HTTP: HTTP{Timeout: Duration{60 * time.Second}, Listen: "127.0.0.1:8765"},
		Notify: Notify{SMTPPort: 587, SMTPStartTLS: true, Digest: Duration{5 * time.Minute},
			Events: []string{"rejected", "stalled", "ksef_unavailable", "credentials_expiring", "offline_deadline", "pull_failing"}},
	}
}

// resolvePaths makes every relative path absolute against dir. `~` is not expanded: services have no
// meaningful home directory.
func (c *Config) resolvePaths(dir string) {
	for _, p := range []*string{
		&c.Auth.TokenFile, &c.Auth.CertFile, &c.Auth.KeyFile, &c.Auth.P12File, &c.Auth.KeyPasswordFile,
		&c.Folders.Outbox, &c.Folders.Sent, &c.Folders.Error, &c.Folders.Inbox, &c.Folders.State,
		&c.Log.File, &c.Auth.OfflineCertFile, &c.Auth.OfflineKeyFile, &c.Auth.OfflineP12File, &c.Folders.QR,
	} {
		if *p != "" && !isAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// isAbs also accepts Windows forms on every OS so a config written for a Windows host is not mangled
// when checked elsewhere: drive letters (C:/, C:\), UNC (\\server, //server) and rooted paths.
func isAbs(p string) bool {
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) {
		return true
	}
	return hasDriveLetter(p)
}

func hasDriveLetter(p string) bool {
	if len(p) < 2 || p[1] != ':' {
		return false
	}
	c := p[0] | 0x20
	return c >= 'a' && c <= 'z'
}

func isUNC(p string) bool {
	return strings.HasPrefix(p, "//") || strings.HasPrefix(p, `\\`)
}
