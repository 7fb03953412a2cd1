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
}

type fsnotifySource struct{ w *fsnotify.Watcher }

func (s fsnotifySource) Add(path string) error         { return s.w.Add(path) }
func (s fsnotifySource) Remove(path string) error      { return s.w.Remove(path) }
func (s fsnotifySource) Close() error                  { return s.w.Close() }
func (s fsnotifySource) Events() <-chan fsnotify.Event { return s.w.Events }
func (s fsnotifySource) Errors() <-chan error          { return s.w.Errors }

// newEventSource is a package variable so tests can inject event sequences
// and start-up failures.
var newEventSource = func() (eventSource, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return fsnotifySource{w: w}, nil
}
