package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/watcher"
)

// reportOutbox records in the journal whether the watcher can list the outbox, so `status` (another
// process) shows a share that is not mounted yet (issue 11 item 8). It runs only when the state
// changes, on the watcher's goroutine, so the short write never delays discovery noticeably.
func reportOutbox(j *spool.Journal, key string, log *slog.Logger) func(watcher.DirStatus) {
	return func(s watcher.DirStatus) {
		v := ""
		if !s.Available {
			v = status.OutboxUnavailable(s.Problem, s.Since, s.Err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := j.SetMeta(ctx, key, v); err != nil {
			log.Warn("cannot record the outbox's availability for status", "err", err)
		}
	}
}
