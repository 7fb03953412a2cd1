package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/availability"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/httpui"
	"github.com/ksef-sync/ksef-sync/internal/metrics"
	"github.com/ksef-sync/ksef-sync/internal/notify"
	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// observability is the daemon's visible side: heartbeat, status page, metrics, health and
// notifications. None of it may stop or slow the daemon: every failure here is a warning.
type observability struct {
	cfg     *config.Config
	log     *slog.Logger
	journal *spool.Journal // the daemon's writer: heartbeats
	ro      *spool.Journal // a read-only connection: pages and polls never queue behind the engine
	tracker *status.Tracker
	// loop returns when the engine's main loop last turned; nil when the engine does not say.
	loop    func() time.Time
	started time.Time
	creds   string
	expires string
	service string
	metrics *metrics.Metrics
	// avail is KSeF's availability (availability.go); its checking loop runs while start's does.
	avail *availability.Tracker

	probeMu sync.Mutex
	probe   *probe // the write probe in flight, shared by concurrent /healthz requests

	// lastErrorOf, set by a many-company daemon (fleet.go), gives each company's own last error
	// and KSeF reachability; without it every company shows the daemon's.
	lastErrorOf func(nip string) (msg string, at time.Time, avail int, availAt time.Time, ok bool)
	// companies is the configuration whose companies the heartbeat and the status page list, when
	// a many-company daemon has reloaded it (companies_dir); nil: cfg's.
	companies atomic.Pointer[config.Config]
}

// companiesConfig is the configuration whose companies are served now.
func (o *observability) companiesConfig() *config.Config {
	if c := o.companies.Load(); c != nil {
		return c
	}
	return o.cfg
}

// newObservability prepares the daemon's visible side before the KSeF client exists, so the
// client can report to it (observerFor).
func newObservability(cfg *config.Config, tracker *status.Tracker, log *slog.Logger) *observability {
	o := &observability{cfg: cfg, log: log.With("component", "http"), tracker: tracker,
		started: time.Now(), service: serviceState(cfg)}
	o.creds, o.expires = credentialSummary(cfg)
	o.metrics = metrics.New(o.report)
	o.avail = newAvailability(cfg, log, tracker.Announced)
	trackedAvailability.Store(cfg, o.avail)
	observed.Store(cfg, observers{tracker, o.metrics.KSeF.For(cfg.CompanyName()), availability.Observer(o.avail, nil)})
	return o
}

// observed maps a daemon's configuration to the observer its KSeF client reports to. Keyed by the
// config so in-process tests running several daemons never share one.
var observed sync.Map

// observerFor returns the KSeF client observer of cfg's daemon, or nil outside the daemon.
func observerFor(cfg *config.Config) ksef.Observer {
	if v, ok := observed.Load(cfg); ok {
		return v.(ksef.Observer)
	}
	return nil
}

// start starts the heartbeat, the HTTP server and the notifier on the daemon's journal j; loop,
// when not nil, says when the engine's main loop last turned. The returned stop waits for them.
// It never fails: what cannot start is logged.
func (o *observability) start(ctx context.Context, j *spool.Journal, loop func() time.Time) (stop func()) {
	o.journal, o.loop = j, loop
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	_ = o.beat(ctx) // the status page must know the daemon runs from its first request on
	run(func() { o.heartbeat(ctx) })
	run(func() { runAvailability(ctx, o.avail) })
	forget := func() { observed.Delete(o.cfg); trackedAvailability.Delete(o.cfg) }
	ro, err := spool.OpenReadOnly(ctx, o.cfg.Folders.State)
	if err != nil {
		o.log.Warn("status page and notifications are off: the journal cannot be opened for reading", "err", err)
		return func() { cancel(); wg.Wait(); forget() }
	}
	o.ro = ro
	srv := o.listen()
	if n := o.notifier(); n != nil {
		run(func() { n.Run(ctx) })
		w := o.watch(n)
		run(func() { w.Run(ctx) })
	}
	return func() {
		if srv != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(sctx)
			scancel()
		}
		cancel()
		wg.Wait()
		o.stopped()
		_ = ro.Close()
		forget()
	}
}

