package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimitDefault: without GOMEMLIMIT the process keeps its heap under the default soft
// limit; with it, the environment's value stands.
func TestMemoryLimitDefault(t *testing.T) {
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	setMemoryLimit(func(string) string { return "" })
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("limit without GOMEMLIMIT = %d, want %d", got, defaultMemoryLimit)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	setMemoryLimit(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	})
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set, but the limit was changed to %d", got)
	}
}
