package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/spool"
)

// metaSaver keeps one journal meta value up to date for a running process: it writes value()
// every `every` when it changed, and once more when stopped, so a later process (or one after a
// kill) finds what this one knew, at most `every` old. An unchanged value is not written again, so
// an idle process writes nothing. The pacer history (pacer_state.go) and the renderer's settled
// moment (readable_state.go) use it.
type metaSaver struct {
	j      *spool.Journal
	key    string
	value  func() string // "" means nothing to save
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	last string // what was saved last
}

// metaSavers remembers the running savers per journal and key, so closing the deps can stop them.
var metaSavers sync.Map // metaSaverKey → *metaSaver

type metaSaverKey struct {
	j   *spool.Journal
	key string
}

// startMetaSaver saves value() under key now and then every `every` until stopMetaSaver or ctx
// ends.
func startMetaSaver(ctx context.Context, j *spool.Journal, key string, every time.Duration, value func() string, log *slog.Logger) {
	ctx, cancel := context.WithCancel(ctx)
	s := &metaSaver{j: j, key: key, value: value, log: log, cancel: cancel, done: make(chan struct{})}
	s.save(ctx)
	metaSavers.Store(metaSaverKey{j, key}, s)
	go s.run(ctx, every)
}

// stopMetaSaver stops the saver of j's key and saves the final value; call it before the journal
// is closed.
func stopMetaSaver(j *spool.Journal, key string) {
	v, ok := metaSavers.LoadAndDelete(metaSaverKey{j, key})
	if !ok {
		return
	}
	s := v.(*metaSaver)
	s.cancel()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.save(ctx)
}

func (s *metaSaver) run(ctx context.Context, every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.save(ctx)
		}
	}
}

func (s *metaSaver) save(ctx context.Context) {
	v := s.value()
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == "" || v == s.last {
		return
	}
	if err := s.j.SetMeta(ctx, s.key, v); err != nil {
		if ctx.Err() == nil {
			s.log.Debug("could not save "+s.key, "err", err)
		}
		return
	}
	s.last = v
}
