//go:build !linux

package watcher

// doneSignals exists on Linux only (inotify's close-after-write and rename-into events). Elsewhere
// there is no such signal: Windows relies on its exclusive-open check, other systems on the settle
// window.
type doneSignals struct{}

func newDoneSignals() (*doneSignals, error) { return nil, nil }
func (*doneSignals) add(string) error       { return nil }
func (*doneSignals) remove(string)          {}
func (*doneSignals) close()                 {}
func (*doneSignals) done() <-chan string    { return nil }
