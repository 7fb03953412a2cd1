// Package atomicfile is the one place where ksef-sync makes a file durable.
//
// ERPs poll the sent/, error/ and inbox/ folders, so a half-written file must never appear under its
// final name. Every write goes to a temporary file in the same directory (a dot-name ending in .tmp,
// which the outbox watcher ignores), is fsynced and closed, then renamed into place, and the directory
// is fsynced so the rename itself survives a power cut (restic's recipe).
package atomicfile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrExist is returned by WriteNew when the final name is already taken.
var ErrExist = fs.ErrExist

// Failure injection points for crash tests.
var (
	renameFile = os.Rename
	linkFile   = os.Link
)

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	_, err := writeFrom(path, bytes.NewReader(data), perm, false)
	return err
}

// WriteFrom atomically replaces path with everything read from r and returns the byte count.
func WriteFrom(path string, r io.Reader, perm os.FileMode) (int64, error) {
	return writeFrom(path, r, perm, false)
}

// WriteNew writes data to path atomically but never replaces an existing file: when path exists it
// returns an error wrapping ErrExist and leaves the existing file alone.
func WriteNew(path string, data []byte, perm os.FileMode) error {
	_, err := writeFrom(path, bytes.NewReader(data), perm, true)
	return err
}

// TempName reports whether name is one of our temporary files: ".<name>.<12 hex digits>.tmp".
func TempName(name string) bool {
	rest, ok := strings.CutSuffix(name, ".tmp")
	if !ok || len(rest) < 15 || rest[0] != '.' {
		return false
	}
	dot := len(rest) - 13
	if rest[dot] != '.' {
		return false
	}
	_, err := hex.DecodeString(rest[dot+1:])
	return err == nil
}

func writeFrom(path string, r io.Reader, perm os.FileMode, noReplace bool) (n int64, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := createTemp(dir, base, perm)
	if err != nil {
		return 0, err
	}
	tmpName := tmp.Name()
	defer released(tmpName)
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if n, err = io.Copy(tmp, r); err != nil {
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return n, fmt.Errorf("sync %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return n, fmt.Errorf("close %s: %w", path, err)
	}
	if err = publish(tmpName, path, noReplace); err != nil {
		return n, err
	}
	if err = SyncDir(dir); err != nil {
		return n, fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return n, nil
}

// publish moves tmp to its final name. Without noReplace a plain rename replaces any old file. With
// noReplace a hard link refuses to replace; file systems without hard links (some SMB servers) fall
// back to an existence check, which is safe because only one ksef-sync instance writes a folder.
func publish(tmp, path string, noReplace bool) error {
	if !noReplace {
		if err := renameFile(tmp, path); err != nil {
			return fmt.Errorf("rename into %s: %w", path, err)
		}
		return nil
	}
	err := linkFile(tmp, path)
	if err == nil {
		_ = os.Remove(tmp)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write %s: %w", path, ErrExist)
	}
	if _, statErr := os.Lstat(path); statErr == nil {
		return fmt.Errorf("write %s: %w", path, ErrExist)
	}
	if err := renameFile(tmp, path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}
