//go:build linux

package atomicfile

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// flushNeedsFiles: Batch.Write closes each file once written, since syncfs needs no descriptor of
// the files it flushes.
const flushNeedsFiles = false

// flushFiles makes the data of every staged file durable with one syncfs per file system: for a
// batch of thousands of small files that is one flush instead of thousands. The file system is
// reached through the staged files' directories (one open per directory, as few as the batch has).
func flushFiles(ps []pendingFile) error {
	done := map[uint64]bool{}
	dirs := map[string]bool{}
	for _, p := range ps {
		dir := filepath.Dir(p.tmp)
		if dirs[dir] {
			continue
		}
		dirs[dir] = true
		if err := syncfsOnce(dir, done); err != nil {
			return fmt.Errorf("syncfs for %s: %w", p.final, err)
		}
	}
	return nil
}

// syncfsOnce runs syncfs on dir's file system unless done already has it.
func syncfsOnce(dir string, done map[uint64]bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if done[st.Dev] {
		return nil
	}
	if err := unix.Syncfs(fd); err != nil {
		return err
	}
	done[st.Dev] = true
	return nil
}
