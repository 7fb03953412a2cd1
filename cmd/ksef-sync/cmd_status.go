package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/kardianos/service"
	"github.com/robfig/cron/v3"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/spool"
)

// statusReport is what `status` shows; its JSON form is a contract for monitoring scripts.
type statusReport struct {
	Service      string            `json:"service"`
	NIP          string            `json:"nip"`
	Environment  string            `json:"environment"`
	LastSend     string            `json:"lastSuccessfulSend,omitempty"`
	LastPull     string            `json:"lastSuccessfulPull,omitempty"`
	NextPull     string            `json:"nextPull,omitempty"`
	Queue        map[string]int    `json:"queue"`
	Rejections   []rejectionLine   `json:"lastRejections"`
	Cursors      map[string]string `json:"pullCursors"`
	Credentials  string            `json:"credentials"`
	CredsExpires string            `json:"credentialsExpire,omitempty"`
	Note         string            `json:"note,omitempty"`
}

type rejectionLine struct {
	Time   string `json:"time"`
	File   string `json:"file"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

func cmdStatus(ctx context.Context, env *cliEnv, args []string) int {
	fs, cfgPath := newFlags(env, "status")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	cfg, code := loadConfig(env, *cfgPath)
	if cfg == nil {
		return code
	}
	rep, err := collectStatus(ctx, cfg, serviceState(cfg), time.Now())
	if err != nil {
		return fail(env, exitFatal, err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return exitOK
	}
	renderStatus(env.stdout, rep)
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
func collectStatus(ctx context.Context, cfg *config.Config, svcState string, now time.Time) (*statusReport, error) {
	nip := cfg.KSeF.NIP
	rep := &statusReport{Service: svcState, NIP: nip, Environment: cfg.KSeF.Environment, Queue: map[string]int{},
		Rejections: []rejectionLine{}, Cursors: map[string]string{}}
	rep.Credentials, rep.CredsExpires = credentialSummary(cfg)
	rep.NextPull = nextPull(cfg, now)
	j, err := spool.OpenReadOnly(ctx, cfg.Folders.State)
	if errors.Is(err, fs.ErrNotExist) {
		rep.Note = "no journal in " + cfg.Folders.State + " yet: the daemon has not run"
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open journal in %s: %w", cfg.Folders.State, err)
	}
	defer j.Close()
	rep.LastSend, _, _ = j.Meta(ctx, "last_send_output")
	rep.LastPull, _, _ = j.Meta(ctx, "last_pull")
	counts, err := j.CountByState(ctx, nip)
	if err != nil {
		return nil, err
	}
	for st, n := range counts {
		rep.Queue[string(st)] = n
	}
	rej, err := j.RecentRejections(ctx, nip, 20)
	if err != nil {
		return nil, err
	}
	for _, r := range rej {
		rep.Rejections = append(rep.Rejections, rejectionLine{
			Time: r.UpdatedAt.UTC().Format(time.RFC3339), File: r.FileName, Code: rejectionCode(&r), Reason: r.ErrDescription,
		})
	}
	cursors, err := j.Cursors(ctx, nip)
	if err != nil {
		return nil, err
	}
	for s, c := range cursors {
		rep.Cursors[s] = c.UTC().Format(time.RFC3339)
	}
	return rep, nil
}

func rejectionCode(r *spool.Invoice) string {
	if r.ErrStage == "validation" {
		return r.ErrKind
	}
	return fmt.Sprint(r.ErrCode)
}

func nextPull(cfg *config.Config, now time.Time) string {
	if !cfg.Pull.Enabled {
		return "disabled"
	}
	s, err := cron.ParseStandard(cfg.Pull.Schedule)
	if err != nil {
		return ""
	}
	return s.Next(now).UTC().Format(time.RFC3339)
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

func renderStatus(w io.Writer, r *statusReport) {
	fmt.Fprintf(w, "ksef-sync status\n")
	fmt.Fprintf(w, "  service:              %s\n", r.Service)
	fmt.Fprintf(w, "  NIP:                  %s (%s)\n", r.NIP, r.Environment)
	fmt.Fprintf(w, "  last successful send: %s\n", orNever(r.LastSend))
	fmt.Fprintf(w, "  last successful pull: %s\n", orNever(r.LastPull))
	fmt.Fprintf(w, "  next pull:            %s\n", orNever(r.NextPull))
	fmt.Fprintf(w, "  credentials:          %s", r.Credentials)
	if r.CredsExpires != "" {
		fmt.Fprintf(w, ", expires %s", r.CredsExpires)
	}
	fmt.Fprintf(w, "\n")
	if r.Note != "" {
		fmt.Fprintf(w, "  note:                 %s\n", r.Note)
	}
	fmt.Fprintf(w, "\nQueue:\n")
	for _, st := range []spool.State{spool.StateClaiming, spool.StateClaimed, spool.StateReady, spool.StateSending, spool.StateSubmitted, spool.StateAccepted, spool.StateRejected, spool.StateDone} {
		fmt.Fprintf(w, "  %-10s %d\n", st, r.Queue[string(st)])
	}
	fmt.Fprintf(w, "\nPull cursors:\n")
	if len(r.Cursors) == 0 {
		fmt.Fprintf(w, "  (none yet)\n")
	}
	for _, s := range sortedKeys(r.Cursors) {
		fmt.Fprintf(w, "  %-10s %s\n", s, r.Cursors[s])
	}
	fmt.Fprintf(w, "\nLast rejections (newest first):\n")
	if len(r.Rejections) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, rj := range r.Rejections {
		fmt.Fprintf(w, "  %s  %s  [%s] %s\n", rj.Time, rj.File, rj.Code, oneLine(rj.Reason))
	}
}

func orNever(s string) string {
	if s == "" {
		return "never"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
