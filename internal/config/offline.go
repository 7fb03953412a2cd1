package config

import (
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

// StatusBaseURL returns ksef.status_url if set, otherwise the environment's official status service
// ("" for an unknown environment).
func (c *Config) StatusBaseURL() string {
	if c.KSeF.StatusURL != "" {
		return strings.TrimRight(c.KSeF.StatusURL, "/")
	}
	return statusURLs[c.KSeF.Environment]
}

// validateOffline checks ksef.status_url and the Offline certificate keys. Whether the certificate
// really is of type Offline is checked when it is loaded (qrfiles.LoadSigner): that needs its
// password.
func (c *Config) validateOffline(ps *Problems) {
	if s := c.KSeF.StatusURL; s != "" {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add("ksef.status_url", "%q is not an absolute http(s) URL, e.g. \"https://api-latarnia.ksef.mf.gov.pl\"", s)
		}
	}
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
	c.validateQRFolder(ps)
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
