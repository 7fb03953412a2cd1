package outboxclaim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
)

// OwnerSuffix ends the name of a daemon id's owner record, outbox/.ksef-sync/<daemon-id>.owner:
// beside the claim folder (never inside it, where Leftovers would take it for an invoice) and out
// of the outbox root, which the watcher lists.
const OwnerSuffix = ".owner"

// RefreshEvery is how often the owner of a daemon id rewrites its record, and how often a daemon
// that found the id in use by another re-reads it.
const RefreshEvery = 30 * time.Second

// FreshFor is how long a record counts as its owner's: three missed refreshes mean that daemon
// stopped (or its host or state folder was renamed), and its record may be taken over.
const FreshFor = 3 * RefreshEvery

// OwnerPath is the owner record of daemon id in outbox.
func OwnerPath(outbox, id string) string {
	return filepath.Join(outbox, FolderName, id+OwnerSuffix)
}

// Owner is the process that last claimed files in an outbox under one daemon id. Two processes
// with one id (a state folder copied to a second server) would take each other's claims for their
// own; the record lets the second one notice the first and stay away.
type Owner struct {
	Host     string    `json:"host"`
	StateDir string    `json:"stateDir"` // absolute
	PID      int       `json:"pid"`
	Instance string    `json:"instance"` // random, new for every process start
	Updated  time.Time `json:"updated"`
}

// sameDaemon says that o and p are one daemon, perhaps restarted: the same state folder on the
// same host, which the state folder's lock lets only one process use at a time.
func (o Owner) sameDaemon(p Owner) bool {
	return o.Instance == p.Instance || o.Host == p.Host && o.StateDir == p.StateDir
}

// processInstance tells this process's record from every other one's.
var processInstance = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b[:])
}()

// Me is this process as the owner of stateDir's daemon id.
func Me(stateDir string) Owner {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	return Owner{Host: host, StateDir: stateDir, PID: os.Getpid(), Instance: processInstance}
}

