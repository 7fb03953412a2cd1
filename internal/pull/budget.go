package pull

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/slidingwindow"
)

// exportTimesKey is the journal meta key holding the start times of the last hour's exports, so the
// budget holds across restarts and between `pull` runs and the daemon.
const exportTimesKey = "pull_export_times"

// budget is the hourly export budget: KSeF allows ksef.ExportsPerHour per context by default (the
// table GET /rate-limits reports decides) and counts every POST /invoices/exports, also one that fails.
type budget struct {
	journal Journal
	key     string     // exportTimesKey, in the company's scope
	perHour func() int // asked at every reservation: KSeF's limits change
	log     *slog.Logger
}

func newBudget(j Journal, key string, perHour func() int, log *slog.Logger) *budget {
	return &budget{journal: j, key: key, perHour: perHour, log: log}
}

// reserve records an export about to start at now, or reports that the last hour's budget is
// spent. The record is read from and written back to the journal every time, because another
// process (`ksef-sync pull` next to the daemon's last cycle) may have spent some of it.
func (b *budget) reserve(ctx context.Context, now time.Time) (bool, error) {
	now = now.UTC()
	l := slidingwindow.New(slidingwindow.Window{Span: time.Hour, Limit: b.perHour()})
	saved, err := b.load(ctx)
	if err != nil {
		return false, err
	}
	l.Restore(saved)
	if l.Reserve(now) > 0 {
		return false, nil
	}
	v, err := json.Marshal(l.Events(now))
	if err != nil {
		return false, err
	}
	return true, b.journal.SetMeta(ctx, b.key, string(v))
}

// release takes back the reservation made at `at` for an export start that never reached KSeF (the
// keys or the login could not be fetched, the connection was refused): KSeF counts only the
// requests it receives, and an hour-long outage would otherwise spend the budget on nothing.
func (b *budget) release(ctx context.Context, at time.Time) error {
	saved, err := b.load(ctx)
	if err != nil {
		return err
	}
	at = at.UTC()
	for i, t := range saved {
		if t.Equal(at) {
			v, err := json.Marshal(append(saved[:i:i], saved[i+1:]...))
			if err != nil {
				return err
			}
			return b.journal.SetMeta(ctx, b.key, string(v))
		}
	}
	return nil
}

func (b *budget) load(ctx context.Context) ([]time.Time, error) {
	v, ok, err := b.journal.Meta(ctx, b.key)
	if err != nil || !ok {
		return nil, err
	}
	var all []time.Time
	if err := json.Unmarshal([]byte(v), &all); err != nil {
		b.log.Warn("export budget record unreadable; starting afresh", "err", err)
		return nil, nil
	}
	return all, nil
}
