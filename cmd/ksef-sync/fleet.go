package main

// A many-company daemon (issue 13): one journal, and per company its own watcher, KSeF client
// (pacer, sessions, login), engine, pull cursors and pull schedule. A company that cannot start
// (credentials unreadable), whose login KSeF refuses, whose share is gone or whose context KSeF
// throttles with 429s only waits itself: nothing it does blocks another company's goroutines, and
// each client paces only its own context. The per-IP limits (the auth group) are shared by every
// client of the process (ksef.processIP) and so paced together.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/logging"
	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// memberRetry is how long a company that could not start, or whose engine stopped with an error,
// waits before it is started again. A variable so tests can shorten it.
var memberRetry = 30 * time.Second

// fleetDaemon is the daemon of a configuration that lists its companies: one journal, one status
// page and heartbeat, and a member per company; it runs until ctx is cancelled.
func fleetDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	log.Info("ksef-sync starting", "version", version, "config", cfg.Path, "companies", len(cfg.Companies()))
	tracker := status.NewTracker(nil)
	log = slog.New(tracker.Handler(log.Handler()))
	obs := newObservability(cfg, tracker, log)
	j, err := spool.Open(ctx, cfg.Folders.State, log.With("component", "spool"))
	if err != nil {
		return fmt.Errorf("journal in %s: %w", cfg.Folders.State, err)
	}
	defer j.Close()
	f := newFleet(ctx, cfg, log, j, obs)
	stopObs := obs.start(ctx, j, f.loopTurned)
	r := &reloader{path: cfg.Path, current: cfg, log: log.With("component", "config"), companies: f.apply,
		apply: func(c *config.Config) {
			if lvl, err := logging.ParseLevel(c.Log.Level); err == nil {
				logLevel.Set(lvl)
			}
		}}
	r.run(ctx, 5*time.Second) // until ctx ends
	f.wait()
	stopObs()
	log.Info("ksef-sync stopped")
	return nil
}

// fleet runs the companies of one configuration on one journal.
type fleet struct {
	log     *slog.Logger
	journal *spool.Journal
	obs     *observability
	ctx     context.Context

	mu      sync.Mutex
	cfg     *config.Config
	members map[string]*member // by company name
	wg      sync.WaitGroup
}

// member is one company of the fleet.
type member struct {
	co      config.Company
	view    *config.Config
	log     *slog.Logger
	tracker *status.Tracker // the company's own last error and KSeF reachability
	cancel  context.CancelFunc
	done    chan struct{}

	mu sync.Mutex
	d  *deps // nil while the company is (re)starting
}

func newFleet(ctx context.Context, cfg *config.Config, log *slog.Logger, j *spool.Journal, obs *observability) *fleet {
	f := &fleet{ctx: ctx, cfg: cfg, log: log, journal: j, obs: obs, members: map[string]*member{}}
	obs.lastErrorOf = f.lastError
	for _, co := range cfg.Companies() {
		f.start(co)
	}
	log.Info("companies started", "count", len(f.members))
	return f
}

// wait stops nothing: it waits until every company has stopped after ctx ended.
func (f *fleet) wait() { f.wg.Wait() }

// start runs one company until it is stopped or the fleet's context ends; callers hold no lock
// that the member needs.
func (f *fleet) start(co config.Company) {
	view := f.cfg.ForCompany(co)
	m := &member{co: co, view: view, tracker: status.NewTracker(nil), done: make(chan struct{})}
	next := m.tracker.Handler(f.log.Handler())
	m.log = slog.New(&explainLogin{next: next, cfg: view}).With("company", co.Name, "nip", co.NIP)
	// The company's KSeF client reports to its own tracker (its reachability and errors in
	// status), to the metrics and to KSeF's availability, as the single company's does.
	observed.Store(view, observers{m.tracker, f.obs.metrics.KSeF.For(co.Name), availability.Observer(f.obs.avail, nil)})
	trackedAvailability.Store(view, f.obs.avail)
	ctx, cancel := context.WithCancel(f.ctx)
	m.cancel = cancel
	f.mu.Lock()
	f.members[co.Name] = m
	f.mu.Unlock()
	f.wg.Go(func() {
		defer close(m.done)
		defer func() { observed.Delete(view); trackedAvailability.Delete(view) }()
		m.run(ctx, f.journal)
	})
}

// stop stops one company and waits until it has.
func (f *fleet) stop(name string) {
	f.mu.Lock()
	m, ok := f.members[name]
	delete(f.members, name)
	f.mu.Unlock()
	if !ok {
		return
	}
	m.cancel()
	<-m.done
}