// stopped records a clean stop: a heartbeat without a PID. Without it `status` run right after
// `systemctl stop` (or Ctrl-C) would say "running (PID …)" until the last beat grew stale, 30 s
// later, although README promises "running" only while the daemon runs. A daemon that is killed
// cannot do this; its heartbeat goes stale instead.
func (o *observability) stopped() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	host, _ := os.Hostname()
	b := spool.Beat{Host: host, Version: version, StartedAt: o.started, BeatAt: time.Now()}
	if err := o.journal.WriteBeat(ctx, b); err != nil {
		o.log.Warn("cannot record the stop in the journal; status says running for up to 30s more", "err", err)
	}
}

// observers fans the KSeF client's observer hook out to the tracker and the metrics.
type observers []ksef.Observer

func (obs observers) Request(g string, s int, d time.Duration) {
	for _, o := range obs {
		o.Request(g, s, d)
	}
}

func (obs observers) PacerWait(g string, d time.Duration) {
	for _, o := range obs {
		o.PacerWait(g, d)
	}
}

func (o *observability) report(ctx context.Context) (*status.Report, error) {
	if o.ro == nil {
		return nil, errors.New("the journal is not open yet")
	}
	cfg := o.companiesConfig()
	return status.Build(ctx, o.ro, status.Options{Config: cfg, Service: o.service, Credentials: o.creds,
		CredsExpires: o.expires, CredentialsOf: credentialsOf(cfg), Now: time.Now()})
}

func (o *observability) listen() *httpui.Server {
	h := o.cfg.HTTP
	if h.Listen == "" {
		return nil
	}
	var password string
	if h.User != "" {
		password = os.Getenv(h.PasswordEnv)
		if password == "" {
			o.log.Warn("status page is off: http.user is set but the password variable is empty", "password_env", h.PasswordEnv)
			return nil
		}
	}
	srv, err := httpui.Listen(httpui.Options{Listen: h.Listen, User: h.User, Password: password, Status: o.report,
		Registry: o.metrics.Registry, Health: o.health, Logger: o.log, Lang: o.cfg.Lang()})
	if err != nil {
		o.log.Warn("status page is off; the daemon goes on without it", "err", err)
		return nil
	}
	o.log.Info("status page", "url", "http://"+srv.Addr()+"/")
	return srv
}

func (o *observability) heartbeat(ctx context.Context) {
	t := time.NewTicker(status.BeatEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.tracker.Changed():
		}
		err := o.beat(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			o.log.Warn("cannot write the heartbeat into the journal", "err", err)
		case err == nil && failing:
			o.log.Info("the journal takes the heartbeat again")
		}
		failing = err != nil
	}
}

func (o *observability) beat(ctx context.Context) error {
	lastErr, lastErrAt, avail, availAt := o.tracker.Snapshot()
	host, _ := os.Hostname()
	b := spool.Beat{PID: os.Getpid(), Host: host, Version: version, StartedAt: o.started, BeatAt: time.Now()}
	ka := status.MarshalAvailability(availabilityOf(o.avail.Snapshot(), o.cfg.StatusBaseURL()))
	for _, c := range o.companiesConfig().Companies() {
		h := spool.CompanyHealth{NIP: c.NIP, LastError: lastErr, LastErrorAt: lastErrAt,
			KSeFAvailable: avail, KSeFCheckedAt: availAt, Availability: ka}
		if o.lastErrorOf != nil {
			if m, at, av, avAt, ok := o.lastErrorOf(c.NIP); ok {
				h.LastError, h.LastErrorAt, h.KSeFAvailable, h.KSeFCheckedAt = m, at, av, avAt
			}
		}
		b.Companies = append(b.Companies, h)
	}
	return o.journal.WriteBeat(ctx, b)
}

