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

// newEventSource is a package variable so tests can inject event sequences
// and start-up failures. Watchers share one hub (shared_events.go).
var newEventSource = subscribeShared
