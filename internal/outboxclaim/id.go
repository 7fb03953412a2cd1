package outboxclaim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
)

// IDFile is the name of the file in the state folder that holds the daemon id.
const IDFile = "daemon-id"

// ID returns the daemon id of stateDir, creating it on first use. Concurrent first calls (several
// companies starting at once in one daemon) agree on one id: the write never replaces an id that
// is already there.
func ID(stateDir string) (string, error) {
	// The companies of one process share a state folder and start together; on Windows a read
	// of the file another goroutine is still creating fails with a sharing violation. Other
	// processes cannot race here: the state folder's lock admits one.
	idMu.Lock()
	defer idMu.Unlock()
	id, err := ReadID(stateDir)
	if err != nil || id != "" {
		return id, err
	}
	id = hostPart() + "-" + randomPart()
	path := filepath.Join(stateDir, IDFile)
	err = atomicfile.WriteNew(path, []byte(id+"\n"), 0o644)
	if errors.Is(err, atomicfile.ErrExist) {
		return ReadID(stateDir)
	}
	if err != nil {
		return "", fmt.Errorf("daemon id: %w", err)
	}
	return id, nil
}

// idMu makes the first creation of a daemon id one at a time within the process.
var idMu sync.Mutex

// ReadID returns the daemon id of stateDir without creating one: "" when the daemon never ran.
func ReadID(stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, IDFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("daemon id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !validID(id) {
		return "", fmt.Errorf("daemon id: %s holds %q, not an id; delete the file only if no file waits in a claim folder named after it", filepath.Join(stateDir, IDFile), id)
	}
	return id, nil
}

// validID keeps the id usable as one folder name everywhere: letters, digits, '-' and '_', no dot.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !isIDRune(r) {
			return false
		}
	}
	return true
}

func isIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// hostPart is the host name reduced to id characters (the first label only: "srv1.corp.local" is
// "srv1"), lower-case, at most 32 of them.
func hostPart() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	h = strings.Map(func(r rune) rune {
		if isIDRune(r) {
			return r
		}
		return '-'
	}, h)
	h = strings.Trim(h, "-")
	if len(h) > 32 {
		h = h[:32]
	}
	if h == "" {
		return "host"
	}
	return h
}

func randomPart() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b[:])
}
