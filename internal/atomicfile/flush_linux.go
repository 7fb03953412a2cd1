//go:build linux

package atomicfile

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// flushFiles makes the data of every staged file durable with one syncfs per file system: for a
// batch of thousands of small files that is one flush instead of thousands.
func flushFiles(ps []pendingFile) error {
	done := map[uint64]bool{}
	for _, p := range ps {
		var st unix.Stat_t
		if err := unix.Fstat(int(p.f.Fd()), &st); err != nil {
			return fmt.Errorf("stat %s: %w", p.tmp, err)
		}
		if done[st.Dev] {
			continue
		}
		if err := unix.Syncfs(int(p.f.Fd())); err != nil {
			return fmt.Errorf("syncfs for %s: %w", p.final, err)
		}
		done[st.Dev] = true
	}
	return nil
}
