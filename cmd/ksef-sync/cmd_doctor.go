package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// finding is one line of the doctor's report: what was checked, and for a problem, how to fix it.
type finding struct {
	Check   string
	Problem string // empty when the check passed
	Fix     string
	Info    string
	// Warning is something to act on that does not fail the check (exit code 0): what is announced
	// but not certain, such as the end of KSeF tokens.
	Warning string
}

func (f finding) ok() bool { return f.Problem == "" }

func cmdDoctor(ctx context.Context, env *cliEnv, args []string) int {
	fs := newCompanyFlags(env, "doctor")
	if err := parseArgs(fs.FlagSet, args[1:]); err != nil {
		return parseFailed(err)
	}
	return printFindings(env.stdout, runDoctor(ctx, *fs.config, time.Now(), *fs.companies...))
}

// printFindings writes the report and returns the exit code: 1 when anything needs fixing.
func printFindings(w io.Writer, findings []finding) int {
	problems, warnings := 0, 0
	for _, f := range findings {
		switch {
		case !f.ok():
			problems++
			fmt.Fprintf(w, "[FAIL] %s: %s\n       fix: %s\n", f.Check, f.Problem, f.Fix)
		case f.Warning != "":
			warnings++
			fmt.Fprintf(w, "[WARN] %s: %s\n       fix: %s\n", f.Check, f.Warning, f.Fix)
		default:
			fmt.Fprintf(w, "[ OK ] %s%s\n", f.Check, suffix(f.Info))
		}
	}
	switch {
	case problems > 0:
		fmt.Fprintf(w, "\n%d problem(s) found.\n", problems)
		return exitFatal
	case warnings > 0:
		fmt.Fprintf(w, "\nEverything works; %d warning(s) above.\n", warnings)
	default:
		fmt.Fprintf(w, "\nEverything looks right.\n")
	}
	return exitOK
}

// suffix is the optional detail after a message: ": s", or nothing when s is empty.
func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// runDoctor runs every check it can. A config that does not load stops the checks that need it.
func runDoctor(ctx context.Context, cfgPath string, now time.Time, companies ...string) []finding {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return configFindings(cfgPath, err)
	}
	out := []finding{{Check: "config " + cfg.Path, Info: "loads without problems"}}
	if cfg.MultiCompany() || len(companies) > 0 {
		return append(out, doctorCompanies(ctx, cfg, now, companies)...)
	}
	out = append(out, folderFindings(cfg)...)
	out = append(out, claimFindings(cfg)...)
	net := networkFindings(ctx, cfg, now)
	out = append(out, net...)
	out = append(out, availabilityFinding(ctx, cfg))
	if !anyProblem(net) {
		out = append(out, loginFindings(ctx, cfg, now)...)
	}
	out = append(out, credentialExpiry(cfg, now))
	return out
}

// doctorCompanies checks KSeF once and then each selected company: folders, login, credential
// expiry, each line starting with "company NAME: ".
func doctorCompanies(ctx context.Context, cfg *config.Config, now time.Time, names companyFlag) []finding {
	views, err := companyViews(cfg, names)
	if err != nil {
		return []finding{{Check: "-company", Problem: err.Error(), Fix: "name a company of the configuration"}}
	}
	net := networkFindings(ctx, cfg, now)
	out := append(net, availabilityFinding(ctx, cfg))
	results := perCompany(views, func(_ int, v *config.Config) []finding {
		cf := folderFindings(v)
		if !anyProblem(net) {
			cf = append(cf, loginFindings(ctx, v, now)...)
		}
		cf = append(cf, credentialExpiry(v, now))
		if cfg.MultiCompany() {
			for i := range cf {
				cf[i].Check = "company " + v.CompanyName() + ": " + cf[i].Check
			}
		}
		return cf
	})
	for _, r := range results {
		out = append(out, <-r...)
	}
	return out
}

func anyProblem(fs []finding) bool {
	for _, f := range fs {
		if !f.ok() {
			return true
		}
	}
	return false
}

func configFindings(path string, err error) []finding {
	var probs config.Problems
	if !errors.As(err, &probs) {
		return []finding{{Check: "config " + path, Problem: err.Error(), Fix: "check the path given with -config; see config.example.toml"}}
	}
	out := make([]finding, 0, len(probs))
	for _, p := range probs {
		out = append(out, finding{Check: "config key " + p.Key, Problem: p.Msg, Fix: "edit " + p.Key + " in " + path + " (see config.example.toml), then run ksef-sync check-config"})
	}
	return out
}

func folderFindings(cfg *config.Config) []finding {
	var out []finding
	for _, u := range cfg.FoldersInUse() {
		check := u.Key + " " + u.Path
		problem, fix := config.FolderProblem(u)
		switch _, err := os.Stat(u.Path); {
		case problem != "":
			out = append(out, finding{Check: check, Problem: problem, Fix: fix})
		case errors.Is(err, os.ErrNotExist):
			out = append(out, finding{Check: check, Info: "does not exist yet; ksef-sync creates it at first use"})
		default:
			out = append(out, finding{Check: check, Info: "exists and is writable"})
		}
	}
	if remote, kind := onNetworkShare(cfg.Folders.State); remote {
		out = append(out, finding{Check: "folders.state on local disk", Problem: cfg.Folders.State + " is on a network file system (" + kind + ")",
			Fix: "put the state folder on a local disk (e.g. C:/ProgramData/ksef-sync/state or /var/lib/ksef-sync): SQLite and locks are unsafe on shares"})
	}
	return out
}

