package watcher

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// canRead is a package variable so tests can simulate a writer that still
// holds the file (a sharing violation on Windows).
var canRead = openableForRead

type fileState uint8

const (
	statePending fileState = iota // observed, waiting to hold still
	stateQueued                   // stable, waiting for the consumer to receive it
	stateSent                     // received; offered again only by a full listing
	stateGone                     // forgotten; a stale queue slot is skipped
)

type entry struct {
	name    string
	size    int64
	mtime   time.Time
	since   time.Time // when the current size+mtime was first observed
	due     time.Time // next look at a pending entry
	state   fileState
	seenGen uint64 // last full listing that found the file
	inQueue bool
	offers  int    // how many times it was handed to the consumer
	waits   int    // settle windows spent waiting for XML that ends early (this version)
	doneBy  string // how the writer was seen finishing this version (readyBy*); "" not seen
}

type dirState uint8

const (
	dirUnknown dirState = iota
	dirOK
	dirMissing
	dirDenied
	dirBroken
)

// loop is the state owned by one Run call. Only Run's goroutine touches it.
type loop struct {
	dir      string
	settle   time.Duration
	rescanEv time.Duration
	filter   nameFilter
	log      *slog.Logger
	rescanRq <-chan struct{}
	events   bool
	dirRetry time.Duration   // listing period while the directory is unavailable
	onDir    func(DirStatus) // nil: nobody listens
	quiet    *quietState     // published after every turn (Watcher.Quiet)

	entries map[string]*entry
	pending map[string]*entry
	queue   []*entry
	gen     uint64

	src      eventSource // nil: listing only
	watching bool
	addErr   error // last failed watch attempt, judged after the listing
	dirState dirState

	rescanTimer *time.Timer
	checkTimer  *time.Timer
	checkAt     time.Time // zero: check timer not armed
}

func newLoop(w *Watcher) *loop {
	return &loop{
		dir:      w.opts.Dir,
		settle:   w.opts.Settle,
		rescanEv: w.opts.RescanEvery,
		filter:   w.filter,
		log:      w.log,
		rescanRq: w.rescan,
		events:   !w.opts.DisableEvents,
		dirRetry: dirRetryEvery(w.opts),
		onDir:    w.onDir,
		quiet:    &w.quiet,
		entries:  make(map[string]*entry),
		pending:  make(map[string]*entry),
	}
}

func (l *loop) close() {
	if l.rescanTimer != nil {
		l.rescanTimer.Stop()
	}
	if l.checkTimer != nil {
		l.checkTimer.Stop()
	}
	if l.src != nil {
		_ = l.src.Close()
		l.src = nil
	}
}

func (l *loop) run(ctx context.Context, ready chan<- File) {
	l.startEvents()
	l.rescanTimer = time.NewTimer(l.rescanInterval())
	l.checkTimer = time.NewTimer(time.Hour)
	l.checkTimer.Stop()
	l.list()
	for {
		l.offerQueued(ready)
		l.quiet.busy.Store(len(l.pending) > 0 || l.head() != nil)
		var out chan<- File
		var next File
		if e := l.head(); e != nil {
			out, next = ready, l.file(e)
		}
		var evCh <-chan fsnotify.Event
		var errCh <-chan error
		var doneCh <-chan string
		if l.src != nil {
			evCh, errCh, doneCh = l.src.Events(), l.src.Errors(), l.src.Done()
		}
		select {
		case <-ctx.Done():
			return
		case out <- next:
			l.delivered()
		case <-l.rescanTimer.C:
			l.list()
		case <-l.rescanRq:
			l.list()
		case <-l.checkTimer.C:
			l.checkAt = time.Time{}
			l.checkPending()
		case ev, ok := <-evCh:
			if !ok {
				l.dropEvents(errors.New("event channel closed"))
				continue
			}
			l.handleEvent(ev)
		case sig := <-doneCh:
			l.handleDone(sig)
		case err, ok := <-errCh:
			if !ok {
				l.dropEvents(errors.New("error channel closed"))
				continue
			}
			l.handleEventError(err)
		}
	}
}

// offerQueued hands over every queued file the consumer has room for, before the loop looks at
// anything else: the files a check lot found ready reach the consumer together, as one lot, not
// one per turn of the loop.
func (l *loop) offerQueued(ready chan<- File) {
	for e := l.head(); e != nil; e = l.head() {
		select {
		case ready <- l.file(e):
			l.delivered()
		default:
			return
		}
	}
}

func (l *loop) rescanInterval() time.Duration {
	jitter := (rand.Float64()*0.2 - 0.1) * float64(l.rescanEv)
	return l.rescanEv + time.Duration(jitter)
}