// loopStale is how long the main loop may stay silent before /healthz fails.
const loopStale = time.Minute

// health is /healthz: the main loop turned within a minute and the journal takes a write now.
func (o *observability) health(ctx context.Context) error {
	if o.loop != nil {
		if last := o.loop(); time.Since(last) > loopStale {
			return fmt.Errorf("the main loop has not turned since %s", last.Format(time.RFC3339))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	p := o.writeProbe()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("the journal is not writable: %w", p.err)
		}
		return nil
	case <-ctx.Done():
		return errors.New("the journal is not writable: a test write did not finish within 3s (is journal.db locked by another program?)")
	}
}

// writeProbe starts one heartbeat write unless one is already running, so a hung journal does not
// pile up goroutines however often /healthz is asked. Every waiter reads the same result.
func (o *observability) writeProbe() *probe {
	o.probeMu.Lock()
	defer o.probeMu.Unlock()
	if o.probe != nil {
		return o.probe
	}
	p := &probe{done: make(chan struct{})}
	o.probe = p
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p.err = o.beat(ctx)
		cancel()
		o.probeMu.Lock()
		o.probe = nil
		o.probeMu.Unlock()
		close(p.done)
	}()
	return p
}

type probe struct {
	done chan struct{}
	err  error // valid once done is closed
}

// notifyChannels builds the configured notification channels.
func notifyChannels(cfg *config.Config, getenv func(string) string) []notify.Channel {
	n := cfg.Notify
	var chs []notify.Channel
	if len(n.EmailTo) > 0 {
		chs = append(chs, &notify.Email{Host: n.SMTPHost, Port: n.SMTPPort, User: n.SMTPUser,
			Password: getenv(n.SMTPPasswordEnv), StartTLS: n.SMTPStartTLS, From: n.EmailFrom, To: n.EmailTo})
	}
	if n.WebhookURL != "" {
		chs = append(chs, &notify.Webhook{URL: n.WebhookURL})
	}
	return chs
}

func (o *observability) notifier() *notify.Notifier {
	chs := notifyChannels(o.cfg, os.Getenv)
	if len(chs) == 0 {
		return nil
	}
	host, _ := os.Hostname()
	n := notify.New(notify.Options{Channels: chs, Events: o.cfg.Notify.Events, Digest: o.cfg.Notify.Digest.Duration,
		Host: host, Logger: o.log})
	o.tracker.OnChange(func(c status.Change) {
		n.Add(notify.Event{Kind: c.Kind, Company: o.cfg.KSeF.NIP, Text: c.Text, Time: c.Time})
	})
	return n
}

func (o *observability) watch(n *notify.Notifier) *notify.Watch {
	w := &notify.Watch{Journal: o.ro, SendTimeout: o.cfg.Send.SendTimeout.Duration, Notifier: n,
		Outbox: o.cfg.Folders.Outbox, Patterns: o.cfg.Watch.Patterns,
		OnError: func(err error) { o.log.Debug("notification poll failed; retrying", "err", err) }}
	for _, c := range o.cfg.Companies() {
		w.NIPs = append(w.NIPs, c.NIP)
	}
	if t, err := time.Parse("2006-01-02", o.expires); err == nil {
		w.CredsExpire = t
	}
	if o.cfg.MultiCompany() {
		// The stalled-outbox check watches one folder; with many companies the per-company status
		// shows each outbox instead. Credentials: the first of the companies' to expire.
		w.Outbox, w.CredsExpire = "", earliestExpiry(o.cfg)
	}
	return w
}

// earliestExpiry is the first day any company's credentials stop working; zero when none is known.
func earliestExpiry(cfg *config.Config) time.Time {
	var first time.Time
	of := credentialsOf(cfg)
	for _, co := range cfg.Companies() {
		_, exp := of(co)
		if t, err := time.Parse("2006-01-02", exp); err == nil && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}
