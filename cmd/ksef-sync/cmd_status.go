package main

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/kardianos/service"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/status"
)

// statusReport is what `status` shows; its JSON form is a contract for monitoring scripts. The
// builder lives in internal/status so the HTTP server shows the very same document.
type statusReport = status.Report

type rejectionLine = status.Rejection

func cmdStatus(ctx context.Context, env *cliEnv, args []string) int {
	fs := newCompanyFlags(env, "status")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, _, code := fs.load(env, args[1:])
	if cfg == nil {
		return code
	}
	rep, err := collectStatus(ctx, cfg, serviceState(cfg), time.Now(), *fs.companies...)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // invoice text with <, > and & stays readable (issue 11)
		_ = enc.Encode(rep)
		return exitOK
	}
	renderStatus(env.stdout, rep, cfg.Lang())
	return exitOK
}

func serviceState(cfg *config.Config) string {
	sc, err := serviceConfig(cfg.Path, "", "")
	if err != nil {
		return "unknown"
	}
	svc, err := service.New(&program{}, sc)
	if err != nil {
		return "unknown"
	}
	st, err := svc.Status()
	switch {
	case err == service.ErrNotInstalled:
		return "not installed"
	case err != nil:
		return "unknown"
	case st == service.StatusRunning:
		return "running"
	case st == service.StatusStopped:
		return "stopped"
	}
	return "unknown"
}

// collectStatus reads the journal read-only, so it is safe while the daemon runs.
func collectStatus(ctx context.Context, cfg *config.Config, svcState string, now time.Time, only ...string) (*statusReport, error) {
	creds, expires := credentialSummary(cfg)
	return status.Collect(ctx, status.Options{Config: cfg, Service: svcState, Credentials: creds, CredsExpires: expires,
		CredentialsOf: credentialsOf(cfg), Only: only, Now: now})
}

// credentialsOf names each company's login method when the configuration lists companies (they log
// in differently); nil for the single-company form. A shared credential is read once per call.
func credentialsOf(cfg *config.Config) func(config.Company) (string, string) {
	if !cfg.MultiCompany() {
		return nil
	}
	type summary struct{ what, expires string }
	var mu sync.Mutex
	seen := map[string]summary{}
	return func(co config.Company) (string, string) {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := seen[co.Credential]; ok && co.Credential != "" {
			return s.what, s.expires
		}
		what, expires := credentialSummary(cfg.ForCompany(co))
		if co.Credential != "" {
			what += " [credentials." + co.Credential + "]"
			seen[co.Credential] = summary{what, expires}
		}
		return what, expires
	}
}

// credentialSummary names the login method and when it stops working.
func credentialSummary(cfg *config.Config) (string, string) {
	if cfg.Auth.Method != "certificate" {
		return "KSeF token", tokenDeadline.Format("2006-01-02")
	}
	creds, err := loadCredentials(cfg)
	if err != nil {
		return "certificate (cannot be read: " + explainAuthError(err, cfg).Error() + ")", ""
	}
	c := creds.Certificate
	return "certificate " + c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02")
}

// renderStatus prints the report in l, the configuration's language (Polish by default).
func renderStatus(w io.Writer, r *statusReport, l msg.Lang) { status.RenderText(w, r, l) }
