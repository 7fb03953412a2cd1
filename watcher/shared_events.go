package watcher

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// Every outbox watcher of a process shares one fsnotify watcher (and, on Linux, one
// writer-finished reader): an accounting office runs hundreds of outboxes in one service, and
// Linux allows a user only fs.inotify.max_user_instances inotify instances (128 by default), while
// the number of watched directories (max_user_watches) is rarely the limit. The hub reads the
// shared channels and hands each event to the watcher of its directory through that watcher's own
// queue, so a watcher that is slow (its share hangs in a listing) never holds up the others: its
// queue grows up to maxQueuedEvents, then it is told the queue overflowed and lists its directory,
// exactly as after a kernel queue overflow.

// maxQueuedEvents bounds one watcher's backlog: the kernel's own default queue
// (fs.inotify.max_queued_events) is 16384 events for a whole instance.
const maxQueuedEvents = 16384

var shared struct {
	mu  sync.Mutex
	hub *eventHub
}

// subscribeShared joins the process's shared event hub, starting it for the first watcher.
func subscribeShared() (eventSource, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.hub == nil {
		h, err := newEventHub()
		if err != nil {
			return nil, err
		}
		shared.hub = h
	}
	return shared.hub.subscribe(), nil
}

// eventHub owns the shared watcher and the goroutine that dispatches its events; the last
// subscription to close stops both and waits for the goroutine.
type eventHub struct {
	w       *fsnotify.Watcher
	done    *doneSignals // nil where the platform has no writer-finished signal
	pumped  chan struct{}
	mu      sync.Mutex
	dirs    map[string][]*subscription // watched directory → its watchers (normally one)
	members map[*subscription]bool
}

func newEventHub() (*eventHub, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	done, err := newDoneSignals()
	if err != nil {
		done = nil // only the fast path is lost
	}
	h := &eventHub{w: w, done: done, pumped: make(chan struct{}), dirs: map[string][]*subscription{},
		members: map[*subscription]bool{}}
	go h.pump()
	return h, nil
}

func (h *eventHub) subscribe() *subscription {
	s := &subscription{hub: h, events: make(chan fsnotify.Event), errs: make(chan error, 1),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), forwarded: make(chan struct{})}
	if h.done != nil {
		s.doneCh = make(chan string)
	}
	h.mu.Lock()
	h.members[s] = true
	h.mu.Unlock()
	go s.forward()
	return s
}

// pump dispatches until the shared watcher is closed.
func (h *eventHub) pump() {
	defer close(h.pumped)
	var doneCh <-chan string
	if h.done != nil {
		doneCh = h.done.done()
	}
	for {
		select {
		case ev, ok := <-h.w.Events:
			if !ok {
				return
			}
			h.toDir(ev.Name, queued{ev: ev})
		case err, ok := <-h.w.Errors:
			if !ok {
				return
			}
			h.toAll(err)
		case sig := <-doneCh:
			if _, path, ok := strings.Cut(sig, ":"); ok {
				h.toDir(path, queued{done: sig})
			}
		}
	}
}

// toDir hands an item about path to the watchers of the directory it is in, or of path itself
// when a watched directory is removed or renamed.
func (h *eventHub) toDir(path string, item queued) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.dirs[filepath.Clean(path)]
	if len(subs) == 0 {
		subs = h.dirs[filepath.Dir(path)]
	}
	for _, s := range subs {
		s.enqueue(item)
	}
}

// toAll tells every watcher about an error of the shared watcher (a kernel queue overflow): each
// lists its directory.
func (h *eventHub) toAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.members {
		s.fail(err)
	}
}

func (h *eventHub) add(s *subscription, dir string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dirs[dir]) == 0 {
		if err := h.w.Add(dir); err != nil {
			return err
		}
		if h.done != nil {
			_ = h.done.add(dir) // without it, files are ready after the settle window as before
		}
	}
	h.dirs[dir] = append(h.dirs[dir], s)
	return nil
}

func (h *eventHub) remove(s *subscription, dir string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.removeLocked(s, dir)
}

func (h *eventHub) removeLocked(s *subscription, dir string) error {
	subs := h.dirs[dir]
	i := indexOf(subs, s)
	if i < 0 {
		return nil
	}
	subs = append(subs[:i:i], subs[i+1:]...)
	if len(subs) > 0 {
		h.dirs[dir] = subs
		return nil
	}
	delete(h.dirs, dir)
	if h.done != nil {
		h.done.remove(dir)
	}
	return h.w.Remove(dir)
}

// leave drops s with all its directories; it reports whether s was the last member, in which case
// the caller shuts the hub down.
func (h *eventHub) leave(s *subscription) (last bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for dir, subs := range h.dirs {
		if indexOf(subs, s) >= 0 {
			_ = h.removeLocked(s, dir)
		}
	}
	delete(h.members, s)
	return len(h.members) == 0
}

func (h *eventHub) shutdown() {
	if h.done != nil {
		h.done.close()
	}
	_ = h.w.Close()
	<-h.pumped
}

func indexOf(subs []*subscription, s *subscription) int {
	for i, x := range subs {
		if x == s {
			return i
		}
	}
	return -1
}

// queued is one item on a watcher's queue: an event or a writer-finished signal.
type queued struct {
	ev   fsnotify.Event
	done string
}

// subscription is one watcher's view of the hub: an eventSource whose channels carry only the
// items of the directories it added. Its forwarder goroutine, owned by it and stopped by Close,
// moves the queue into those channels at the watcher's pace.
type subscription struct {
	hub       *eventHub
	events    chan fsnotify.Event
	doneCh    chan string
	errs      chan error
	wake      chan struct{}
	quit      chan struct{}
	forwarded chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	queue []queued
}

func (s *subscription) Add(dir string) error          { return s.hub.add(s, filepath.Clean(dir)) }
func (s *subscription) Remove(dir string) error       { return s.hub.remove(s, filepath.Clean(dir)) }
func (s *subscription) Events() <-chan fsnotify.Event { return s.events }
func (s *subscription) Errors() <-chan error          { return s.errs }

// Done is nil where the platform gives no writer-finished signal, as eventSource promises.
func (s *subscription) Done() <-chan string {
	if s.doneCh == nil {
		return nil
	}
	return s.doneCh
}

// Close leaves the hub and stops the forwarder; the last watcher to leave shuts the hub down.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.forwarded
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if s.hub.leave(s) {
			if shared.hub == s.hub {
				shared.hub = nil
			}
			s.hub.shutdown()
		}
	})
	return nil
}

// enqueue adds an item without ever blocking the hub; a full queue is dropped and reported as an
// overflow, after which the watcher lists its directory.
func (s *subscription) enqueue(item queued) {
	s.mu.Lock()
	full := len(s.queue) >= maxQueuedEvents
	if full {
		s.queue = s.queue[:0]
	} else {
		s.queue = append(s.queue, item)
	}
	s.mu.Unlock()
	if full {
		s.fail(fsnotify.ErrEventOverflow)
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// fail reports err unless an error is already waiting to be read (one listing answers both).
func (s *subscription) fail(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

func (s *subscription) forward() {
	defer close(s.forwarded)
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-s.wake:
				continue
			case <-s.quit:
				return
			}
		}
		for _, item := range batch {
			if !s.deliver(item) {
				return
			}
		}
	}
}

func (s *subscription) deliver(item queued) bool {
	if item.done != "" {
		select {
		case s.doneCh <- item.done:
			return true
		case <-s.quit:
			return false
		}
	}
	select {
	case s.events <- item.ev:
		return true
	case <-s.quit:
		return false
	}
}
