package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// The temporary files this process is still filling. RemoveTemps clears what a crash left behind,
// and must never take one of these: a Batch keeps its files staged until the chunk commits (the
// readable copies of a restarted daemon are staged while the engine's recovery clears the sent
// folder), and companies that share an output folder recover while another one writes.
var live = struct {
	// creating is held shared from a temporary file's creation until it is registered, and
	// exclusively by RemoveTemps, so a listing never sees a fresh file before it is registered.
	creating sync.RWMutex
	mu       sync.Mutex
	names    map[string]struct{}
}{names: map[string]struct{}{}}

// createTemp creates ".<base>.<12 hex digits>.tmp" in dir and registers it as being written.
func createTemp(dir, base string, perm os.FileMode) (*os.File, error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := filepath.Join(dir, "."+base+"."+hex.EncodeToString(rnd[:])+".tmp")
	live.creating.RLock()
	defer live.creating.RUnlock()
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	live.mu.Lock()
	live.names[name] = struct{}{}
	live.mu.Unlock()
	return f, nil
}

// released forgets a temporary file once it is renamed into place or removed.
func released(name string) {
	live.mu.Lock()
	delete(live.names, name)
	live.mu.Unlock()
}

// removeTemp removes a temporary file that will not be published and forgets it.
func removeTemp(name string) {
	_ = os.Remove(name)
	released(name)
}

func isLive(name string) bool {
	live.mu.Lock()
	defer live.mu.Unlock()
	_, ok := live.names[name]
	return ok
}

// RemoveTemps deletes temporary files a crash left behind in dir (not recursive), leaving alone
// the ones this process is still writing. Only call it on folders no other process writes with
// our naming scheme: the single-instance lock guarantees that for ksef-sync's own output folders.
func RemoveTemps(dir string) (int, error) {
	live.creating.Lock()
	defer live.creating.Unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if e.IsDir() || !TempName(e.Name()) || isLive(name) {
			continue
		}
		if err := os.Remove(name); err == nil {
			n++
		}
	}
	return n, nil
}