// run opens the company's parts and runs its engine and pull room; after a failure it waits
// memberRetry and starts again, until ctx ends.
func (m *member) run(ctx context.Context, j *spool.Journal) {
	warnTokenDeadline(m.view, m.log, time.Now())
	for {
		err := m.once(ctx, j)
		if ctx.Err() != nil {
			return
		}
		m.log.Error(fmt.Sprintf("company %q stopped; it starts again in %s, the other companies go on", m.co.Name, memberRetry), "err", err)
		if (ksef.WallClock{}).Sleep(ctx, memberRetry) != nil {
			return
		}
	}
}

func (m *member) once(ctx context.Context, j *spool.Journal) error {
	d, err := openCompany(ctx, m.view, m.log, j)
	if err != nil {
		return fmt.Errorf("cannot start company %q: %w", m.co.Name, explainAuthError(err, m.view))
	}
	d.forDaemon()
	m.mu.Lock()
	m.d = d
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.d = nil
		m.mu.Unlock()
		d.close()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pullErr error
	var wg sync.WaitGroup
	wg.Go(func() { pullErr = runPullRoom(ctx, d) })
	err = d.engine.Run(ctx)
	cancel()
	wg.Wait()
	if err == nil && pullErr == nil && ctx.Err() == nil {
		err = errors.New("the engine stopped without being asked to")
	}
	return errors.Join(err, pullErr)
}

// lastError is the company's own last warning or error, for the heartbeat.
func (f *fleet) lastError(nip string) (msg string, at time.Time, avail int, availAt time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		if m.co.NIP == nip {
			msg, at, avail, availAt = m.tracker.Snapshot()
			return msg, at, avail, availAt, true
		}
	}
	return "", time.Time{}, 0, time.Time{}, false
}

// loopTurned is the oldest last turn of the running companies' engines (/healthz fails when any
// engine's loop hangs); the start time while none runs.
func (f *fleet) loopTurned() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	oldest := time.Now()
	for _, m := range f.members {
		m.mu.Lock()
		if m.d != nil {
			if t := m.d.loopTurned(); t.Before(oldest) {
				oldest = t
			}
		}
		m.mu.Unlock()
	}
	return oldest
}

// apply brings the fleet to cur: companies no longer configured stop, new ones start, changed ones
// restart; the others are not touched. Live [send] changes of an unchanged company apply at once.
func (f *fleet) apply(cur *config.Config) {
	want := map[string]config.Company{}
	for _, co := range cur.Companies() {
		want[co.Name] = co
	}
	f.mu.Lock()
	var stop, restart, live []string
	for name, m := range f.members {
		co, ok := want[name]
		switch {
		case !ok:
			stop = append(stop, name)
		case !sameExceptSend(m.co, co):
			restart = append(restart, name)
		case !reflect.DeepEqual(m.co.Send, co.Send):
			m.mu.Lock()
			if m.d != nil {
				m.d.engine.UpdateSend(sendSettings(cur.ForCompany(co)))
			}
			m.co = co
			m.mu.Unlock()
			live = append(live, name)
		}
	}
	var add []config.Company
	for name, co := range want {
		if _, ok := f.members[name]; !ok {
			add = append(add, co)
		}
	}
	f.cfg = cur
	f.mu.Unlock()
	f.obs.companies.Store(cur) // the heartbeat and the status page list the companies served now
	for _, name := range stop {
		f.stop(name)
		f.log.Info("company stopped: it is no longer configured", "company", name)
	}
	for _, name := range restart {
		f.stop(name)
		f.start(want[name])
		f.log.Info("company restarted: its configuration changed", "company", name)
	}
	for _, co := range add {
		f.start(co)
		f.log.Info("company started: newly configured", "company", co.Name, "nip", co.NIP)
	}
	for _, name := range live {
		f.log.Info("company's [send] settings applied live", "company", name)
	}
}

// sameExceptSend reports whether a company's configuration changed in anything [send] aside.
func sameExceptSend(a, b config.Company) bool {
	a.Send, b.Send = config.Send{}, config.Send{}
	return reflect.DeepEqual(a, b)
}

// explainLogin rewrites the error of a log record that is a refused login into the sentence
// `auth check` would say, naming the company and, for KSeF's 415, the permission it has not
// granted the office: the status page's "last error" of that company then says what to fix.
type explainLogin struct {
	next slog.Handler
	cfg  *config.Config
}

func (h *explainLogin) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *explainLogin) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" && ksef.IsCredentialsProblem(err) {
			a = slog.String("err", fmt.Sprintf("company %q: %v", h.cfg.CompanyName(), explainAuthError(err, h.cfg)))
		}
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *explainLogin) WithAttrs(as []slog.Attr) slog.Handler {
	return &explainLogin{next: h.next.WithAttrs(as), cfg: h.cfg}
}

func (h *explainLogin) WithGroup(name string) slog.Handler {
	return &explainLogin{next: h.next.WithGroup(name), cfg: h.cfg}
}
