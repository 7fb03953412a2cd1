package config

import (
	"fmt"
	"net/url"
	"strings"
)

// The status service ("Latarnia") per environment, duplicated from internal/availability on purpose
// (config imports no daemon package); ksef-client-csharp LighthouseEnvironmentsUris.cs names TEST
// and PROD, DEMO uses the test one.
var statusURLs = map[string]string{
	"test": "https://api-latarnia-test.ksef.mf.gov.pl",
	"demo": "https://api-latarnia-test.ksef.mf.gov.pl",
	"prod": "https://api-latarnia.ksef.mf.gov.pl",
}

// StatusBaseURL returns ksef.status_url if set, otherwise the environment's official status service.
// It is "" for an unknown environment, and when ksef.url points the client elsewhere (a simulator,
// a proxy): which KSeF answers there is not known, so its announcements are not assumed; the
// daemon then goes by its own observations unless ksef.status_url is set too.
func (c *Config) StatusBaseURL() string {
	if c.KSeF.StatusURL != "" {
		return strings.TrimRight(c.KSeF.StatusURL, "/")
	}
	if c.KSeF.URL != "" {
		return ""
	}
	return statusURLs[c.KSeF.Environment]
}

// validateStatusURL checks ksef.status_url and ksef.status_interval (shared by every company).
func (c *Config) validateStatusURL(ps *Problems) {
	if s := c.KSeF.StatusURL; s != "" {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("ksef.status_url", "%q is not an absolute http(s) URL, e.g. \"https://api-latarnia.ksef.mf.gov.pl\"", s)
		}
	}
	if c.KSeF.StatusInterval.Duration < 0 {
		ps.add("ksef.status_interval", "must not be negative, e.g. \"5m\"")
	}
}

// validateOfflineCert checks the Offline certificate keys. Whether the certificate really is of type
// Offline is checked when it is loaded (qrfiles.LoadSigner): that needs its password.
func (c *Config) validateOfflineCert(ps *Problems) {
	a := c.Auth
	switch {
	case a.OfflineP12File != "" && (a.OfflineCertFile != "" || a.OfflineKeyFile != ""):
		ps.add("auth.offline_p12_file", "set either offline_p12_file or offline_cert_file + offline_key_file, not both")
	case a.OfflineP12File != "":
		checkExists(ps, "auth.offline_p12_file", a.OfflineP12File)
	case a.OfflineCertFile != "" && a.OfflineKeyFile == "":
		ps.add("auth.offline_key_file", "offline_cert_file is set but offline_key_file is missing")
	case a.OfflineKeyFile != "" && a.OfflineCertFile == "":
		ps.add("auth.offline_cert_file", "offline_key_file is set but offline_cert_file is missing")
	case a.OfflineCertFile != "":
		checkExists(ps, "auth.offline_cert_file", a.OfflineCertFile)
		checkExists(ps, "auth.offline_key_file", a.OfflineKeyFile)
	}
}

// validateQRFolder keeps folders.qr apart from the other folders: pictures dropped into the outbox
// or the state folder would be taken for something else.
func (c *Config) validateQRFolder(ps *Problems) {
	f := c.Folders
	if f.QR == "" {
		return
	}
	for _, o := range []struct{ key, path string }{
		{"folders.outbox", f.Outbox}, {"folders.sent", f.Sent}, {"folders.error", f.Error},
		{"folders.inbox", f.Inbox}, {"folders.state", f.State},
	} {
		if o.path != "" && normPath(o.path) == normPath(f.QR) {
			ps.add("folders.qr", "is the same folder as %s: every folder must be different", o.key)
			return
		}
	}
	if f.Outbox != "" && isInside(f.QR, f.Outbox) {
		ps.add("folders.qr", "is inside folders.outbox: use a folder of its own")
	}
}

// OfflineMode is send.offline_mode: whether the company issues its invoices offline on purpose.
// "offline24" is the taxpayer's offline mode (tryby-offline.md: send by the next business day after
// the issue date); "" (or false) means invoices are issued online. Older configurations wrote a
// boolean: true keeps meaning "offline24", false "".
type OfflineMode struct {
	Mode    string // "" or "offline24"
	Invalid string // what the file said when it is neither; validation names it
}

// OfflineModes are the values send.offline_mode takes.
var OfflineModes = []string{"offline24"}

// UnmarshalTOML accepts true, false, "offline24" and "" (BurntSushi/toml's Unmarshaler).
func (m *OfflineMode) UnmarshalTOML(v any) error {
	*m = OfflineMode{}
	switch x := v.(type) {
	case bool:
		if x {
			m.Mode = "offline24"
		}
	case string:
		switch s := strings.TrimSpace(strings.ToLower(x)); s {
		case "", "false", "online":
		case "offline24", "true":
			m.Mode = "offline24"
		default:
			m.Invalid = x
		}
	default:
		m.Invalid = fmt.Sprint(v)
	}
	return nil
}

// MarshalText writes the mode ("" when online).
func (m OfflineMode) MarshalText() ([]byte, error) { return []byte(m.Mode), nil }

// Offline24 reports whether the company issues every invoice in offline24 mode.
func (m OfflineMode) Offline24() bool { return m.Mode == "offline24" }

func (c *Config) validateOfflineMode(ps *Problems) {
	if b := c.Send.OfflineMode.Invalid; b != "" {
		ps.add("send.offline_mode", "%q is not a mode: write \"offline24\" to issue every invoice offline (true means the same), or leave it out", b)
	}
}
