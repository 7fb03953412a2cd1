package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func cmdSend(ctx context.Context, env *cliEnv, args []string) int {
	fs, cfgPath := newFlags(env, "send")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up waiting for KSeF's verdict after this long (unfinished invoices are completed by the next run)")
	if err := fs.Parse(args[1:]); err != nil {
		return parseFailed(err)
	}
	return withDeps(ctx, env, *cfgPath, func(d *deps) int { return sendOnce(ctx, env, d, *timeout) })
}

func sendOnce(ctx context.Context, env *cliEnv, d *deps, timeout time.Duration) int {
	present, err := d.watcher.List()
	if err != nil {
		return fail(env, exitFatal, fmt.Errorf("list outbox %s: %w", d.cfg.Folders.Outbox, err))
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := d.engine.SendOnce(tctx, d.watcher, present)
	fmt.Fprintf(env.stdout, "accepted: %d\nrejected: %d\npending: %d\n", res.Accepted, res.Rejected, res.Pending)
	switch {
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		return fail(env, exitFatal, err)
	case res.Pending > 0:
		fmt.Fprintf(env.stderr, "ksef-sync: %d invoice(s) not final after %s; they stay in the journal and the next run finishes them\n", res.Pending, timeout)
		return exitFatal
	case res.Rejected > 0:
		return exitRejected
	}
	return exitOK
}
