package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Batch writes many files atomically with far fewer flushes than one WriteFile each: every file is
// first written to a temporary name, then Commit makes all temporary data durable (on Linux with one
// syncfs per file system instead of one fsync per file), renames every file into place, and makes
// the renames durable. A crash at any point leaves each final name either absent, as before, or
// complete; never partial. A batch is not safe for concurrent use.
type Batch struct {
	pending []pendingFile
}

type pendingFile struct {
	tmp, final string
	f          *os.File // open until Commit where flushFiles needs it; nil where it does not (Linux)
}

// Write stages data for path. Nothing appears under path before Commit.
func (b *Batch) Write(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := createTemp(dir, base, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		removeTemp(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !flushNeedsFiles {
		// syncfs reaches the data of closed files too: a large batch holds no descriptors
		if err := f.Close(); err != nil {
			removeTemp(f.Name())
			return fmt.Errorf("close %s: %w", path, err)
		}
		b.pending = append(b.pending, pendingFile{tmp: f.Name(), final: path})
		return nil
	}
	b.pending = append(b.pending, pendingFile{tmp: f.Name(), final: path, f: f})
	return nil
}

// Len reports how many files are staged.
func (b *Batch) Len() int { return len(b.pending) }

// Commit flushes, renames and flushes again. On error the files not yet renamed are removed; the
// ones already renamed are complete.
func (b *Batch) Commit() error {
	pending := b.pending
	b.pending = nil
	if err := flushFiles(pending); err != nil {
		discard(pending)
		return err
	}
	for i, p := range pending {
		if p.f == nil {
			continue
		}
		if err := p.f.Close(); err != nil {
			discard(pending[i:])
			return fmt.Errorf("close %s: %w", p.final, err)
		}
		pending[i].f = nil
	}
	dirs := map[string]bool{}
	for i, p := range pending {
		if err := renameFile(p.tmp, p.final); err != nil {
			discard(pending[i:])
			return fmt.Errorf("rename into %s: %w", p.final, err)
		}
		released(p.tmp)
		dirs[filepath.Dir(p.final)] = true
	}
	var errs []error
	for d := range dirs {
		errs = append(errs, SyncDir(d))
	}
	return errors.Join(errs...)
}

// Abort removes everything staged.
func (b *Batch) Abort() {
	discard(b.pending)
	b.pending = nil
}

func discard(ps []pendingFile) {
	for _, p := range ps {
		if p.f != nil {
			_ = p.f.Close()
		}
		removeTemp(p.tmp)
	}
}
