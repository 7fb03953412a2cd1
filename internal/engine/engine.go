// Package engine is the only package that knows watcher, spool and ksef together. It moves every
// invoice through the journal's state machine: claim → validate → send → confirm → write outputs, and
// pulls received invoices into the inbox.
//
// The journal is the queue. Every step reads its work from the journal and records the new state
// before the side effect it is about to perform, so a crash at any point resumes from the journal
// without losing or re-registering an invoice.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/watcher"
)

// Each step declares the few journal and KSeF methods it uses (the interfaces beside it in its
// file); Options carry the real client and journal, and New hands each step its part.

// loopJournal is what the main loop, the pruning and one-pass sending read.
type loopJournal interface {
	ByState(ctx context.Context, nip string, states ...spool.State) ([]spool.Invoice, error)
	Get(ctx context.Context, id int64) (*spool.Invoice, error)
	PruneSpool(ctx context.Context, before time.Time) (int, error)
	HasWork(ctx context.Context, nip string) (bool, error)
}

// Folders are the company's folders, absolute.
type Folders struct {
	Outbox, Sent, Error, Inbox, State string
}

// SendSettings tune how invoices are gathered and sent.
type SendSettings struct {
	Mode             string // auto | online | batch
	GatherWindow     time.Duration
	BatchThreshold   int
	MaxBatchInvoices int
	BatchPartSize    int64
	Compression      ksef.Compression
	SessionIdleClose time.Duration
	PollInterval     time.Duration
	MaxInvoiceSize   int           // 0: KSeF's limit for the context (session_limits.go); set: may only be stricter
	OfflineMode      string        // "offline24": every invoice is issued offline; "" decides per invoice (offline.go)
	OnlinePerHour    int           // online sends per hour before auto mode uses batch; 0: our share of KSeF's invoiceSend limit (rate_limits.go)
	SendTimeout      time.Duration // warn when KSeF has not decided on a submitted invoice after this long
	SpoolRetention   time.Duration // delete spool copies of finished invoices after this long; 0 keeps them
}

// Options wire an Engine.
type Options struct {
	NIP     string
	QRBase  string
	Folders Folders
	Send    SendSettings
	KSeF    *ksef.Client
	Journal *spool.Journal
	Watcher *watcher.Watcher // nil in one-pass mode
	Logger  *slog.Logger
	Now     func() time.Time
	TempDir string // for batch packages; defaults to Folders.State/tmp
	// OnTurn is called after every turn of the daemon's loop (health checks watch it); nil: nothing.
	OnTurn func(time.Time)
	// QR, when its Dir is set, receives KOD I (and, with an Offline certificate, KOD II) for every
	// invoice as soon as it is validated, before anything goes to KSeF.
	QR QRFiles
	// Availability, when set, says whether KSeF was available when an invoice was claimed (which
	// makes it an offline invoice) and whether an outage is announced now; nil: only the
	// configuration and the issue date decide (one-pass mode).
	Availability Availability
	// Lang is the language of the hints and descriptions in error/*.error.json ("" is Polish).
	Lang msg.Lang
	// CheckPartyNIPs refuses an invoice naming a party's NIP with a wrong check digit before it
	// goes to KSeF, as production KSeF would refuse it (invoicexml.Options.CheckPartyNIPs).
	CheckPartyNIPs bool
	// DaemonID names this daemon's claim folder in the outbox (internal/outboxclaim); "" reads or
	// creates the id kept in Folders.State.
	DaemonID string
	// Company is the configured company name written into .ksef.json and .error.json; MetaScope,
	// when set (the NIP, with many companies in one journal), scopes the journal meta keys the
	// engine writes (issue 13).
	Company   string
	MetaScope string
}

// metaKey is a journal meta key in this engine's company scope.
func (e *Engine) metaKey(key string) string {
	if e.opt.MetaScope == "" {
		return key
	}
	return key + "@" + e.opt.MetaScope
}

