package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/pull"
)

func cmdPull(ctx context.Context, env *cliEnv, args []string) int {
	fs, cfgPath := newFlags(env, "pull")
	since := fs.String("since", "", "one-off re-download from this date (YYYY-MM-DD or RFC 3339); cursors are not touched")
	until := fs.String("until", "", "with -since: up to this date (default now)")
	out := fs.String("out", "", "with -since: folder to download into (required, must differ from the inbox)")
	if err := fs.Parse(args[1:]); err != nil {
		return parseFailed(err)
	}
	if *since == "" && (*until != "" || *out != "") {
		return fail(env, exitUsage, fmt.Errorf("-until and -out only work together with -since"))
	}
	return withDeps(ctx, env, *cfgPath, func(d *deps) int {
		opts := pullOptions(d)
		if *since != "" {
			var err error
			if opts, err = oneOff(opts, d.cfg, *since, *until, *out); err != nil {
				return fail(env, exitUsage, err)
			}
		}
		return pullOnce(ctx, env, opts)
	})
}

func pullOnce(ctx context.Context, env *cliEnv, opts pull.Options) int {
	p, err := pull.New(opts)
	if err != nil {
		return fail(env, exitUsage, err)
	}
	st, err := p.Pull(ctx)
	fmt.Fprintf(env.stdout, "exports: %d\nwritten: %d\nalready delivered: %d\ncorrupt: %d\n", st.Exports, st.Written, st.Skipped, st.Corrupt)
	for _, b := range st.Behind {
		// The contract line: the subject is not caught up yet; the next pull continues at its cursor.
		fmt.Fprintf(env.stdout, "behind: %s cursor %s\n", b.Subject, b.Cursor.UTC().Format(time.RFC3339Nano))
	}
	if st.BudgetExhausted {
		fmt.Fprintln(env.stdout, "the hourly export budget is used up: run pull again later to continue from the cursors")
	}
	if err != nil {
		return fail(env, exitFatal, err)
	}
	return exitOK
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
	}
}

func oneOff(o pull.Options, cfg *config.Config, since, until, out string) (pull.Options, error) {
	var err error
	if o.Since, err = parseWhen(since); err != nil {
		return o, fmt.Errorf("-since: %w", err)
	}
	o.Until = time.Now()
	if until != "" {
		if o.Until, err = parseWhen(until); err != nil {
			return o, fmt.Errorf("-until: %w", err)
		}
	}
	if out == "" {
		return o, fmt.Errorf("-since needs -out DIR: a one-off download goes to its own folder, not the inbox")
	}
	if o.Until.Before(o.Since) {
		return o, fmt.Errorf("-until %s is before -since %s", until, since)
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

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02", s, time.UTC)
}

// runPullSchedule starts the pull room on its schedule; it returns when ctx ends.
func runPullSchedule(ctx context.Context, d *deps) error {
	p, err := pull.New(pullOptions(d))
	if err != nil {
		return err
	}
	return p.Run(ctx, d.cfg.Pull.Schedule)
}
