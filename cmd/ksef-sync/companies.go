package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/spool"
)

// companyFlag is the repeatable -company NAME of status, send, pull, doctor and auth check
// (issue 13): the companies to work on, by name (or NIP); none given means all.
type companyFlag []string

func (c *companyFlag) String() string { return strings.Join(*c, ",") }

func (c *companyFlag) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			*c = append(*c, n)
		}
	}
	return nil
}

// companyFlags is the flag set of a command that works on the configuration's companies (status,
// send, pull, doctor, auth check): -config and -company are registered, parsed and resolved here
// once; the command adds its own flags before parsing.
type companyFlags struct {
	*flag.FlagSet
	config    *string
	companies *companyFlag
}

func newCompanyFlags(env *cliEnv, name string) *companyFlags {
	fs, cfgPath := newFlags(env, name)
	companies := &companyFlag{}
	fs.Var(companies, "company", "company name (or NIP) from the configuration; repeat for several (default: all)")
	return &companyFlags{FlagSet: fs, config: cfgPath, companies: companies}
}

// load is the start of a command that needs the selected companies' configurations: it parses
// args, loads the configuration and selects the named companies (views). A nil configuration
// means exit with code, the problem already printed.
func (f *companyFlags) load(env *cliEnv, args []string) (*config.Config, []*config.Config, int) {
	if err := parseArgs(f.FlagSet, args); err != nil {
		return nil, nil, parseFailed(err)
	}
	return f.views(env)
}

// views loads the configuration and selects the named companies (companyViews). A nil
// configuration means exit with code, the problem already printed (a configuration that does not
// load is fatal, an unknown -company a usage error).
func (f *companyFlags) views(env *cliEnv) (*config.Config, []*config.Config, int) {
	cfg, code := loadConfig(env, *f.config)
	if cfg == nil {
		return nil, nil, code
	}
	views, err := companyViews(cfg, *f.companies)
	if err != nil {
		return nil, nil, fail(env, exitUsage, err)
	}
	return cfg, views, exitOK
}

// companyViews returns the configuration as each selected company sees it (config.ForCompany), in
// configuration order. In the single-company form it is cfg itself, whose company is "default".
func companyViews(cfg *config.Config, names companyFlag) ([]*config.Config, error) {
	var out []*config.Config
	for _, n := range names {
		if _, ok := cfg.CompanyNamed(n); !ok {
			return nil, fmt.Errorf("-company %s: no such company in %s (%s)", n, cfg.Path, strings.Join(companyNames(cfg), ", "))
		}
	}
	for _, co := range cfg.Companies() {
		if len(names) > 0 && !selected(names, co) {
			continue
		}
		if !cfg.MultiCompany() {
			return []*config.Config{cfg}, nil
		}
		out = append(out, cfg.ForCompany(co))
	}
	return out, nil
}

func selected(names companyFlag, co config.Company) bool {
	for _, n := range names {
		if n == co.Name || n == co.NIP {
			return true
		}
	}
	return false
}

func companyNames(cfg *config.Config) []string {
	var out []string
	for _, co := range cfg.Companies() {
		out = append(out, co.Name+" (NIP "+co.NIP+")")
	}
	return out
}

// companiesAtOnce is how many companies `auth check`, `doctor`, `send` and `pull` work on at the
// same time. One after another, an office's 400 companies took 400 logins' time, and longer
// whenever KSeF kept logins at status 100 for a while; KSeF's per-IP limit of the auth group (60
// requests a second, open-api.json) is paced across them, as all clients of the process share its
// per-IP counters.
const companiesAtOnce = 8

// perCompany runs fn for every view, companiesAtOnce at a time in configuration order, and returns
// a channel per view that gets its result. The caller reads every channel, in order: its report
// follows the configuration while later companies are already under way, and every worker has
// ended when the caller is done.
func perCompany[T any](views []*config.Config, fn func(i int, v *config.Config) T) []chan T {
	results := make([]chan T, len(views))
	next := make(chan int, len(views))
	for i := range views {
		results[i] = make(chan T, 1)
		next <- i
	}
	close(next)
	for range min(companiesAtOnce, len(views)) {
		go func() {
			for i := range next {
				results[i] <- fn(i, views[i])
			}
		}()
	}
	return results
}

// worstExit combines the exit codes of several companies: a fatal error beats a rejection beats
// success, so a script sees the worst.
func worstExit(a, b int) int {
	rank := func(c int) int {
		switch c {
		case exitOK:
			return 0
		case exitRejected:
			return 1
		}
		return 2
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// withCompanies is withDepsOrDaemon for the selected companies: each runs alone (sharing one
// journal), or, while a daemon holds the state folder, through withDaemon. Several companies run
// companiesAtOnce at a time, as the daemon runs them: one after another, an office's 400 companies
// waited for each other's logins, sends and exports. Their output stays in configuration order,
// each company's under a "company NAME:" line (orderedOutput).
func withCompanies(ctx context.Context, env *cliEnv, f *companyFlags, alone func(env *cliEnv, d *deps) int, withDaemon func(env *cliEnv, cfg *config.Config, log *slog.Logger) int) int {
	cfg, views, code := f.views(env)
	if cfg == nil {
		return code
	}
	if !cfg.MultiCompany() {
		return withDepsOrDaemon(ctx, env, *f.config,
			func(d *deps) int { return alone(env, d) },
			func(cfg *config.Config, log *slog.Logger) int { return withDaemon(env, cfg, log) })
	}
	log, closeLog, err := newLogger(env, cfg)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer closeLog()
	j, err := spool.Open(ctx, cfg.Folders.State, log.With("component", "spool"))
	locked := errors.Is(err, spool.ErrLocked)
	if err != nil && !locked {
		return fail(env, exitFatal, fmt.Errorf("journal in %s: %w", cfg.Folders.State, err))
	}
	if j != nil {
		defer j.Close()
	}
	names := make([]string, len(views))
	for i, v := range views {
		names[i] = v.CompanyName()
	}
	out := newOrderedOutput(env.stdout, env.stderr, names)
	results := perCompany(views, func(i int, v *config.Config) int {
		defer out.end(i)
		cenv, clog := out.env(env, i), log.With("company", v.CompanyName())
		if locked {
			return withDaemon(cenv, v, clog)
		}
		d, err := openCompany(ctx, v, clog, j)
		if err != nil {
			return fail(cenv, exitFatal, fmt.Errorf("company %s: %w", v.CompanyName(), err))
		}
		defer d.close()
		return alone(cenv, d)
	})
	code = exitOK
	for _, r := range results {
		code = worstExit(code, <-r)
	}
	return code
}