// QRFiles says where the QR codes of claimed invoices go and what signs KOD II.
type QRFiles struct {
	Dir    string
	Signer *ksef.OfflineSigner // nil: KOD I only
}

// ReadableSink takes invoices whose readable copies should be written in the background. It must
// not block.
type ReadableSink interface {
	Add(readable.Job)
}

// SetReadable makes the engine hand every accepted invoice, once its outputs are written, to r for
// its PDF/HTML copies. Call it before Run.
func (e *Engine) SetReadable(r ReadableSink) { e.readable = r }

// Engine runs the send pipeline for one company.
type Engine struct {
	opt Options
	// The steps' views of the journal and of KSeF.
	loopJ    loopJournal
	claimJ   claimJournal
	sendJ    dispatchJournal
	sendK    dispatchKSeF
	confirmJ confirmJournal
	confirmK confirmKSeF
	outJ     outputJournal
	outK     outputKSeF
	recoverJ recoverJournal
	recoverK recoverKSeF
	listK    sessionLister
	limitsK  limitsKSeF
	rateK    rateLimitsKSeF
	offJ     offlineJournal
	offline  offlineState
	log      *slog.Logger
	now      func() time.Time
	wake     chan struct{}
	reload   chan SendSettings
	// backlog reports how many files the watcher has already handed over but the engine has not
	// claimed yet: while a burst is still being claimed, the engine keeps gathering.
	backlog    func() int
	online     onlineState
	perms      permissionHold // sending put off for a permission the company has not granted
	mu         sync.Mutex
	budget     *slidingCount
	warned     map[int64]bool       // submitted invoices already reported as slow
	outGate    retryGate[int64]     // invoices whose outputs failed, by ID
	upoTries   upoAttempts          // failed UPO downloads in a row, by invoice (upo_missing.go)
	noUPO      noUPO                // invoices staged without a UPO, and why
	readable   ReadableSink         // nil: no readable copies
	confGate   retryGate[string]    // sessions whose verdicts could not be read, by reference
	nextPoll   map[string]time.Time // when each session with submitted invoices is next asked about
	dupLookups map[int64]int        // failed lookups of a duplicate's original, by invoice
	// storageWaits holds, by invoice, the duplicates whose original KSeF has not stored yet.
	storageWaits map[int64]storageWait
	// ksefFails counts, by invoice, the failures KSeF caused in a row: batch sessions that ended
	// without a result for it (sessionFailedWithoutResults) and invoice statuses 435 and 500
	// (invoiceFailedByKSeF).
	ksefFails map[int64]int
	// lastArrival is when the newest invoice dispatch has seen was claimed: a lone invoice that
	// arrives a gather window or more after it is sent at once.
	lastArrival time.Time
	// ctxLimits are KSeF's session limits for our context (session_limits.go).
	ctxLimits knownLimits
	// fastPolls counts status requests made sooner than the poll interval (adaptive polling), so
	// they stay within their share of the invoiceStatus budget.
	fastPolls *slidingCount
	// gatherDue is when the invoices being gathered are due to go (zero: none waiting).
	gatherDue time.Time
	// origCache holds, for one confirm round, the invoice lists of sessions that registered the
	// originals of duplicates.
	origCache map[string]map[string]ksef.SessionInvoice

	// claims takes outbox files by renaming them into this daemon's claim folder (intake.go), so a
	// second daemon on the same share never takes the same file.
	claims *outboxclaim.Claimer
	// leftGate paces retries of files a failed claim left in our claim folder (one key).
	leftGate retryGate[string]
	// nextSweep is when the claim folder is next looked at without a failure (retryLeftovers).
	nextSweep time.Time
	// owner keeps our owner record in the outbox, so a second live process with our daemon id (a
	// copied state folder) is noticed and claims nothing there (owner.go); nil without an outbox.
	owner *outboxclaim.Guard
	// ownerProblem is the last refusal logged, so it is logged once, not at every tick.
	ownerProblem string
	// ownerConflict is the live process that uses our daemon id in the outbox, as last checked.
	ownerConflict *outboxclaim.Conflict
	// keyRefusals are the online sessions in a row whose key KSeF could not decrypt, and the pause
	// they started (session_keys.go).
	keyRefusals keyRefusals
}

