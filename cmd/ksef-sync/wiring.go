package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/engine"
	"github.com/ksef-sync/ksef-sync/internal/logging"
	"github.com/ksef-sync/ksef-sync/internal/qrfiles"
	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/internal/render"
	"github.com/ksef-sync/ksef-sync/internal/status"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/xades"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/watcher"
)

// newFlags returns a flag set that reports errors instead of exiting, with the -config flag every
// config-driven command takes.
func newFlags(env *cliEnv, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("ksef-sync "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	cfg := fs.String("config", defaultConfigPath(), "configuration file (TOML)")
	return fs, cfg
}

// loadConfig loads the file and prints every problem with its key. A configuration that does not
// load is a fatal error (exit 1) for every command: `send` promises ERPs only 0, 1 and 3.
func loadConfig(env *cliEnv, path string) (*config.Config, int) {
	cfg, err := config.Load(path)
	if err != nil {
		printConfigProblems(env.stderr, path, err)
		return nil, exitFatal
	}
	return cfg, exitOK
}

// loadConfigFlag is the start of a command whose only flag is -config: it parses flags (the
// arguments after the command's words) and loads the config; a nil config means exit with code.
func loadConfigFlag(env *cliEnv, name string, flags []string) (*config.Config, int) {
	fs, cfgPath := newFlags(env, name)
	if err := parseArgs(fs, flags); err != nil {
		return nil, parseFailed(err)
	}
	return loadConfig(env, *cfgPath)
}

// logLevel is the daemon's live log level; a config reload changes it.
var logLevel = new(slog.LevelVar)

func newLogger(env *cliEnv, cfg *config.Config) (*slog.Logger, func() error, error) {
	return logging.New(logging.Options{
		Level: cfg.Log.Level, Format: cfg.Log.Format, File: cfg.Log.File,
		MaxSizeMB: cfg.Log.MaxSizeMB, MaxFiles: cfg.Log.MaxFiles, Stderr: env.stderr, LevelVar: logLevel,
	})
}

// newClient builds the KSeF client with whichever login method is configured. The engine never
// learns which one it is.
func newClient(cfg *config.Config, log *slog.Logger) (*ksef.Client, error) {
	base, err := cfg.APIBaseURL()
	if err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	return ksef.New(ksef.Options{
		BaseURL:    base,
		Context:    ksef.ContextIdentifier{Type: "Nip", Value: cfg.KSeF.NIP},
		Auth:       auth,
		HTTPClient: httpClient(cfg),
		Logger:     log,
		UserAgent:  "ksef-sync/" + version,
		Observer:   observerFor(cfg), // metrics and KSeF reachability (daemon_http.go)
	})
}

func httpClient(cfg *config.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if cfg.HTTP.Proxy != "" {
		if u, err := url.Parse(cfg.HTTP.Proxy); err == nil {
			tr.Proxy = http.ProxyURL(u)
		}
	}
	tr.MaxIdleConnsPerHost = 16
	timeout := cfg.HTTP.Timeout.Duration
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

func newAuthenticator(cfg *config.Config) (ksef.Authenticator, error) {
	if cfg.Auth.Method == "certificate" {
		creds, err := loadCredentials(cfg)
		if err != nil {
			return nil, err
		}
		return ksef.XadesAuth{Credentials: creds, SubjectIdentifierType: cfg.Auth.SubjectIdentifier}, nil
	}
	token, err := cfg.ReadToken()
	if err != nil {
		return nil, err
	}
	return ksef.TokenAuth{Token: token}, nil
}

func loadCredentials(cfg *config.Config) (*xades.Credentials, error) {
	pw, err := cfg.ReadKeyPassword()
	if err != nil {
		return nil, err
	}
	if cfg.Auth.P12File != "" {
		return xades.LoadPKCS12(cfg.Auth.P12File, pw)
	}
	return xades.LoadPEM(cfg.Auth.CertFile, cfg.Auth.KeyFile, pw)
}

// deps is everything a running company needs.
type deps struct {
	cfg     *config.Config
	log     *slog.Logger
	client  *ksef.Client
	journal *spool.Journal
	watcher *watcher.Watcher
	engine  *engine.Engine
	// readable writes the PDF/HTML copies in the background; nil when [render] formats is empty.
	readable *readable.Queue
	// lastTurn is when the daemon's loop last turned (Unix ns), for /healthz.
	lastTurn atomic.Int64

	// bg owns the goroutines openDeps starts; close cancels them and waits until they are gone.
	bg     sync.WaitGroup
	stopBg context.CancelFunc
	// sharedJournal: close leaves the journal open (a company of a many-company daemon, or of a
	// command working on several companies, shares it).
	sharedJournal bool
}

// stopBackground cancels the background work openDeps started and waits for it to end.
func (d *deps) stopBackground() {
	if d.stopBg != nil {
		d.stopBg()
	}
	d.bg.Wait()
}

func (d *deps) close() {
	d.stopBackground()
	stopPacerState(d)
	stopReadableState(d) // readable_state.go: after the renderer stopped
	if d.journal != nil && !d.sharedJournal {
		_ = d.journal.Close()
	}
}

// openDeps opens the journal (taking the state folder's lock), the client, the outbox watcher and
// the engine.
func openDeps(ctx context.Context, cfg *config.Config, log *slog.Logger) (*deps, error) {
	return openCompany(ctx, cfg, log, nil)
}

// openCompany is openDeps for one company (cfg is its config.ForCompany view, or the
// single-company configuration); j is the journal to share, or nil to open (and own) one.
func openCompany(ctx context.Context, cfg *config.Config, log *slog.Logger, j *spool.Journal) (*deps, error) {
	d := &deps{cfg: cfg, log: log, journal: j, sharedJournal: j != nil}
	d.lastTurn.Store(time.Now().UnixNano()) // starting counts as a turn: /healthz is green from the start
	var err error
	if d.client, err = newClient(cfg, log); err != nil {
		return nil, fmt.Errorf("KSeF client: %w", err)
	}
	bgCtx, stopBg := context.WithCancel(ctx)
	d.stopBg = stopBg
	d.bg.Go(func() { followRateLimits(bgCtx, d.client, log) })
	if d.journal == nil {
		if d.journal, err = spool.Open(ctx, cfg.Folders.State, log.With("component", "spool")); err != nil {
			d.stopBackground()
			return nil, fmt.Errorf("journal in %s: %w", cfg.Folders.State, err)
		}
	}
	startPacerState(ctx, d)
	restoreAvailability(ctx, d) // availability.go: before the engine and the tracker's loop start
	if d.watcher, err = newWatcher(cfg, log); err != nil {
		d.close()
		return nil, err
	}
	d.watcher.OnDirChange(reportOutbox(d.journal, config.MetaKey(status.OutboxMetaKey, cfg.MetaScope()), log))
	if d.readable, err = newReadable(cfg, log); err != nil {
		d.close()
		return nil, err
	}
	if d.readable != nil {
		d.bg.Go(func() { d.readable.Run(bgCtx) })
	}
	qr, err := qrOptions(cfg)
	if err != nil {
		d.close()
		return nil, err
	}
	d.engine, err = engine.New(engine.Options{
		NIP:     cfg.KSeF.NIP,
		QRBase:  cfg.QRBaseURL(),
		Folders: engine.Folders{Outbox: cfg.Folders.Outbox, Sent: cfg.Folders.Sent, Error: cfg.Folders.Error, Inbox: cfg.Folders.Inbox, State: cfg.Folders.State},
		Send:    sendSettings(cfg),
		KSeF:    d.client,
		Journal: d.journal,
		Watcher: d.watcher,
		Logger:  log,
		TempDir: filepath.Join(cfg.Folders.State, "tmp"),
		OnTurn:  func(t time.Time) { d.lastTurn.Store(t.UnixNano()) },
		QR:      qr,
		// In the daemon KSeF's availability decides which invoices are issued offline.
		Availability: availabilityFor(cfg),
		Lang:         cfg.Lang(),
		// Only production KSeF checks the parties' NIP check digits (weryfikacja-faktury.md).
		CheckPartyNIPs: cfg.KSeF.Environment == "prod",
		Company:        cfg.CompanyName(),
		MetaScope:      cfg.MetaScope(),
	})
	if err != nil {
		d.close()
		return nil, err
	}
	if cfg.Render.Enabled("sent") && d.readable != nil {
		d.engine.SetReadable(d.readable)
	}
	startReadableState(ctx, d) // readable_state.go: copies a killed run did not render
	return d, nil
}

// daemonLoginWait is how long the daemon waits for KSeF to finish a login before its loop goes on
// (ksef.Client.SetLoginWait): a normal login takes a few seconds; one KSeF keeps at status 100 for
// half an hour (CIRFMF/ksef-api #567) must not stop the daemon from claiming files, rejecting bad
// ones and answering its health check. The login is asked about again at the next step.
const daemonLoginWait = 15 * time.Second

// forDaemon readies a company's parts for the daemon rather than a one-off command.
func (d *deps) forDaemon() { d.client.SetLoginWait(daemonLoginWait) }

// loopTurned is when the daemon's loop last turned (or the daemon started).
func (d *deps) loopTurned() time.Time { return time.Unix(0, d.lastTurn.Load()) }

// drainReadable renders the readable copies a one-shot command still owes before it exits. About
// 15 ms of CPU per invoice: for a large run that is minutes after the XML outputs are written, so
// it says so rather than seem to hang.
func drainReadable(ctx context.Context, env *cliEnv, q *readable.Queue) {
	if q == nil {
		return
	}
	if n := q.Pending(); n >= 100 {
		fmt.Fprintf(env.stderr, "writing %d readable copies (PDF) of the invoices; the XML outputs are complete ([render] formats = [] turns the copies off)\n", n)
	}
	q.Drain(ctx)
}

// readableFor returns the renderer when rendering is on for target ("sent" or "inbox"), else nil.
func (d *deps) readableFor(target string) *readable.Queue {
	if d.readable == nil || !d.cfg.Render.Enabled(target) {
		return nil
	}
	return d.readable
}

// newReadable builds the background renderer from [render]; nil when no format is configured.
func newReadable(cfg *config.Config, log *slog.Logger) (*readable.Queue, error) {
	if len(cfg.Render.Formats) == 0 {
		return nil, nil
	}
	formats := make([]render.Format, 0, len(cfg.Render.Formats))
	for _, f := range cfg.Render.Formats {
		rf, err := render.ParseFormat(f)
		if err != nil {
			return nil, fmt.Errorf("render.formats: %w", err)
		}
		formats = append(formats, rf)
	}
	lang, err := render.ParseLang(cfg.RenderLanguage())
	if err != nil {
		return nil, fmt.Errorf("render.language: %w", err)
	}
	return readable.New(formats, lang, log), nil
}

// rateLimitsCheckEvery is how often followRateLimits asks the client whether a read is due; the
// question costs nothing, the client decides when to go to KSeF (ksef.Client.RefreshLimitsIfDue).
const rateLimitsCheckEvery = 15 * time.Second

// followRateLimits replaces the built-in production table with the limits KSeF reports for this
// context, at once and then whenever KSeF may have changed them (hourly, and a minute after a 429
// from KSeF), until ctx ends. Until KSeF answers (and if it never does) the production table paces
// us. It runs in the company's background group (deps.bg), so closing the company stops it.
func followRateLimits(ctx context.Context, c *ksef.Client, log *slog.Logger) {
	for {
		if read, err := c.RefreshLimitsIfDue(ctx); read && err != nil && ctx.Err() == nil {
			log.Info("KSeF did not report its rate limits; pacing with the last table known (the production table until one is)", "err", err)
		}
		if (ksef.WallClock{}).Sleep(ctx, rateLimitsCheckEvery) != nil {
			return
		}
	}
}

func newWatcher(cfg *config.Config, log *slog.Logger) (*watcher.Watcher, error) {
	return watcher.New(watcher.Options{
		Dir:           cfg.Folders.Outbox,
		Patterns:      cfg.Watch.Patterns,
		RescanEvery:   cfg.Watch.Rescan.Duration,
		Settle:        cfg.Watch.Settle.Duration,
		DisableEvents: !cfg.Watch.Events,
		Logger:        log,
	})
}

func sendSettings(cfg *config.Config) engine.SendSettings {
	s := cfg.Send
	comp := ksef.Zip
	if s.Compression == "targz" {
		comp = ksef.TarGz
	}
	return engine.SendSettings{
		Mode:             s.Mode,
		GatherWindow:     s.GatherWindow.Duration,
		BatchThreshold:   s.BatchThreshold,
		MaxBatchInvoices: s.MaxBatchInvoices,
		BatchPartSize:    s.BatchPartSize,
		Compression:      comp,
		SessionIdleClose: s.SessionIdleClose.Duration,
		PollInterval:     s.PollInterval.Duration,
		MaxInvoiceSize:   int(s.MaxInvoiceSize),
		OfflineMode:      s.OfflineMode.Mode,
		SendTimeout:      s.SendTimeout.Duration,
		SpoolRetention:   time.Duration(s.SpoolRetention) * 24 * time.Hour,
	}
}

// withDeps loads the config, sets up logging and opens everything a one-shot command needs, runs
// fn, and closes it all again; a running daemon's lock is an error here (see withDepsOrDaemon).
func withDeps(ctx context.Context, env *cliEnv, cfgPath string, fn func(d *deps) int) int {
	return withDepsOrDaemon(ctx, env, cfgPath, fn, nil)
}

// qrOptions loads the QR folder and the Offline certificate (for KOD II) once, at start.
func qrOptions(cfg *config.Config) (engine.QRFiles, error) {
	if cfg.Folders.QR == "" {
		return engine.QRFiles{}, nil
	}
	signer, err := qrfiles.SignerFromConfig(cfg)
	if err != nil {
		return engine.QRFiles{}, fmt.Errorf("offline certificate for KOD II: %w", err)
	}
	return engine.QRFiles{Dir: cfg.Folders.QR, Signer: signer}, nil
}