func (l *loop) file(e *entry) File {
	return File{Path: filepath.Join(l.dir, e.name), Name: e.name, Size: e.size, ModTime: e.mtime, ReadyBy: e.readyBy()}
}

// --- full listing ---

// list is the source of truth: it finds new and changed files, re-offers
// files the consumer has not taken, and forgets files that are gone.
func (l *loop) list() {
	defer func() { l.rescanTimer.Reset(l.nextListing()) }()
	now := time.Now()
	// Watch before listing so nothing created in between is missed.
	l.ensureWatch()
	des, err := os.ReadDir(l.dir)
	l.setDirState(err)
	if err != nil {
		l.unwatch()
		return
	}
	if l.addErr != nil && !errors.Is(l.addErr, fs.ErrNotExist) {
		// The directory is readable but cannot be watched (share, inotify
		// limits): events will not work, so stop trying.
		l.dropEvents(l.addErr)
	}
	l.gen++
	for _, de := range des {
		l.listed(de, now)
	}
	for name, e := range l.entries {
		if e.seenGen != l.gen {
			l.forget(name)
		}
	}
}

func (l *loop) listed(de fs.DirEntry, now time.Time) {
	name := de.Name()
	if !l.filter.match(name) || de.IsDir() {
		return
	}
	var fi fs.FileInfo
	var err error
	if de.Type()&fs.ModeSymlink != 0 {
		fi, err = os.Stat(filepath.Join(l.dir, name))
	} else {
		fi, err = de.Info()
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return // vanished since the directory read; the sweep forgets it
		}
		if e := l.entries[name]; e != nil {
			e.seenGen = l.gen // a transient stat error is not a disappearance
		}
		l.log.Debug("stat failed", "file", name, "err", err)
		return
	}
	if !fi.Mode().IsRegular() {
		return
	}
	l.observe(name, fi.Size(), fi.ModTime(), now, true)
}

// --- per-file state machine ---

// observe records one sighting of a file. full is true when the sighting
// comes from a full listing, which is the only thing that re-offers a file
// the consumer already received.
func (l *loop) observe(name string, size int64, mtime time.Time, now time.Time, full bool) {
	e := l.entries[name]
	if e == nil {
		e = &entry{name: name, size: size, mtime: mtime}
		l.entries[name] = e
		if full {
			e.seenGen = l.gen
		}
		l.startPending(e, now)
		return
	}
	if full {
		e.seenGen = l.gen
	}
	if e.size != size || !e.mtime.Equal(mtime) {
		e.size, e.mtime = size, mtime
		e.offers, e.waits = 0, 0 // a new version of the file
		l.startPending(e, now)
		return
	}
	switch e.state {
	case statePending:
		l.tryReady(e, now)
	case stateSent:
		if full {
			l.tryReady(e, now)
		}
	}
}

func (l *loop) settleFor(e *entry) time.Duration {
	if e.doneBy != "" && e.size > 0 {
		return min(doneCheck, l.settle)
	}
	if e.size == 0 {
		// An empty file is usually one being created; give the writer
		// longer before reporting a genuinely empty invoice.
		return 3 * l.settle
	}
	return l.settle
}

func (l *loop) startPending(e *entry, now time.Time) {
	l.quiet.lastArrival.Store(now.UnixNano())
	e.state = statePending
	e.since = now
	e.doneBy = "" // a new version: its writer has not been seen finishing it
	e.due = now.Add(l.settleFor(e))
	l.pending[e.name] = e
	l.arm(e.due, now)
}

func (l *loop) tryReady(e *entry, now time.Time) {
	need := l.settleFor(e)
	if now.Sub(e.since) >= need && l.doneButIncomplete(e) {
		need = l.settleFor(e) // the whole settle window after all
	}
	if now.Sub(e.since) < need {
		e.state = statePending
		e.due = e.since.Add(need)
		l.pending[e.name] = e
		l.arm(e.due, now)
		return
	}
	if !canRead(filepath.Join(l.dir, e.name)) {
		l.log.Debug("file still open by a writer", "file", e.name)
		e.doneBy = ""
		e.state = statePending
		e.due = now.Add(l.settle)
		l.pending[e.name] = e
		l.arm(e.due, now)
		return
	}
	if e.offers == 0 && e.waits < incompleteWaits && xmlEndsEarly(filepath.Join(l.dir, e.name)) {
		// XML that stops in the middle is most likely still being written by a writer that paused
		// longer than the settle window: claiming it now would split the invoice in two.
		e.waits++
		e.doneBy = "" // the writer's signal was premature: the full settle window applies
		l.log.Info("file ends before its XML does; waiting for the writer", "file", e.name,
			"size", e.size, "wait", e.waits, "of", incompleteWaits)
		e.state = statePending
		e.due = now.Add(l.settle)
		l.pending[e.name] = e
		l.arm(e.due, now)
		return
	}
	delete(l.pending, e.name)
	e.state = stateQueued
	if !e.inQueue {
		l.queue = append(l.queue, e)
		e.inQueue = true
	}
}

