package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/plzone"
	"github.com/ksef-sync/ksef-sync/internal/pull"
	"github.com/ksef-sync/ksef-sync/ksef"
)

func cmdPull(ctx context.Context, env *cliEnv, args []string) int {
	fs := newCompanyFlags(env, "pull")
	since := fs.String("since", "", "one-off re-download from this date (YYYY-MM-DD: from the start of that day in Poland, or RFC 3339); cursors are not touched")
	until := fs.String("until", "", "with -since: up to this date (YYYY-MM-DD: up to the end of that day in Poland, or RFC 3339; default now)")
	out := fs.String("out", "", "with -since: folder to download into (required, must differ from the inbox); with several companies, one subfolder per company name")
	if err := parseArgs(fs.FlagSet, args[1:]); err != nil {
		return parseFailed(err)
	}
	if *since == "" && (*until != "" || *out != "") {
		return fail(env, exitUsage, fmt.Errorf("-until and -out only work together with -since"))
	}
	several := *since != "" && severalSelected(fs)
	alone := func(env *cliEnv, d *deps) int {
		opts := pullOptions(d)
		if *since != "" {
			dir := *out
			if several {
				// each company's invoices in its own folder: DIR/<company name>
				dir = filepath.Join(*out, d.cfg.CompanyName())
			}
			var err error
			if opts, err = oneOff(opts, d.cfg, *since, *until, dir); err != nil {
				return fail(env, exitUsage, err)
			}
		}
		if r := d.readableFor("inbox"); r != nil {
			opts.Readable = r
			defer drainReadable(ctx, env, r) // the PDFs of what this pull delivered exist when it returns
			// render on every core while the invoices arrive; Drain then renders what is left
			defer r.Boost(ctx)()
		}
		return pullOnce(ctx, env, opts, d.cfg)
	}
	withDaemon := func(env *cliEnv, cfg *config.Config, _ *slog.Logger) int {
		if *since != "" {
			return fail(env, exitFatal, fmt.Errorf("the daemon is running: a one-off re-download (-since) needs the state folder to itself; stop the service or run it later"))
		}
		return pullViaDaemon(ctx, env, cfg)
	}
	return withCompanies(ctx, env, fs, alone, withDaemon)
}

// severalSelected reports whether the command works on more than one company of the configuration
// named by -config. A configuration that does not load is not several: withCompanies reports it.
func severalSelected(f *companyFlags) bool {
	cfg, err := config.Load(*f.config)
	if err != nil {
		return false
	}
	views, err := companyViews(cfg, *f.companies)
	return err == nil && len(views) > 1
}

func pullOnce(ctx context.Context, env *cliEnv, opts pull.Options, cfg *config.Config) int {
	p, err := pull.New(opts)
	if err != nil {
		return fail(env, exitUsage, err)
	}
	st, err := p.Pull(ctx)
	return reportPull(env, st, explainPullError(err, cfg))
}

// explainPullError turns a pull that failed because KSeF refused the login into the sentence
// `auth check`, the log and status give, naming the company: for an office's shared credentials
// and KSeF's 415 ("Brak przypisanych uprawnień", open-api.json) that is the grant the company has
// not given the office, not the generic advice to replace a token that works for every other
// company.
func explainPullError(err error, cfg *config.Config) error {
	if err == nil || !ksef.IsCredentialsProblem(err) {
		return err
	}
	return fmt.Errorf("company %q: %w", cfg.CompanyName(), explainAuthError(err, cfg))
}

func pullOptions(d *deps) pull.Options {
	cfg := d.cfg
	return pull.Options{
		NIP:      cfg.KSeF.NIP,
		Inbox:    cfg.Folders.Inbox,
		Layout:   cfg.Pull.Layout,
		Subjects: cfg.Pull.Subjects,
		Start:    cfg.Pull.StartTime,
		TempDir:  filepath.Join(cfg.Folders.State, "tmp"),
		Poll:     cfg.Send.PollInterval.Duration,
		Client:   d.client,
		Journal:  d.journal,
		Logger:   d.log,
		QRBase:   cfg.QRBaseURL(),
		// KSeF leaves some exports running for days: give up on one after this long.
		ExportTimeout: cfg.Pull.ExportTimeout.Duration,
		MetaScope:     cfg.MetaScope(),
		Spread:        pullOffset(cfg),
	}
}

// pullOffset places a company of a many-company daemon at its own fixed point of the pull
// schedule's period (a hash of its name), so 400 companies never export in the same minute.
func pullOffset(cfg *config.Config) float64 {
	if !cfg.MultiCompany() {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(cfg.CompanyName()))
	return float64(h.Sum32()) / (1 << 32)
}

func oneOff(o pull.Options, cfg *config.Config, since, until, out string) (pull.Options, error) {
	var err error
	if o.Since, err = parseWhen(since, false); err != nil {
		return o, fmt.Errorf("-since: %w", err)
	}
	now := time.Now()
	o.Until = now
	if until != "" {
		// compared from the start of a bare -until day: "-since D -until D" is the day D
		first, err := parseWhen(until, false)
		if err != nil {
			return o, fmt.Errorf("-until: %w", err)
		}
		if first.Before(o.Since) {
			return o, fmt.Errorf("-until %s is before -since %s", until, since)
		}
		o.Until, _ = parseWhen(until, true)
		// the end of today is still to come: ask KSeF up to now, as without -until
		if o.Until.After(now) {
			o.Until = now
		}
	}
	if out == "" {
		return o, fmt.Errorf("-since needs -out DIR: a one-off download goes to its own folder, not the inbox")
	}
	if o.Until.Before(o.Since) {
		return o, fmt.Errorf("-since %s is in the future", since)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return o, fmt.Errorf("-out: %w", err)
	}
	if rel, err := filepath.Rel(cfg.Folders.Inbox, abs); err == nil && filepath.IsLocal(rel) {
		// the ERP imports everything under the inbox, so a re-download there would arrive twice
		return o, fmt.Errorf("-out must not be the inbox or inside it (%s)", cfg.Folders.Inbox)
	}
	o.Inbox, o.OneOff = abs, true
	return o, nil
}

// parseWhen reads a -since or -until value: RFC 3339, or a bare date, which is a day in Poland,
// as the inbox's {yyyy}/{mm} folders are. A bare -until date (endOfDay) includes its whole day, so
// `-since 2026-11-01 -until 2026-11-30` is all of November, as a bookkeeper means it; read as
// midnight it left out the last day.
func parseWhen(s string, endOfDay bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	day, err := time.ParseInLocation("2006-01-02", s, plzone.Warsaw)
	if err != nil || !endOfDay {
		return day, err
	}
	return day.AddDate(0, 0, 1), nil
}

// runPullRoom runs the daemon's pull room until ctx ends: the schedule when pull is enabled, and
// always the answers to `ksef-sync pull` requests from other processes. Both use one Puller, whose
// cycles never overlap.
func runPullRoom(ctx context.Context, d *deps) error {
	opts := pullOptions(d)
	if r := d.readableFor("inbox"); r != nil {
		opts.Readable = r
	}
	p, err := pull.New(opts)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { servePullRequests(ctx, d.cfg, d.log.With("component", "pull"), p.Pull) })
	if !d.cfg.Pull.Enabled {
		<-ctx.Done()
		return nil
	}
	return p.Run(ctx, d.cfg.Pull.Schedule)
}