// networkFindings checks DNS, TLS and the clock against KSeF's public, unauthenticated endpoint.
func networkFindings(ctx context.Context, cfg *config.Config, now time.Time) []finding {
	base, _ := cfg.APIBaseURL()
	u, err := url.Parse(base)
	if err != nil {
		return []finding{{Check: "KSeF address", Problem: err.Error(), Fix: "correct ksef.url or ksef.environment"}}
	}
	var out []finding
	// Behind a proxy the proxy resolves KSeF's name; our own resolver may rightly know nothing.
	if host := u.Hostname(); cfg.HTTP.Proxy == "" {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := net.DefaultResolver.LookupHost(dctx, host)
		cancel()
		if err != nil {
			return []finding{{Check: "DNS " + host, Problem: err.Error(), Fix: "check the server's DNS settings and ksef.url; KSeF hosts are api-test/api-demo/api.ksef.mf.gov.pl"}}
		}
		out = append(out, finding{Check: "DNS " + host, Info: "resolves"})
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, base+"/security/public-key-certificates", nil)
	resp, err := httpClient(cfg).Do(req)
	if err != nil {
		return append(out, connectionFinding(u, err))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	out = append(out, tlsFinding(u, resp.TLS))
	if resp.StatusCode == http.StatusTooManyRequests {
		return append(out, finding{Check: "KSeF answers", Problem: "KSeF is limiting requests from this address (HTTP 429, retry after " + cmp.Or(resp.Header.Get("Retry-After"), "?") + " s)",
			Fix: "another program (or ksef-sync itself) is using up the KSeF limits from this address; wait and run doctor again"})
	}
	if resp.StatusCode != http.StatusOK {
		// An HTML error page or a firewall block is weather, not a wrong address: say which.
		switch perr := ksef.ParseErrorResponse(resp.StatusCode, resp.Header, body); {
		case isBlocked(perr):
			return append(out, finding{Check: "KSeF answers", Problem: perr.Error(), Fix: "KSeF's firewall blocks this address for now: wait and run doctor again; if it persists, give KSeF support the incident number"})
		case ksef.IsTransient(perr):
			return append(out, finding{Check: "KSeF answers", Problem: fmt.Sprintf("HTTP %d from %s: %v", resp.StatusCode, base, perr), Fix: "KSeF (or a gateway in front of it) is unavailable: wait and run doctor again; queued invoices stay safe"})
		}
		return append(out, finding{Check: "KSeF answers", Problem: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, base), Fix: "check ksef.url; during KSeF maintenance wait and retry"})
	}
	return append(out, clockFinding(resp.Header.Get("Date"), now))
}

func connectionFinding(u *url.URL, err error) finding {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return finding{Check: "TLS " + u.Host, Problem: err.Error(), Fix: "a proxy or firewall intercepts TLS: allow " + u.Host + " or install its root certificate"}
	}
	problem := err.Error()
	if plain := ksef.DescribeUnreachable(strings.TrimSuffix(u.String(), "/"), err); plain != nil {
		var ue *ksef.UnreachableError
		if errors.As(plain, &ue) {
			problem = fmt.Sprintf("KSeF at %s does not answer (%s); queued invoices stay safe", ue.URL, ue.Reason)
		}
	}
	return finding{Check: "connection to " + hostPort(u), Problem: problem, Fix: "allow outgoing connections to " + hostPort(u) + " in the firewall, or set [http] proxy; check ksef.url"}
}

func isBlocked(err error) bool {
	var b *ksef.BlockedError
	return errors.As(err, &b)
}

// hostPort names the address actually dialled, with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return net.JoinHostPort(u.Hostname(), "443")
}

func tlsFinding(u *url.URL, st *tls.ConnectionState) finding {
	if u.Scheme != "https" {
		return finding{Check: "TLS", Info: "plain HTTP (simulator or local proxy): fine for tests, never for KSeF itself"}
	}
	if st == nil || len(st.PeerCertificates) == 0 {
		return finding{Check: "TLS " + u.Host, Problem: "no certificate presented", Fix: "check the proxy settings"}
	}
	return finding{Check: "TLS " + u.Host, Info: "certificate for " + st.PeerCertificates[0].Subject.CommonName + " verified"}
}

// maxSkew is how far our clock may drift from KSeF's before challenges and token times go wrong.
const maxSkew = time.Minute