// New checks the options and returns an Engine.
func New(opt Options) (*Engine, error) {
	if opt.KSeF == nil || opt.Journal == nil {
		return nil, errors.New("engine: KSeF client and journal are required")
	}
	if opt.NIP == "" {
		return nil, errors.New("engine: context NIP is required")
	}
	opt.Send = withSendDefaults(opt.Send)
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.TempDir == "" {
		opt.TempDir = opt.Folders.State + "/tmp"
	}
	claims, err := newClaimer(opt)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opt:   opt,
		loopJ: opt.Journal, claimJ: opt.Journal, sendJ: opt.Journal, confirmJ: opt.Journal,
		outJ: opt.Journal, recoverJ: opt.Journal, offJ: opt.Journal,
		sendK: opt.KSeF, confirmK: opt.KSeF, outK: opt.KSeF, recoverK: opt.KSeF, listK: opt.KSeF, limitsK: opt.KSeF, rateK: opt.KSeF,
		log:          opt.Logger.With("component", "engine", "nip", opt.NIP),
		now:          opt.Now,
		wake:         make(chan struct{}, 1),
		reload:       make(chan SendSettings, 1),
		fastPolls:    newSlidingCount(time.Hour, fastPollsPerHour),
		warned:       map[int64]bool{},
		nextPoll:     map[string]time.Time{},
		dupLookups:   map[int64]int{},
		storageWaits: map[int64]storageWait{},
		ksefFails:    map[int64]int{},
		claims:       claims,
		owner:        newOwnerGuard(opt, claims.ID()),
	}
	e.budget = newFollowingCount(time.Hour, e.onlinePerHour)
	return e, nil
}

