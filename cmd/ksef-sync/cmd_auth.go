package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

func cmdAuth(ctx context.Context, env *cliEnv, args []string) int {
	if code, proceed := subcommand(env, args, "check", "usage: ksef-sync auth check -config FILE [-company NAME]..."); !proceed {
		return code
	}
	cfg, views, code := newCompanyFlags(env, "auth check").load(env, args[2:])
	if cfg == nil {
		return code
	}
	now := time.Now()
	results := perCompany(views, func(_ int, v *config.Config) loginResult {
		report, err := authCheck(ctx, v, now)
		return loginResult{report, err}
	})
	for i, v := range views {
		where := ""
		if cfg.MultiCompany() {
			where = fmt.Sprintf("company %s: ", v.CompanyName())
			fmt.Fprintf(env.stdout, "company %s:\n", v.CompanyName())
		}
		r := <-results[i]
		if r.err != nil {
			fmt.Fprintf(env.stderr, "%slogin FAILED: %v\n", where, r.err)
			code = exitFatal
			continue
		}
		fmt.Fprint(env.stdout, r.report)
	}
	return code
}

// loginResult is one company's authCheck outcome.
type loginResult struct {
	report string
	err    error
}

// authCheck performs a full login and explains the outcome in plain words. A certificate that looks
// wrong locally (expired, another NIP) is still shown to KSeF, so the report carries KSeF's own code
// next to our explanation.
func authCheck(ctx context.Context, cfg *config.Config, now time.Time) (string, error) {
	var cert *x509.Certificate
	var diagnosis error
	if cfg.Auth.Method == "certificate" {
		creds, err := loadCredentials(cfg)
		if err != nil {
			return "", explainAuthError(err, cfg)
		}
		cert = creds.Certificate
		diagnosis = precheckCertificate(cert, cfg, now)
	}
	client, err := newClient(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", explainAuthError(err, cfg)
	}
	if err := client.Login(ctx); err != nil {
		return "", explainLoginFailure(err, diagnosis, cfg)
	}
	access, refresh := client.TokenExpiry()
	out := fmt.Sprintf("login OK\nmethod: %s\ncontext NIP: %s\nKSeF: %s\naccess token valid until: %s\nrefresh token valid until: %s\n",
		cfg.Auth.Method, cfg.KSeF.NIP, mustBase(cfg), access.Format(time.RFC3339), refresh.Format(time.RFC3339))
	if cert != nil {
		out += fmt.Sprintf("certificate: %s, valid until %s\n", cert.Subject.CommonName, cert.NotAfter.Format("2006-01-02"))
	}
	if diagnosis != nil {
		out += fmt.Sprintf("warning: KSeF accepted the login, but %v\n", diagnosis)
	}
	_ = client.Logout(ctx)
	return out, nil
}

// explainLoginFailure prefers our local diagnosis of the certificate as the explanation, keeping
// KSeF's code and description beside it.
func explainLoginFailure(err, diagnosis error, cfg *config.Config) error {
	if diagnosis == nil {
		return explainAuthError(err, cfg)
	}
	if code, desc, ok := ksefCode(err); ok {
		return fmt.Errorf("KSeF code %d: %w (%s)", code, diagnosis, desc)
	}
	return fmt.Errorf("%w (login failed: %v)", diagnosis, explainAuthError(err, cfg))
}

// ksefCode extracts the first KSeF code from a login failure.
func ksefCode(err error) (int, string, bool) {
	var ae *ksef.AuthError
	if errors.As(err, &ae) {
		return ae.Code, ae.Description, true
	}
	var api *ksef.APIError
	if errors.As(err, &api) && len(api.Codes) > 0 {
		return api.Codes[0].Code, api.Codes[0].Description, true
	}
	return 0, "", false
}

func mustBase(cfg *config.Config) string {
	u, _ := cfg.APIBaseURL()
	return u
}

