package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"
)

const (
	defaultRescanEvery = 30 * time.Second
	defaultSettle      = 2 * time.Second
)

// Options configure a [Watcher]. Zero values select the defaults.
type Options struct {
	// Dir is the absolute path of the outbox directory (a UNC path on Windows
	// shares: services have no mapped drive letters).
	Dir string
	// Patterns are globs on the base name (filepath.Match syntax), matched
	// case-insensitively. Default []string{"*.xml"}.
	Patterns []string
	// RescanEvery is the period of full listings, applied with ±10% jitter.
	// Default 30 s.
	RescanEvery time.Duration
	// Settle is how long size and mtime must hold still. Default 2 s.
	Settle time.Duration
	// Logger receives per-component logs; nil discards them.
	Logger *slog.Logger
	// DisableEvents turns off fsnotify: discovery by listing only.
	DisableEvents bool
	// DirRetry is how often a missing or unreadable directory is listed again.
	// Default 5 s (at most RescanEvery).
	DirRetry time.Duration
}

// File is an outbox file that has held still for the settle window.
type File struct {
	Path    string // Dir joined with Name
	Name    string // base name as listed
	Size    int64
	ModTime time.Time
	// ReadyBy says what made the file ready: "settle" (held still for the settle window),
	// "close-write" or "rename" (Linux: the writer was seen finishing, then a short stability
	// check), "exclusive" (Windows: an event, then the exclusive open succeeded).
	ReadyBy string
}

// Watcher discovers stable files in one directory. Create it with [New] and
// drive it with [Watcher.Run].
type Watcher struct {
	opts    Options
	filter  nameFilter
	log     *slog.Logger
	rescan  chan struct{}
	running atomic.Bool
	onDir   func(DirStatus) // see OnDirChange
	quiet   quietState
}

// quietState is what the loop publishes for other goroutines (Quiet).
type quietState struct {
	busy        atomic.Bool  // a file is settling, being checked or waiting to be handed over
	lastArrival atomic.Int64 // Unix nanoseconds of the last new file or new version seen; 0 none
}

// Quiet reports whether the watcher holds no file (none settling, being checked or waiting to be
// handed over) and when it last saw a file arrive or change. The engine ends its gather window
// once the outbox has been quiet that long: files found together at start-up go as one batch as
// soon as they are claimed, without a further window after the claim.
func (w *Watcher) Quiet() (idle bool, lastArrival time.Time) {
	if ns := w.quiet.lastArrival.Load(); ns != 0 {
		lastArrival = time.Unix(0, ns)
	}
	return w.running.Load() && !w.quiet.busy.Load(), lastArrival
}

// New validates opts, fills in defaults and returns a Watcher. It does not
// touch the filesystem: a missing directory is handled by Run.
func New(opts Options) (*Watcher, error) {
	if opts.Dir == "" {
		return nil, errors.New("watcher: Dir is empty")
	}
	if !filepath.IsAbs(opts.Dir) {
		// Services start in C:\Windows\System32 or /; a relative outbox
		// would silently point somewhere else.
		return nil, fmt.Errorf("watcher: Dir %q is not absolute", opts.Dir)
	}
	opts.Dir = filepath.Clean(opts.Dir)
	if len(opts.Patterns) == 0 {
		opts.Patterns = []string{"*.xml"}
	}
	filter, err := newNameFilter(opts.Patterns)
	if err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	if opts.RescanEvery < 0 || opts.Settle < 0 || opts.DirRetry < 0 {
		return nil, errors.New("watcher: RescanEvery, Settle and DirRetry must not be negative")
	}
	if opts.RescanEvery == 0 {
		opts.RescanEvery = defaultRescanEvery
	}
	if opts.Settle == 0 {
		opts.Settle = defaultSettle
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		opts:   opts,
		filter: filter,
		log:    logger.With("component", "watcher", "dir", opts.Dir),
		rescan: make(chan struct{}, 1),
	}, nil
}

// Rescan asks the running loop for a full listing soon. It never blocks;
// requests made while one is pending are merged.
func (w *Watcher) Rescan() {
	select {
	case w.rescan <- struct{}{}:
	default:
	}
}

// Run lists the directory, watches it, and sends each stable file on ready
// until ctx is done. Sends never block the loop: files wait in an internal
// queue until the consumer receives them. Run returns nil when ctx is done,
// after closing the event watcher; it starts no goroutines of its own. It
// returns an error only for misuse (nil channel, concurrent Run).
func (w *Watcher) Run(ctx context.Context, ready chan<- File) error {
	if ready == nil {
		return errors.New("watcher: Run: ready channel is nil")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watcher: Run already running")
	}
	defer w.running.Store(false)

	l := newLoop(w)
	defer l.close()
	l.run(ctx, ready)
	return nil
}
