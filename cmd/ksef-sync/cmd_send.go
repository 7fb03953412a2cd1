package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
)

func cmdSend(ctx context.Context, env *cliEnv, args []string) int {
	fs := newCompanyFlags(env, "send")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up waiting for KSeF's verdict after this long (unfinished invoices are completed by the next run)")
	if err := parseArgs(fs.FlagSet, args[1:]); err != nil {
		return parseFailed(err)
	}
	return withCompanies(ctx, env, fs,
		func(env *cliEnv, d *deps) int { return sendOnce(ctx, env, d, *timeout) },
		func(env *cliEnv, cfg *config.Config, log *slog.Logger) int {
			return sendViaDaemon(ctx, env, cfg, log, *timeout)
		})
}

func sendOnce(ctx context.Context, env *cliEnv, d *deps, timeout time.Duration) int {
	present, err := d.watcher.List()
	if err != nil {
		return fail(env, exitFatal, fmt.Errorf("list outbox %s: %w", d.cfg.Folders.Outbox, err))
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := d.engine.SendOnce(tctx, d.watcher, present)
	// After the summary is printed: the readable copies of what this run sent exist when it returns.
	defer drainReadable(tctx, env, d.readable)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(env.stdout, "accepted: %d\nrejected: %d\npending: %d\n", res.Accepted, res.Rejected, res.Pending)
		return fail(env, exitFatal, err)
	}
	return reportSend(env, sendTally{Accepted: res.Accepted, Rejected: res.Rejected, Pending: res.Pending}, timeout)
}
