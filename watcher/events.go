package watcher

import "github.com/fsnotify/fsnotify"

// eventSource is the part of *fsnotify.Watcher the loop uses. It exists so
// tests can deliver precise event sequences (overflow, spurious writes)
// inside a testing/synctest bubble, where a real inotify reader would block
// in a syscall and stop fake time.
type eventSource interface {
	Add(path string) error
	Remove(path string) error
	Close() error
	Events() <-chan fsnotify.Event
	Errors() <-chan error
	// Done delivers "<how>:<path>" when a writer has finished with a file (see readyBy*); a nil
	// channel where the platform has no such signal.
	Done() <-chan string
}

// How a file became ready (File.ReadyBy, and the "ready_by" of the "file ready" log line).
const (
	readyBySettle     = "settle"      // held still for the whole settle window
	readyByCloseWrite = "close-write" // Linux: closed after writing, then held still for a short check
	readyByRename     = "rename"      // Linux: renamed into the outbox, then held still for a short check
	readyByExclusive  = "exclusive"   // Windows: opened with write sharing denied after an event
)

type fsnotifySource struct {
	w    *fsnotify.Watcher
	done *doneSignals // nil: no writer-finished signals on this platform or they could not start
}

func (s fsnotifySource) Add(path string) error {
	if err := s.w.Add(path); err != nil {
		return err
	}
	if s.done != nil {
		_ = s.done.add(path) // without it, files are ready after the settle window as before
	}
	return nil
}

func (s fsnotifySource) Remove(path string) error {
	if s.done != nil {
		s.done.remove(path)
	}
	return s.w.Remove(path)
}

func (s fsnotifySource) Close() error {
	if s.done != nil {
		s.done.close()
	}
	return s.w.Close()
}

func (s fsnotifySource) Events() <-chan fsnotify.Event { return s.w.Events }
func (s fsnotifySource) Errors() <-chan error          { return s.w.Errors }

func (s fsnotifySource) Done() <-chan string {
	if s.done == nil {
		return nil
	}
	return s.done.done()
}

// newEventSource is a package variable so tests can inject event sequences
// and start-up failures.
var newEventSource = func() (eventSource, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	done, err := newDoneSignals()
	if err != nil {
		done = nil // only the fast path is lost
	}
	return fsnotifySource{w: w, done: done}, nil
}
