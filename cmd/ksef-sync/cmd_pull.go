package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/engine"
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

func pullOnce(ctx context.Context, env *cliEnv, opts engine.PullOptions) int {
	p, err := engine.NewPuller(opts)
	if err != nil {
		return fail(env, exitUsage, err)
	}
	st, err := p.Pull(ctx)
	fmt.Fprintf(env.stdout, "exports: %d\nwritten: %d\nalready delivered: %d\ncorrupt: %d\n", st.Exports, st.Written, st.Skipped, st.Corrupt)
	if st.BudgetExhausted {
		fmt.Fprintln(env.stdout, "the hourly export budget is used up: run pull again later to continue from the cursors")
	}
	if err != nil {
		return fail(env, exitFatal, err)
	}
	return exitOK
}

func pullOptions(d *deps) engine.PullOptions {
	cfg := d.cfg
	return engine.PullOptions{
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

func oneOff(o engine.PullOptions, cfg *config.Config, since, until, out string) (engine.PullOptions, error) {
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

// runPullSchedule pulls on the configured cron schedule until ctx ends. Runs never overlap: a pull
// still running when the next is due simply delays it.
func runPullSchedule(ctx context.Context, d *deps) error {
	sched, err := cron.ParseStandard(d.cfg.Pull.Schedule)
	if err != nil {
		return fmt.Errorf("pull.schedule: %w", err)
	}
	p, err := engine.NewPuller(pullOptions(d))
	if err != nil {
		return err
	}
	log := d.log.With("component", "pull")
	for {
		next := sched.Next(time.Now())
		_ = d.journal.SetMeta(ctx, "next_pull", next.UTC().Format(time.RFC3339))
		log.Debug("next pull scheduled", "at", next)
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		st, err := p.Pull(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("pull failed; the next run continues from the cursors", "err", err)
			continue
		}
		log.Info("pull finished", "exports", st.Exports, "written", st.Written, "corrupt", st.Corrupt, "budget_exhausted", st.BudgetExhausted)
	}
}