// precheckCertificate catches the common mistakes locally, with a clearer message than KSeF's.
func precheckCertificate(cert *x509.Certificate, cfg *config.Config, now time.Time) error {
	if now.After(cert.NotAfter) {
		return fmt.Errorf("certificate expired on %s: request a new KSeF certificate (README: Certificate login)", cert.NotAfter.Format("2006-01-02"))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("certificate is not valid before %s: check the computer's clock", cert.NotBefore.Format("2006-01-02 15:04"))
	}
	if cfg.Auth.SubjectIdentifier != "certificateFingerprint" && cfg.Companies()[0].Credential == "" {
		// (a shared office certificate carries the office's NIP: KSeF checks its permissions instead)
		if nip, ok := xades.CertificateNIP(cert); ok && nip != cfg.KSeF.NIP {
			return fmt.Errorf("NIP in certificate (%s) differs from [ksef] nip (%s): use the company's certificate or fix [ksef] nip", nip, cfg.KSeF.NIP)
		}
	}
	return nil
}

// explainAuthError puts KSeF's code next to a sentence an administrator can act on.
func explainAuthError(err error, cfg *config.Config) error {
	var ce *xades.CredentialError
	if errors.As(err, &ce) {
		switch ce.Kind {
		case "wrong-password":
			return fmt.Errorf("wrong key password (%s): check key_password_env / key_password_file", ce.Msg)
		case "key-mismatch":
			return fmt.Errorf("the private key does not belong to the certificate: %s", ce.Msg)
		}
		return fmt.Errorf("cannot use the certificate: %s", ce.Msg)
	}
	// weather first: none of it is a verdict on the credentials
	var unreachable *ksef.UnreachableError
	if errors.As(err, &unreachable) {
		return unreachable
	}
	var blocked *ksef.BlockedError
	if errors.As(err, &blocked) {
		return fmt.Errorf("KSeF's firewall blocked the request (incident %s); this is not about the credentials: try again later, and if it persists report the incident number to KSeF support", cmp.Or(blocked.IncidentID, "-"))
	}
	var unavail *ksef.UnavailableError
	if errors.As(err, &unavail) {
		return fmt.Errorf("KSeF is unavailable (HTTP %d%s); this is not about the credentials: try again later", unavail.HTTPStatus, suffix(unavail.Excerpt))
	}
	var spent *ksef.SpentLoginError
	if errors.As(err, &spent) {
		return explainSpentLogin(spent)
	}
	var ae *ksef.AuthError
	if errors.As(err, &ae) {
		return fmt.Errorf("KSeF code %d: %s (%s)", ae.Code, authStatusText(ae.Code, cfg), ae.Description)
	}
	var api *ksef.APIError
	if errors.As(err, &api) {
		if len(api.Codes) > 0 {
			d := api.Codes[0]
			return fmt.Errorf("KSeF code %d: %s (%s)", d.Code, apiCodeText(d.Code, cfg), d.Description)
		}
		return fmt.Errorf("KSeF answered HTTP %d: %s", api.HTTPStatus, api.Detail)
	}
	return err
}

// explainSpentLogin explains a login KSeF would not go on with twice in a row (ksef-sync had
// already started it anew once): its challenge or its tokens were used, most likely because an
// answer was lost on the way. A challenge KSeF calls invalid may also follow a clock that is off.
func explainSpentLogin(spent *ksef.SpentLoginError) error {
	code := 0
	var ae *ksef.AuthError
	var api *ksef.APIError
	switch {
	case errors.As(spent, &ae):
		code = ae.Code
	case errors.As(spent, &api) && len(api.Codes) > 0:
		code = api.Codes[0].Code
	}
	if spent.Step == "status" {
		return fmt.Errorf("KSeF lost track of the login it was finishing, twice in a row (%v); this is not about the credentials: try again", spent.Err)
	}
	if spent.Step == "challenge" {
		return fmt.Errorf("KSeF code %d: the challenge was invalid or expired, twice in a row: an answer was probably lost on the way, or this computer's clock is off (doctor shows the skew); this is not about the credentials: try again", code)
	}
	return fmt.Errorf("KSeF code %d: KSeF would not issue the login's tokens, twice in a row: an answer was lost on the way; this is not about the credentials: try again", code)
}