func (l *loop) forget(name string) {
	if e := l.entries[name]; e != nil {
		e.state = stateGone
		delete(l.entries, name)
		delete(l.pending, name)
	}
}

// look stats one name; used for event hints and for due pending entries.
func (l *loop) look(name string) {
	now := time.Now()
	fi, err := os.Stat(filepath.Join(l.dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.forget(name)
		return
	case err != nil:
		if e := l.pending[name]; e != nil {
			e.due = now.Add(l.settle) // retry later instead of spinning
		}
		l.log.Debug("stat failed", "file", name, "err", err)
		return
	case !fi.Mode().IsRegular():
		l.forget(name)
		return
	}
	l.observe(name, fi.Size(), fi.ModTime(), now, false)
}

func (l *loop) checkPending() {
	now := time.Now()
	var due []*entry
	for _, e := range l.pending {
		if !e.due.After(now) {
			due = append(due, e)
		}
	}
	// Sorted so files that settle together are offered in name order.
	slices.SortFunc(due, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	if len(due) > checkLot {
		due = due[:checkLot] // the rest stay due: the timer fires again at once
	}
	for _, e := range due {
		l.look(e.name)
	}
	l.checkAt = time.Time{}
	for _, e := range l.pending {
		l.arm(e.due, now)
	}
}

// checkLot is how many due files one turn of the loop looks at (a stat, and the XML check). The
// files found ready are offered between turns, so the consumer starts on the first lot of a burst
// of thousands while the watcher checks the next: both at once, on two cores.
const checkLot = 256

// arm makes sure the check timer fires no later than due.
func (l *loop) arm(due, now time.Time) {
	if !l.checkAt.IsZero() && !due.Before(l.checkAt) {
		return
	}
	l.checkAt = due
	l.checkTimer.Reset(max(due.Sub(now), 0))
}

// --- delivery queue ---

func (l *loop) head() *entry {
	for len(l.queue) > 0 {
		e := l.queue[0]
		if e.state == stateQueued {
			return e
		}
		l.pop()
	}
	return nil
}

func (l *loop) pop() {
	l.queue[0].inQueue = false
	l.queue[0] = nil
	l.queue = l.queue[1:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
}

func (l *loop) delivered() {
	e := l.queue[0]
	l.pop()
	e.state = stateSent
	e.offers++
	if e.offers == 1 {
		l.log.Info("file ready", "file", e.name, "size", e.size, "ready_by", e.readyBy())
	} else {
		l.log.Debug("file still in outbox; offered again", "file", e.name, "offers", e.offers)
	}
}

// --- events (hints only) ---

func (l *loop) startEvents() {
	if !l.events {
		return
	}
	src, err := newEventSource()
	if err != nil {
		l.log.Warn("file events unavailable; discovering by periodic listing only", "err", err)
		return
	}
	l.src = src
}

func (l *loop) ensureWatch() {
	l.addErr = nil
	if l.src == nil || l.watching {
		return
	}
	if err := l.src.Add(l.dir); err != nil {
		l.addErr = err
		return
	}
	l.watching = true
}

func (l *loop) unwatch() {
	if l.src != nil && l.watching {
		_ = l.src.Remove(l.dir)
	}
	l.watching = false
}

func (l *loop) dropEvents(err error) {
	if l.src == nil {
		return
	}
	l.log.Warn("file events unavailable; discovering by periodic listing only", "err", err)
	_ = l.src.Close()
	l.src = nil
	l.watching = false
	l.addErr = nil
}

func (l *loop) handleEvent(ev fsnotify.Event) {
	if filepath.Clean(ev.Name) == l.dir {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			// The watch died with the directory (or follows it to its new
			// name): drop it and let the listing report and re-arm.
			l.unwatch()
			l.list()
		}
		return
	}
	if filepath.Dir(ev.Name) != l.dir || !ev.Has(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Remove) {
		return // Chmod alone says nothing about content
	}
	name := filepath.Base(ev.Name)
	if !l.filter.match(name) {
		return
	}
	if e := l.entries[name]; e != nil && e.state == statePending {
		l.eventMayMeanDone(e) // otherwise its scheduled look will see any change
		return
	}
	l.look(name)
	if e := l.entries[name]; e != nil && e.state == statePending {
		l.eventMayMeanDone(e)
	}
}

func (l *loop) handleEventError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		l.log.Info("file event queue overflowed; listing directory")
	} else {
		l.log.Warn("file event watcher error; listing directory", "err", err)
		l.unwatch() // re-armed by the listing
	}
	l.list()
}
