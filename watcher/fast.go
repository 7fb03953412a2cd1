package watcher

import (
	"path/filepath"
	"strings"
	"time"
)

// doneCheck is the short stability check that follows a writer-finished signal: size and
// modification time must hold still this long (and the XML must be complete) instead of the whole
// settle window. Long enough to catch a writer that reopens the file at once, short enough that a
// bookkeeper does not notice it.
const doneCheck = 100 * time.Millisecond

// handleDone takes a writer-finished signal ("<how>:<path>", Linux): the file's current version is
// looked at now and becomes ready once it has held still for doneCheck, unless the look finds
// it still changing, open by a writer or its XML cut short, which fall back to the settle window.
func (l *loop) handleDone(sig string) {
	how, path, ok := strings.Cut(sig, ":")
	if !ok || filepath.Dir(path) != l.dir {
		return
	}
	name := filepath.Base(path)
	if !l.filter.match(name) {
		return
	}
	l.look(name) // records the version the writer left (a new version starts its own clock)
	if e := l.entries[name]; e != nil && e.state == statePending {
		e.doneBy = how
		l.tryReady(e, time.Now())
	}
}

// eventMayMeanDone: on Windows any event for a pending file makes it a candidate for the short
// check, because the exclusive open that tryReady makes is itself the proof that no writer holds
// the file. Elsewhere an event proves nothing and the settle window applies.
func (l *loop) eventMayMeanDone(e *entry) {
	if !exclusiveOpenProvesDone || e.doneBy != "" {
		return
	}
	e.doneBy = readyByExclusive
	l.tryReady(e, time.Now())
}

func (e *entry) readyBy() string {
	if e.doneBy == "" {
		return readyBySettle
	}
	return e.doneBy
}

// doneButIncomplete checks a file on the fast path: unless its XML is complete, the writer's
// signal is not trusted (it may close and reopen the file between chunks) and the file goes back
// to the settle window.
func (l *loop) doneButIncomplete(e *entry) bool {
	if e.doneBy == "" || xmlComplete(filepath.Join(l.dir, e.name)) {
		return false
	}
	l.log.Debug("writer finished but the XML is not complete yet; waiting the settle window", "file", e.name, "size", e.size)
	e.doneBy = ""
	return true
}

// xmlComplete reports whether the file holds one whole XML document: a root element opened and
// closed, nothing broken after it. Only such a file may skip the settle window; anything else
// (cut off, only a prolog, not XML at all) waits for it and is judged by validation as before.
func xmlComplete(path string) bool {
	s, ok := readShape(path)
	return ok && !s.cut && !s.malformed && s.roots == 1
}