// newClaimer returns the claimer of this daemon's id (from the options or the state folder).
func newClaimer(opt Options) (*outboxclaim.Claimer, error) {
	id := opt.DaemonID
	if id == "" {
		if opt.Folders.State == "" {
			return nil, errors.New("engine: a state folder or a daemon id is required")
		}
		var err error
		if id, err = outboxclaim.ID(opt.Folders.State); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	return outboxclaim.New(id, opt.Logger.With("component", "claim"))
}

func withSendDefaults(s SendSettings) SendSettings {
	if s.Mode == "" {
		s.Mode = "auto"
	}
	if s.GatherWindow <= 0 {
		s.GatherWindow = 2 * time.Second
	}
	if s.BatchThreshold < 2 {
		s.BatchThreshold = 2
	}
	if s.MaxBatchInvoices <= 0 || s.MaxBatchInvoices > ksef.MaxBatchInvoices {
		s.MaxBatchInvoices = ksef.MaxBatchInvoices
	}
	if s.BatchPartSize <= 0 || s.BatchPartSize > ksef.MaxBatchPartSize {
		s.BatchPartSize = ksef.MaxBatchPartSize
	}
	if s.Compression == "" {
		s.Compression = ksef.Zip
	}
	if s.SessionIdleClose <= 0 {
		s.SessionIdleClose = 5 * time.Minute
	}
	if s.PollInterval <= 0 {
		s.PollInterval = 2 * time.Second
	}
	if s.SendTimeout <= 0 {
		s.SendTimeout = 30 * time.Minute
	}
	return s
}

// UpdateSend hands new send settings to the running loop, which owns them; they apply from its next
// step.
func (e *Engine) UpdateSend(s SendSettings) {
	s = withSendDefaults(s)
	select {
	case <-e.reload:
	default:
	}
	e.reload <- s
}

// poke asks the main loop to look at the journal again soon.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// unpoke takes back a poke that nothing needs to act on now.
func (e *Engine) unpoke() {
	select {
	case <-e.wake:
	default:
	}
}

// Run is the daemon loop: it recovers, then claims files the watcher reports, and keeps the
// journal's invoices moving until ctx is cancelled. It returns nil on cancellation.
func (e *Engine) Run(ctx context.Context) error {
	ctx = ksef.WithWaitLimit(ctx, loopRateWait)
	if !e.awaitOwnID(ctx) {
		return nil
	}
	if err := e.Recover(ctx); err != nil {
		return err
	}
	files := make(chan watcher.File, 1024)
	e.backlog = func() int { return len(files) }
	var wg sync.WaitGroup
	if e.opt.Watcher != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.opt.Watcher.Run(ctx, files); err != nil && ctx.Err() == nil {
				e.log.Error("outbox watcher stopped", "err", err)
			}
		}()
	}
	defer wg.Wait()
	tick := time.NewTicker(e.opt.Send.PollInterval)
	defer tick.Stop()
	e.prune(ctx)
	daily := time.NewTicker(24 * time.Hour)
	defer daily.Stop()
	soon := time.NewTimer(time.Hour) // the next early status poll (adaptive polling)
	soon.Stop()
	defer soon.Stop()
	var lastStep time.Time
	for {
		select {
		case <-ctx.Done():
			e.shutdown()
			return nil
		case f := <-files:
			e.intake(ctx, paths(e.unchanged(e.drainFiles(files, f)))...)
			if e.claimingBurst(len(files), lastStep) {
				e.unpoke() // the next lot's intake steps (or a tick)
				e.turned()
				continue
			}
		case <-e.wake:
		case <-tick.C:
			e.mayClaim() // refreshes our owner record every outboxclaim.RefreshEvery
			e.retryLeftovers(ctx)
			if e.idle(ctx, lastStep) {
				e.turned()
				continue
			}
		case <-soon.C:
		case s := <-e.reload:
			e.opt.Send = s
			e.perms = permissionHold{} // the administrator may have had the permission granted
			tick.Reset(s.PollInterval)
		case <-daily.C:
			e.prune(ctx)
		}
		lastStep = e.now()
		if err := e.Step(ctx, false); err != nil && ctx.Err() == nil {
			e.logStepError(err)
		}
		if d, ok := e.untilWake(e.now()); ok {
			soon.Reset(d)
		}
		e.turned()
	}
}

// loopRateWait is the longest the loop waits inside one KSeF call for a rate limit (our budget or a
// block KSeF set with a 429). A longer Retry-After (KSeF may lengthen its blocks considerably for
// repeated violations, limity-api.md) comes back as a *ksef.RateLimitError: the invoices wait in the journal until then
// (retryAt honours it exactly), and meanwhile the loop goes on taking in and rejecting files.
const loopRateWait = 15 * time.Second

// idleStepEvery is how long a company with nothing under way goes without a whole step at most.
const idleStepEvery = 30 * time.Second

// idle says that a tick has nothing to do: no online session to close, no invoice of this company
// on its way, and a whole step ran less than idleStepEvery ago. Files, wake-ups and reloads always
// step; a journal that cannot answer counts as busy.
func (e *Engine) idle(ctx context.Context, lastStep time.Time) bool {
	if e.online.session != nil || e.now().Sub(lastStep) >= idleStepEvery {
		return false
	}
	busy, err := e.loopJ.HasWork(ctx, e.opt.NIP)
	return err == nil && !busy
}

// turned tells the health checks that the loop has made a turn.
func (e *Engine) turned() {
	if e.opt.OnTurn != nil {
		e.opt.OnTurn(e.now())
	}
}

// claimingBurst reports whether the step after an intake may wait for the next lot: more files are
// already handed over (queued) and a step ran less than a poll interval ago. A burst of thousands
// is then claimed lot after lot, without reading every ready invoice again between two lots only
// to find it still gathering; a steady stream of files still gets a step every poll interval.
func (e *Engine) claimingBurst(queued int, lastStep time.Time) bool {
	return queued > 0 && e.now().Sub(lastStep) < e.opt.Send.PollInterval
}

