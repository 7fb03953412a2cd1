package pull

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Run pulls on the cron schedule (a standard cron expression or a descriptor such as "@every
// 15m") until ctx ends. Cycles never overlap: a cycle still running when the next is due simply
// delays it. A failed cycle is logged; the next one continues from the cursors.
func (p *Puller) Run(ctx context.Context, schedule string) error {
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return fmt.Errorf("pull.schedule: %w", err)
	}
	for {
		next := spreadNext(sched, p.now(), p.o.Spread)
		_ = p.o.Journal.SetMeta(ctx, metaKey("next_pull", p.o.MetaScope), next.UTC().Format(time.RFC3339))
		p.log.Debug("next pull scheduled", "at", next)
		if err := p.clock.Sleep(ctx, next.Sub(p.now())); err != nil {
			return nil // ctx ended: a normal stop
		}
		st, err := p.Pull(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.Warn("pull failed; the next run continues from the cursors", "err", err)
			continue
		}
		for _, b := range st.Behind {
			p.log.Info("pull behind; the next run continues", "subject", b.Subject, "cursor", b.Cursor.UTC().Format(time.RFC3339Nano), "reason", b.Reason)
		}
		p.log.Info("pull finished", "exports", st.Exports, "written", st.Written, "corrupt", st.Corrupt, "budget_exhausted", st.BudgetExhausted)
	}
}

// spreadNext is the first scheduled time, moved later by fraction of the period that follows it, that
// is still after now (issue 13: 400 companies on "*/15 * * * *" spread over the quarter-hour, each
// always at the same offset).
func spreadNext(sched cron.Schedule, now time.Time, fraction float64) time.Time {
	next := sched.Next(now)
	if fraction <= 0 {
		return next
	}
	period := sched.Next(next).Sub(next)
	base := sched.Next(now.Add(-period - time.Nanosecond)) // the slot whose moved time may still be ahead
	for range 3 {
		after := sched.Next(base)
		if moved := base.Add(time.Duration(fraction * float64(after.Sub(base)))); moved.After(now) {
			return moved
		}
		base = after
	}
	return base
}
