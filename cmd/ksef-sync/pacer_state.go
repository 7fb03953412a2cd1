package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// The client's pacer history is kept in the journal's meta table, as the hourly export budget is,
// so that back-to-back `ksef-sync pull` or `send` runs, or a restarted daemon, never burst into a
// 429 (issue 11 item 7): the new process knows what the last one sent in the last hour.

const pacerStateKey = "ksef_pacer_state"

// pacerStateEvery is how often a running process saves its pacer history when it changed (besides
// at exit). A process killed with -9 loses at most this much of it, and the next one must not
// burst into KSeF's window on its account: half a second, not five (TestPullKill9 saw a 429 with
// five). Unchanged history is not written again, so an idle process writes nothing.
const pacerStateEvery = 500 * time.Millisecond

// pacerStateWire is the saved form: per counter key, Unix milliseconds.
type pacerStateWire map[string][]int64

// pacerSavers remembers, per deps, the goroutine that saves its pacer history, so closing the
// deps can stop it and save once more.
var pacerSavers sync.Map // *deps → *pacerSaver

type pacerSaver struct {
	j   *spool.Journal
	key string // pacerStateKey in the company's scope
	// ownOnly drops the per-IP counters (auth) from what is saved: with many companies in one
	// journal each would restore the shared counters once more.
	ownOnly bool
	c       *ksef.Client
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}

	mu   sync.Mutex
	last string // what was saved last, to skip writes while idle
}

// startPacerState restores the saved pacer history into d's client and starts the goroutine that
// saves it every few seconds until the deps are closed (stopPacerState) or ctx ends.
func startPacerState(ctx context.Context, d *deps) {
	if d.journal == nil || d.client == nil {
		return
	}
	log := d.log.With("component", "pacer-state")
	scope := ""
	if d.cfg != nil {
		scope = d.cfg.MetaScope()
	}
	key := config.MetaKey(pacerStateKey, scope)
	loadPacerState(ctx, d.journal, key, d.client, log)
	ctx, cancel := context.WithCancel(ctx)
	s := &pacerSaver{j: d.journal, key: key, ownOnly: scope != "", c: d.client, log: log, cancel: cancel, done: make(chan struct{})}
	pacerSavers.Store(d, s)
	go s.run(ctx)
}

// stopPacerState stops the saver of d's journal and saves the final history; call it before the
// journal is closed.
func stopPacerState(d *deps) {
	v, ok := pacerSavers.LoadAndDelete(d)
	if !ok {
		return
	}
	s := v.(*pacerSaver)
	s.cancel()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.save(ctx)
}

func (s *pacerSaver) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(pacerStateEvery)
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

func (s *pacerSaver) save(ctx context.Context) {
	wire := pacerStateWire{}
	for key, events := range s.c.PacerState() {
		if s.ownOnly && key == ksef.GroupAuth {
			continue
		}
		ms := make([]int64, len(events))
		for i, e := range events {
			ms[i] = e.UnixMilli()
		}
		wire[key] = ms
	}
	b, err := json.Marshal(wire)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(b) == s.last {
		return
	}
	if err := s.j.SetMeta(ctx, s.key, string(b)); err != nil {
		if ctx.Err() == nil {
			s.log.Debug("could not save the rate-limit history", "err", err)
		}
		return
	}
	s.last = string(b)
}

// loadPacerState restores what an earlier process saved. A missing or unreadable value only means
// the pacer starts empty, as it always did.
func loadPacerState(ctx context.Context, j *spool.Journal, key string, c *ksef.Client, log *slog.Logger) {
	v, ok, err := j.Meta(ctx, key)
	if err != nil || !ok {
		return
	}
	var wire pacerStateWire
	if err := json.Unmarshal([]byte(v), &wire); err != nil {
		log.Info("ignoring an unreadable saved rate-limit history", "err", err)
		return
	}
	st := ksef.PacerState{}
	n := 0
	for key, ms := range wire {
		for _, m := range ms {
			st[key] = append(st[key], time.UnixMilli(m))
		}
		n += len(ms)
	}
	c.RestorePacerState(st)
	log.Debug("rate-limit history restored", "requests", n)
}
