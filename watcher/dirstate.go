package watcher

import (
	"errors"
	"io/fs"
	"time"
)

// defaultDirRetry is how often a missing or unreadable outbox is listed again. A share that is not
// mounted yet at boot, or a server that restarts, is back within seconds; waiting for the next full
// rescan (30 s) would leave the ERP's files lying there for no reason (issue 11 item 8).
const defaultDirRetry = 5 * time.Second

// DirStatus is the outbox directory's availability, reported to [Watcher.OnDirChange] on every
// change (and once at start-up).
type DirStatus struct {
	Available bool
	// Problem is "missing", "denied" (permission) or "unreadable" (any other listing error); empty
	// when Available.
	Problem string
	Err     error     // the listing error; nil when Available
	Since   time.Time // when the watcher saw the change
}

// OnDirChange registers fn to be told when the outbox directory goes missing or unreadable and when
// it comes back, so the daemon can show it in `status`. Call it before [Watcher.Run]; fn runs on
// Run's goroutine and must return promptly.
func (w *Watcher) OnDirChange(fn func(DirStatus)) { w.onDir = fn }

// dirRetryEvery is the retry period for an unavailable directory: never slower than the rescan.
func dirRetryEvery(o Options) time.Duration {
	if o.DirRetry > 0 {
		return o.DirRetry
	}
	return min(defaultDirRetry, o.RescanEvery)
}

// nextListing is when the next full listing is due: soon while the directory is unavailable, on
// the (jittered) rescan schedule otherwise.
func (l *loop) nextListing() time.Duration {
	if l.dirState != dirOK && l.dirState != dirUnknown {
		return l.dirRetry
	}
	return l.rescanInterval()
}

func dirStateOf(err error) dirState {
	switch {
	case err == nil:
		return dirOK
	case errors.Is(err, fs.ErrNotExist):
		return dirMissing
	case errors.Is(err, fs.ErrPermission):
		return dirDenied
	}
	return dirBroken
}

var dirProblems = map[dirState]string{dirMissing: "missing", dirDenied: "denied", dirBroken: "unreadable"}

// setDirState records the outcome of a listing. Only changes are logged (one line when the
// directory goes, one when it is back) and reported to OnDirChange.
func (l *loop) setDirState(err error) {
	s, prev := dirStateOf(err), l.dirState
	if s == prev {
		return
	}
	l.dirState = s
	switch s {
	case dirOK:
		if prev != dirUnknown {
			l.log.Info("outbox directory available again")
		}
	case dirMissing:
		l.log.Warn("outbox directory does not exist; retrying every few seconds", "every", l.dirRetry, "err", err)
	case dirDenied:
		l.log.Warn("outbox directory is not readable (permission denied); retrying every few seconds", "every", l.dirRetry, "err", err)
	default:
		l.log.Warn("outbox directory cannot be listed; retrying every few seconds", "every", l.dirRetry, "err", err)
	}
	if l.onDir != nil {
		l.onDir(DirStatus{Available: s == dirOK, Problem: dirProblems[s], Err: err, Since: time.Now()})
	}
}