// ReadOwner returns the owner record of daemon id in outbox; nil when there is none. A record that
// cannot be parsed (torn by an old crash) reads as an empty, stale one and is taken over.
func ReadOwner(outbox, id string) (*Owner, error) {
	o, err := readOwnerFile(OwnerPath(outbox, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return o, err
}

// Conflict is another live process claiming in the outbox under our daemon id.
type Conflict struct {
	Outbox string `json:"outbox"`
	Daemon string `json:"daemon"` // the shared id
	Other  Owner  `json:"other"`
	Me     Owner  `json:"me"`
}

// Error names both daemons and the safe fix. Deleting daemon-id alone is not: the copied journal
// holds the other daemon's invoices, and files in the claim folder are the other daemon's to finish.
func (c *Conflict) Error() string {
	return fmt.Sprintf("daemon id %s is in use on outbox %s by another running ksef-sync (host %s, state folder %s, updated %s); "+
		"this one (host %s, state folder %s) does not claim files there. A copied state folder? Stop this daemon, "+
		"move its state folder aside and start it with a new, empty one (deleting %s alone is not enough: the copied journal "+
		"holds the other daemon's invoices); leave %s alone, the other daemon finishes what is in it",
		c.Daemon, c.Outbox, c.Other.Host, c.Other.StateDir, c.Other.Updated.UTC().Format(time.RFC3339),
		c.Me.Host, c.Me.StateDir, filepath.Join(c.Me.StateDir, IDFile), Dir(c.Outbox, c.Daemon))
}

// Live reports whether another fresh process owns daemon id in outbox, as seen by me at now: the
// check `status` and `doctor` make without writing anything.
func Live(outbox, id string, me Owner, now time.Time) (*Conflict, error) {
	rec, err := ReadOwner(outbox, id)
	if err != nil || rec == nil || rec.sameDaemon(me) || !fresh(rec, now) {
		return nil, err
	}
	return &Conflict{Outbox: outbox, Daemon: id, Other: *rec, Me: me}, nil
}

// fresh says that rec's owner refreshed it recently (a clock ahead of ours counts as fresh).
func fresh(rec *Owner, now time.Time) bool {
	return now.Sub(rec.Updated) < FreshFor
}

// Guard keeps one daemon's owner record of one outbox and says whether it may claim there. It is
// used by one goroutine (the engine's loop).
type Guard struct {
	outbox, id string
	me         Owner
	now        func() time.Time
	next       time.Time // when the record is next read and refreshed
	last       error     // the answer until then
}

// NewGuard returns the guard of daemon id, run by me, in outbox.
func NewGuard(outbox, id string, me Owner, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{outbox: outbox, id: id, me: me, now: now}
}

// Check returns nil when this daemon may claim files in the outbox, a *Conflict when another live
// process uses our id there, or the error that kept the record from being read or written (claiming
// then waits too: without the record nobody can tell). The record is read and refreshed at most
// once per RefreshEvery; in between the last answer stands.
func (g *Guard) Check() error {
	now := g.now()
	if now.Before(g.next) {
		return g.last
	}
	g.last = g.settle(now)
	var c *Conflict
	if g.last == nil || errors.As(g.last, &c) {
		g.next = now.Add(RefreshEvery)
	} // any other error (the outbox is missing, the share is down): tried again at the next call
	return g.last
}

// settle reads the record and makes it ours unless another fresh owner holds it. A missing record is
// created exclusively and a stale one moved away before ours is written, so of two daemons taking
// over at once exactly one wins; the other meets the winner's record on its next attempt.
func (g *Guard) settle(now time.Time) error {
	me := g.me
	me.Updated = now.UTC()
	data, err := json.Marshal(me)
	if err != nil {
		return err
	}
	path := OwnerPath(g.outbox, g.id)
	for range 3 {
		rec, err := ReadOwner(g.outbox, g.id)
		switch {
		case err != nil:
			return err
		case rec != nil && rec.sameDaemon(me):
			return atomicfile.WriteFile(path, data, 0o644)
		case rec != nil && fresh(rec, now):
			return &Conflict{Outbox: g.outbox, Daemon: g.id, Other: *rec, Me: g.me}
		case rec != nil:
			if c, err := g.moveStale(path, rec); c != nil || err != nil {
				return errors.Join(err, conflictErr(c))
			}
		}
		if err := g.ensureFolder(); err != nil {
			return err
		}
		err = atomicfile.WriteNew(path, data, 0o644)
		if !errors.Is(err, atomicfile.ErrExist) {
			return err
		}
		// Another process wrote its record first: look again.
	}
	return fmt.Errorf("owner record %s keeps changing; retried later", path)
}

// conflictErr is c as an error, nil for no conflict (not a typed nil).
func conflictErr(c *Conflict) error {
	if c == nil {
		return nil
	}
	return c
}

// moveStale takes the stale record rec out of the way by renaming it to a name of our own: of two
// daemons doing this at once, only one rename finds it. What was moved is read back: a record that
// is no longer rec is a fresh one another daemon wrote after our read, and that daemon owns the id
// (its next refresh writes it again; we stay away).
func (g *Guard) moveStale(path string, rec *Owner) (*Conflict, error) {
	aside := filepath.Join(filepath.Dir(path), "."+g.id+OwnerSuffix+"."+g.me.Instance+".old")
	if err := os.Rename(path, aside); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // someone else moved it: the next attempt reads what is there now
		}
		return nil, err
	}
	defer os.Remove(aside)
	moved, err := readOwnerFile(aside)
	if err != nil {
		return nil, err
	}
	if *moved != *rec && fresh(moved, g.now()) && !moved.sameDaemon(g.me) {
		return &Conflict{Outbox: g.outbox, Daemon: g.id, Other: *moved, Me: g.me}, nil
	}
	return nil, nil
}

// readOwnerFile parses the record at path; an empty Owner when it is not one.
func readOwnerFile(path string) (*Owner, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var o Owner
	if json.Unmarshal(b, &o) != nil {
		return &Owner{}, nil // torn: stale, never fresh
	}
	return &o, nil
}

// ensureFolder creates outbox/.ksef-sync when missing, but never the outbox itself: a missing
// outbox is reported by the watcher, and nothing can be claimed from it anyway.
func (g *Guard) ensureFolder() error {
	err := os.Mkdir(filepath.Join(g.outbox, FolderName), 0o755)
	if err == nil {
		hide(filepath.Join(g.outbox, FolderName))
	}
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}
