package watcher

import (
	"fmt"
	"os"
	"path/filepath"
)

// List returns the candidate files in the directory right now, without waiting for them to
// settle. One-pass callers (`ksef-sync send`) use it to know which files belong to their pass, then
// let Run report each one once it holds still.
func (w *Watcher) List() ([]File, error) {
	des, err := os.ReadDir(w.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", w.opts.Dir, err)
	}
	var out []File
	for _, de := range des {
		if de.IsDir() || !w.filter.match(de.Name()) {
			continue
		}
		path := filepath.Join(w.opts.Dir, de.Name())
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, File{Path: path, Name: de.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}