func clockFinding(date string, now time.Time) finding {
	t, err := http.ParseTime(date)
	if err != nil {
		return finding{Check: "clock", Info: "KSeF sent no Date header; skew not measured"}
	}
	skew := now.Sub(t)
	if skew < -maxSkew || skew > maxSkew {
		return finding{Check: "clock", Problem: fmt.Sprintf("this computer's clock differs from KSeF's by %s", skew.Round(time.Second)),
			Fix: "synchronise the clock (Windows: w32tm /resync; Linux: timedatectl set-ntp true)"}
	}
	// The Date header has whole seconds, so a smaller skew cannot be told apart from none.
	return finding{Check: "clock", Info: fmt.Sprintf("within %s of KSeF", max(skew.Abs().Round(time.Second), time.Second))}
}

func loginFindings(ctx context.Context, cfg *config.Config, now time.Time) []finding {
	if _, err := authCheck(ctx, cfg, now); err != nil {
		return []finding{{Check: "login (" + cfg.Auth.Method + ")", Problem: err.Error(), Fix: loginFix(cfg)}}
	}
	out := []finding{{Check: "login (" + cfg.Auth.Method + ")", Info: "succeeded"}}
	client, err := newClient(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return append(out, finding{Check: "rate limits", Problem: err.Error(), Fix: loginFix(cfg)})
	}
	return append(out, rateLimitFinding(ctx, client), sessionLimitFinding(ctx, client))
}

func loginFix(cfg *config.Config) string {
	if cfg.Auth.Method == "certificate" {
		return "check cert_file/key_file/p12_file, the key password and that the certificate belongs to NIP " + cfg.KSeF.NIP + " (ksef-sync auth check)"
	}
	return "check token_file/token_env: generate a new KSeF token for NIP " + cfg.KSeF.NIP + " in the KSeF application (ksef-sync auth check)"
}

func rateLimitFinding(ctx context.Context, client *ksef.Client) finding {
	if err := client.RefreshLimits(ctx); err != nil {
		return finding{Check: "rate limits", Info: "KSeF did not report its limits (" + err.Error() + "); the production table is used"}
	}
	lim := client.Limits()
	send := lim["invoiceSend"]
	return finding{Check: "rate limits", Info: fmt.Sprintf("KSeF reports invoiceSend %d/s %d/min %d/h, batchSession %d/min; ksef-sync paces itself below them",
		send.PerSecond, send.PerMinute, send.PerHour, lim["batchSession"].PerMinute)}
}

// sessionLimitFinding says what KSeF lets this context send: the size limits decide which
// invoices validation lets through (send.max_invoice_size 0), and KSeF may change them per context.
func sessionLimitFinding(ctx context.Context, client *ksef.Client) finding {
	l, err := client.ContextLimits(ctx)
	if err != nil {
		return finding{Check: "session limits", Info: "KSeF did not report them (" + err.Error() + "); KSeF's defaults are assumed"}
	}
	plain, withAttachment := l.InvoiceSizes()
	return finding{Check: "session limits", Info: fmt.Sprintf("KSeF accepts invoices of up to %d bytes (%d with an attachment) and %d invoices per batch session in this context",
		plain, withAttachment, l.BatchSession.MaxInvoices)}
}

// credentialExpiry warns while there is still time to act.
func credentialExpiry(cfg *config.Config, now time.Time) finding {
	name, exp := credentialSummary(cfg)
	t, err := time.Parse("2006-01-02", exp)
	if err != nil {
		return finding{Check: "credentials", Problem: name, Fix: loginFix(cfg)}
	}
	left := t.Sub(now)
	days := int(math.Ceil(left.Hours() / 24))
	if cfg.Auth.Method != "certificate" {
		return tokenDeadlineFinding(cfg, exp, left, days)
	}
	switch {
	case left <= 0:
		return finding{Check: "credentials", Problem: name + " expired on " + exp, Fix: credentialFix(cfg)}
	case left < 30*24*time.Hour:
		return finding{Check: "credentials", Problem: fmt.Sprintf("%s stops working on %s (%d days left)", name, exp, days), Fix: credentialFix(cfg)}
	}
	return finding{Check: "credentials", Info: fmt.Sprintf("%s valid until %s (%d days left)", name, exp, days)}
}

// tokenDeadlineFinding is a warning, never a failure: the end of tokens is announced for
// auth.token_deadline, but the Ministry of Finance has proposed keeping them, and token login goes
// on for as long as KSeF accepts the token (the login check says whether it does today).
func tokenDeadlineFinding(cfg *config.Config, exp string, left time.Duration, days int) finding {
	f := finding{Check: "credentials", Fix: credentialFix(cfg)}
	switch {
	case left <= 0:
		f.Warning = "KSeF tokens were announced to stop on " + exp + "; token login goes on while KSeF accepts the token (see the login line)"
	case left < 30*24*time.Hour:
		f.Warning = fmt.Sprintf("KSeF tokens are announced to stop on %s (%d days left); the Ministry of Finance has proposed keeping them", exp, days)
	default:
		f.Info = fmt.Sprintf("KSeF token valid until %s (%d days left)", exp, days)
	}
	return f
}

func credentialFix(cfg *config.Config) string {
	if cfg.Auth.Method == "certificate" {
		return "request a new KSeF certificate (Authentication type) in the KSeF application and update cert_file/key_file"
	}
	return "switch to certificate login: [auth] method = \"certificate\" (README: Certificate login)"
}
