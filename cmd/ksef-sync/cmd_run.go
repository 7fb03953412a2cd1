package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/kardianos/service"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/logging"
	"github.com/ksef-sync/ksef-sync/internal/status"
)

// stopTimeout bounds how long Stop waits for the current step. The journal makes an interrupted
// step safe, so waiting longer only delays a reboot. A variable so tests can shorten it.
var stopTimeout = 20 * time.Second

func cmdRun(ctx context.Context, env *cliEnv, args []string) int {
	cfg, code := loadConfigFlag(env, "run", args[1:])
	if cfg == nil {
		return code
	}
	if service.Interactive() {
		return runForeground(ctx, env, cfg)
	}
	return runAsService(env, cfg)
}

func runForeground(ctx context.Context, env *cliEnv, cfg *config.Config) int {
	log, closeLog, err := newLogger(env, cfg)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer closeLog()
	if err := daemon(ctx, cfg, log); err != nil {
		log.Error("ksef-sync stopped with an error", "err", err)
		return fail(env, exitFatal, err)
	}
	return exitOK
}

// daemon is the body shared by `run` and the service: it runs until ctx is cancelled.
func daemon(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.MultiCompany() {
		return fleetDaemon(ctx, cfg, log) // fleet.go
	}
	log.Info("ksef-sync starting", "version", version, "config", cfg.Path, "nip", cfg.KSeF.NIP, "auth", cfg.Auth.Method)
	warnTokenDeadline(cfg, log, time.Now())
	// The tracker remembers the last warning for `status` and the status page (issue 17).
	tracker := status.NewTracker(nil)
	log = slog.New(tracker.Handler(log.Handler()))
	obs := newObservability(cfg, tracker, log)
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	d.forDaemon()
	defer obs.start(ctx, d.journal, d.loopTurned)()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r := &reloader{path: cfg.Path, current: cfg, log: log.With("component", "config"), apply: func(c *config.Config) {
			if lvl, err := logging.ParseLevel(c.Log.Level); err == nil {
				logLevel.Set(lvl)
			}
			d.engine.UpdateSend(sendSettings(c))
		}}
		r.run(ctx, 5*time.Second)
	}()
	go func() {
		defer wg.Done()
		dailyTokenWarning(ctx, cfg, log)
	}()
	var pullErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		pullErr = runPullRoom(ctx, d)
	}()
	err = d.engine.Run(ctx)
	wg.Wait()
	log.Info("ksef-sync stopped")
	return errors.Join(err, pullErr)
}

// tokenDeadline is the day KSeF tokens are announced to stop working (the default of auth.token_deadline).
var tokenDeadline = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// warnTokenDeadline nags, from a month before auth.token_deadline, anyone still logging in with a
// token. After the day it says nothing: token login goes on for as long as KSeF accepts it, and if
// KSeF refuses the token, the login error itself names the fix (certificate login).
func warnTokenDeadline(cfg *config.Config, log *slog.Logger, now time.Time) bool {
	deadline := cfg.Auth.TokenDeadlineTime()
	if cfg.Auth.Method != "token" || now.Before(deadline.AddDate(0, -1, 0)) || !now.Before(deadline) {
		return false
	}
	days := int(math.Ceil(deadline.Sub(now).Hours() / 24))
	when := fmt.Sprintf("in %d days", days)
	if days == 1 {
		when = "tomorrow"
	}
	log.Warn(fmt.Sprintf("KSeF tokens are announced to stop working on %s (%s, auth.token_deadline): switch [auth] method to \"certificate\" (see README: Certificate login)",
		deadline.Format("2006-01-02"), when))
	return true
}

// dailyTokenWarning repeats the token-deadline warning once a day while the daemon runs.
func dailyTokenWarning(ctx context.Context, cfg *config.Config, log *slog.Logger) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			warnTokenDeadline(cfg, log, now)
		}
	}
}

// program adapts the daemon to kardianos/service: Start returns at once, Stop cancels and waits a
// bounded time, and neither calls os.Exit.
type program struct {
	body   func(ctx context.Context) error
	onFail func(error)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (p *program) Start(service.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.body == nil {
		return errors.New("nothing to run")
	}
	if p.done != nil {
		return errors.New("already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.runBody(ctx)
	return nil
}

// runBody runs the daemon and, when it ends without being asked to, reports the failure so the
// service manager's recovery actions restart it.
func (p *program) runBody(ctx context.Context) {
	defer close(p.done)
	err := p.body(ctx)
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	if ctx.Err() != nil || p.onFail == nil {
		return
	}
	if err == nil {
		err = errors.New("the daemon stopped without being asked to")
	}
	p.onFail(err)
}

func (p *program) Stop(service.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	timeout := time.NewTimer(stopTimeout)
	defer timeout.Stop()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if errors.Is(p.err, context.Canceled) {
			return nil // the body reporting our own cancellation is a clean stop
		}
		return p.err
	case <-timeout.C:
		return fmt.Errorf("the current step did not finish within %s; the journal resumes it at the next start", stopTimeout)
	}
}
