package outboxclaim

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
)

// FolderName is the hidden folder inside an outbox that holds one claim folder per daemon.
const FolderName = ".ksef-sync"

// Dir is daemon id's claim folder inside outbox.
func Dir(outbox, id string) string {
	return filepath.Join(outbox, FolderName, id)
}

// Original is the outbox path a claimed file came from: path itself when it is not in a claim
// folder. The name never changes on the way, so outputs and logs keep the ERP's name.
func Original(path string) string {
	claimDir := filepath.Dir(path)
	if filepath.Base(filepath.Dir(claimDir)) != FolderName {
		return path
	}
	return filepath.Join(filepath.Dir(filepath.Dir(claimDir)), filepath.Base(path))
}

// Failure-injection points for tests.
var (
	renameFile = renameExclusive
	syncDir    = atomicfile.SyncDir
)

// Claimer takes outbox files for one daemon by renaming them into its claim folder.
type Claimer struct {
	id  string
	log *slog.Logger
	// mu makes the check that a claim-folder name is free and the rename into it one step: on
	// Linux a rename replaces an existing target. Only this process writes its claim folder (the state folder's
	// lock keeps a second process with the same id out), so no other writer can slip in between.
	mu sync.Mutex
}

// New returns the claimer of daemon id; log receives one line per file that could not be taken.
func New(id string, log *slog.Logger) (*Claimer, error) {
	if !validID(id) {
		return nil, fmt.Errorf("outbox claim: invalid daemon id %q", id)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Claimer{id: id, log: log}, nil
}

// ID is the daemon id the claimer takes files for.
func (c *Claimer) ID() string { return c.id }

// Take renames each outbox file (ready: it has stopped changing) into this daemon's claim folder
// beside it and returns the paths that are now ours, to be claimed into the journal. A file
// another daemon renamed first is gone: it is skipped, with a debug line. A file that cannot be
// renamed for another reason (the writer still holds it open on Windows, no permission) stays in
// the outbox and is offered again at the next listing.
//
// When our claim folder already holds a file of the same name (a claim a crash interrupted, or one
// whose journal step failed), the new outbox file is not renamed over it: the older one is
// returned instead, to be finished first, and the new one waits in the outbox for the next listing.
func (c *Claimer) Take(paths []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	synced := map[string]bool{}
	seen := map[string]bool{}
	made := map[string]bool{} // claim folders known to exist: one check per lot, not per file
	for _, p := range paths {
		outbox := filepath.Dir(p)
		dir := Dir(outbox, c.id)
		if !made[dir] {
			if err := c.ensureDir(outbox); err != nil {
				c.log.Warn("cannot create the claim folder in the outbox; the file stays there and is retried", "file", filepath.Base(p), "dir", dir, "err", err)
				continue
			}
			made[dir] = true
		}
		target := filepath.Join(dir, filepath.Base(p))
		if seen[target] {
			continue
		}
		if exists(target) {
			c.log.Info("an earlier claim of this name is still being finished; the new file waits in the outbox", "file", filepath.Base(p), "dir", dir)
			seen[target] = true
			out = append(out, target)
			continue
		}
		err := renameFile(p, target)
		switch {
		// A "source gone" with the target in place is our own rename after all: NFS (and SMB with
		// replayed requests) can retry a rename whose answer was lost and then report the source gone.
		case err == nil, errors.Is(err, os.ErrNotExist) && exists(target):
			seen[target] = true
			out = append(out, target)
			synced[outbox] = true
		case errors.Is(err, os.ErrNotExist):
			// Another daemon renamed it first (or the ERP took it back): not ours.
			c.log.Debug("file taken by another daemon or removed before we could claim it", "file", filepath.Base(p))
		case inUse(err):
			// Windows: open without delete sharing, by its writer or by another daemon checking
			// that it is ready. Expected while daemons share an outbox; the next listing retries.
			c.log.Debug("file in use; retried at the next listing", "file", filepath.Base(p), "err", err)
		default:
			c.log.Warn("cannot claim file; it stays in the outbox and is retried", "file", filepath.Base(p), "err", err)
		}
	}
	// The renames decide ownership: make them durable before the journal records anything, so a
	// power cut can never bring back into the outbox a file this daemon goes on to send.
	for outbox := range synced {
		for _, d := range []string{Dir(outbox, c.id), outbox} {
			if err := syncDir(d); err != nil {
				c.log.Debug("sync folder after claiming", "dir", d, "err", err)
			}
		}
	}
	return out
}

// ensureDir creates the claim folder (and the hidden folder above it) when missing.
func (c *Claimer) ensureDir(outbox string) error {
	dir := Dir(outbox, c.id)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	hide(filepath.Join(outbox, FolderName)) // Windows: out of the ERP user's sight in Explorer
	return nil
}

// Leftovers lists the files in this daemon's claim folder of outbox: claims that a crash or a
// failed journal step left unfinished. None when the folder does not exist.
func (c *Claimer) Leftovers(outbox string) ([]string, error) {
	names, err := files(Dir(outbox, c.id))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(Dir(outbox, c.id), n)
	}
	return out, nil
}

// Held is another daemon's claim folder holding files: invoices that daemon took and has not
// finished. A daemon finishes a file within seconds; files that stay mean it stopped (a dead
// standby host) and must be handed back by moving them into the outbox.
type Held struct {
	Daemon string   `json:"daemon"` // the folder's name: the other daemon's id
	Dir    string   `json:"dir"`
	Files  int      `json:"files"`
	Names  []string `json:"names"` // the first few, sorted
}

// maxNames bounds Held.Names.
const maxNames = 5

// Others lists the claim folders of daemons other than id inside outbox that hold files, sorted by
// daemon id. An outbox without claim folders gives none.
func Others(outbox, id string) ([]Held, error) {
	root := filepath.Join(outbox, FolderName)
	des, err := readDir(root)
	if err != nil {
		return nil, err
	}
	var out []Held
	for _, de := range des {
		if !de.IsDir() || de.Name() == id {
			continue
		}
		dir := filepath.Join(root, de.Name())
		names, err := files(dir)
		if err != nil {
			return nil, err
		}
		if len(names) > 0 {
			out = append(out, Held{Daemon: de.Name(), Dir: dir, Files: len(names), Names: names[:min(len(names), maxNames)]})
		}
	}
	return out, nil
}

// files lists the regular files in dir by name, sorted; none when dir does not exist.
func files(dir string) ([]string, error) {
	des, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		if de.Type().IsRegular() {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// readDir lists dir; a folder that does not exist (nothing was ever claimed there) lists empty.
func readDir(dir string) ([]os.DirEntry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return des, err
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
