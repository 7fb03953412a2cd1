package main

import "runtime/debug"

// defaultMemoryLimit is the soft limit the Go runtime keeps its memory under unless GOMEMLIMIT
// says otherwise. Left alone, the heap may grow to twice what is live before it is collected: a
// 10,000-invoice burst peaked at 120 MB resident with about 45 MB live. Near the limit the
// collector runs more often instead (it never takes more than about half the CPU for it, so a
// larger live set only slows down, never fails).
const defaultMemoryLimit = 64 << 20

// setMemoryLimit applies defaultMemoryLimit when the environment sets no GOMEMLIMIT.
func setMemoryLimit(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
