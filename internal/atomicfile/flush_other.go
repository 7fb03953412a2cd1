//go:build !linux

package atomicfile

import "fmt"

// flushNeedsFiles: Batch keeps each staged file open for flushFiles.
const flushNeedsFiles = true

// flushFiles fsyncs each staged file (FlushFileBuffers on Windows).
func flushFiles(ps []pendingFile) error {
	for _, p := range ps {
		if err := p.f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", p.final, err)
		}
	}
	return nil
}