func authStatusText(code int, cfg *config.Config) string {
	switch code {
	case 415:
		return noPermissions(cfg)
	case 425:
		return "the authentication was revoked"
	case 450:
		return "the KSeF token is invalid, revoked, inactive or belongs to another NIP: generate a new token in the KSeF application, " +
			"or, once KSeF no longer accepts tokens, switch [auth] method to \"certificate\" (README: Certificate login)"
	case 460:
		return "KSeF rejected the certificate (invalid, revoked, untrusted chain)"
	case 470:
		return "these credentials belong to a deceased person (KSeF: \"osoby zmarłej\"): log in with the company's own certificate or token"
	case 480:
		return "authentication is blocked for this context (security incident): contact KSeF support"
	case 500:
		// open-api.json: 500 "Nieznany błąd" names no fault of the credentials.
		return "KSeF reported an unknown error; this is not about the credentials: try again later"
	case 550:
		return "KSeF cancelled the operation: try again in a few minutes"
	}
	return "login failed"
}

// noPermissions explains KSeF's 415 at login: the credentials' owner holds no permission in the
// company's context. With a shared (office) credential it names the company and the grant it owes.
func noPermissions(cfg *config.Config) string {
	co := cfg.Companies()[0]
	if co.Credential == "" || !cfg.MultiCompany() {
		return "these credentials have no permissions in context NIP " + cfg.KSeF.NIP
	}
	return fmt.Sprintf("company %q (NIP %s) has not granted [credentials.%s] the permission to send and receive its invoices "+
		"(InvoiceWrite, InvoiceRead): the company grants them to the office's NIP in the KSeF application", co.Name, co.NIP, co.Credential)
}

func apiCodeText(code int, cfg *config.Config) string {
	switch code {
	case 21111:
		return "the challenge was invalid or expired: check the computer's clock (NTP)"
	case 21115:
		return "the certificate is invalid or expired"
	case 21117:
		if cfg.MultiCompany() && cfg.Companies()[0].Credential != "" {
			return noPermissions(cfg) // the office's certificate carries the office's NIP
		}
		return "NIP in certificate differs from [ksef] nip (" + cfg.KSeF.NIP + ")"
	case 21401:
		return "the signed request does not match the KSeF schema"
	case 21470:
		return "KSeF rotated its public keys: try again"
	case 9105:
		return "the signature is invalid: the key does not match the certificate or the document was altered"
	}
	return "KSeF refused the login"
}

func cmdCert(_ context.Context, env *cliEnv, args []string) int {
	if code, proceed := subcommand(env, args, "gen-test", "usage: ksef-sync cert gen-test -nip NIP -out DIR [-key rsa|ecdsa] [-days 365]"); !proceed {
		return code
	}
	fs := bareFlags(env, "cert gen-test")
	nip := fs.String("nip", "", "the company's NIP (10 digits)")
	out := fs.String("out", ".", "folder to write ksef-test-cert.pem and ksef-test-key.pem into")
	keyType := fs.String("key", "rsa", "key type: rsa (2048) or ecdsa (P-256)")
	days := fs.Int("days", 365, "validity in days")
	if err := parseArgs(fs, args[2:]); err != nil {
		return parseFailed(err)
	}
	if len(*nip) != 10 {
		fmt.Fprintln(env.stderr, "ksef-sync: -nip must be the 10-digit NIP")
		return exitUsage
	}
	now := time.Now()
	certPEM, keyPEM, err := xades.GenerateTestCertificate(xades.TestCertOptions{
		NIP: *nip, KeyType: *keyType, CommonName: "ksef-sync test " + *nip,
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, *days),
	})
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fail(env, exitFatal, err)
	}
	certPath, keyPath := filepath.Join(*out, "ksef-test-cert.pem"), filepath.Join(*out, "ksef-test-key.pem")
	if err := atomicfile.WriteFile(certPath, certPEM, 0o644); err != nil {
		return fail(env, exitFatal, err)
	}
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return fail(env, exitFatal, err)
	}
	fmt.Fprintf(env.stdout, "wrote %s\nwrote %s\n\nFor the KSeF TEST environment, put this in your config:\n\n[auth]\nmethod = \"certificate\"\ncert_file = %q\nkey_file = %q\nsubject_identifier = \"certificateSubject\"\n",
		certPath, keyPath, filepath.ToSlash(certPath), filepath.ToSlash(keyPath))
	return exitOK
}