// drainFiles collects the files the watcher has ready now, so a burst is claimed and validated
// as one lot.
func (e *Engine) drainFiles(files <-chan watcher.File, first watcher.File) []watcher.File {
	batch := []watcher.File{first}
	for len(batch) < 1000 {
		select {
		case f := <-files:
			batch = append(batch, f)
		default:
			return batch
		}
	}
	return batch
}

// unchanged drops the files whose size or modification time changed since the watcher saw them
// hold still: a file that is still growing is never claimed. The watcher offers it again once it
// holds still anew.
func (e *Engine) unchanged(batch []watcher.File) []watcher.File {
	out := batch[:0]
	for _, f := range batch {
		fi, err := os.Stat(f.Path)
		if err == nil && !f.ModTime.IsZero() && (fi.Size() != f.Size || !fi.ModTime().Equal(f.ModTime)) {
			e.log.Info("file changed after it settled; waiting for it to hold still again", "file", f.Name,
				"size", fi.Size(), "settled_size", f.Size)
			continue
		}
		out = append(out, f) // a vanished file is left to the claim, which reports it
	}
	return out
}

func paths(files []watcher.File) []string {
	p := make([]string, len(files))
	for i, f := range files {
		p[i] = f.Path
	}
	return p
}

// Step performs one round of work: dispatch what is ready, confirm what is submitted, write
// outputs for what is final. flush sends gathered invoices without waiting for the gather window.
func (e *Engine) Step(ctx context.Context, flush bool) error {
	if e.copiedJournal() != nil {
		return nil // mayClaim logged it once; nothing moves until the other process stops
	}
	e.followAvailability(ctx) // offline.go
	e.issueLateOffline(ctx)   // offline.go
	var errs []error
	// Invoices already rejected (by validation: nothing goes to KSeF) get their error/ files first:
	// dispatch may wait for KSeF (a slow login, a hanging connection, up to http.timeout each), and
	// the ERP should not wait for KSeF to learn that a file it wrote is wrong.
	if err := e.writeOutputsOf(ctx, spool.StateRejected); err != nil {
		errs = append(errs, fmt.Errorf("outputs: %w", err))
	}
	if err := e.dispatch(ctx, flush); err != nil {
		errs = append(errs, fmt.Errorf("dispatch: %w", err))
	}
	if err := e.confirm(ctx); err != nil {
		errs = append(errs, fmt.Errorf("confirm: %w", err))
	}
	if err := e.writeOutputs(ctx); err != nil {
		errs = append(errs, fmt.Errorf("outputs: %w", err))
	}
	e.closeIdleOnline(ctx, flush)
	e.checkDeadlines(ctx)
	return errors.Join(errs...)
}

// prune deletes the spool copies of invoices finished longer ago than the retention; the journal
// keeps their history.
func (e *Engine) prune(ctx context.Context) {
	if e.opt.Send.SpoolRetention <= 0 {
		return
	}
	n, err := e.loopJ.PruneSpool(ctx, e.now().Add(-e.opt.Send.SpoolRetention))
	switch {
	case err != nil:
		e.log.Warn("pruning old spool copies failed", "err", err)
	case n > 0:
		e.log.Info("pruned spool copies of finished invoices", "count", n, "older_than", e.opt.Send.SpoolRetention)
	}
}

// logStepError reports a failed step. A refused login is an error an administrator must act on;
// anything else is retried quietly by the next step.
func (e *Engine) logStepError(err error) {
	if errors.Is(err, ErrCredentials) {
		e.log.Error("KSeF refused the login; invoices wait in the journal until the credentials are fixed", "err", err)
		return
	}
	if errors.Is(err, ErrSessionKeyRefused) {
		e.log.Error("sending for this company is paused", "err", err)
		return
	}
	e.log.Warn("send step failed; will retry", "err", err)
}

func (e *Engine) shutdown() {
	// Closing the online session is a courtesy; KSeF closes it after 12 h anyway, and the journal
	// knows which invoices still need confirmation.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.closeOnline(ctx)
}
