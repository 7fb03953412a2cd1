package main

import (
	"runtime/debug"
	"testing"
)

// TestMemoryLimitDefault: without GOGC and GOMEMLIMIT the collector runs at defaultGCPercent; when
// the environment sets either, its value stands.
func TestMemoryLimitDefault(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	setMemoryLimit(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent without GOGC = %d, want %d", got, defaultGCPercent)
	}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		setMemoryLimit(func(k string) string {
			if k == env {
				return "200"
			}
			return ""
		})
		if got := debug.SetGCPercent(100); got != 100 {
			t.Errorf("%s set, but the GC percent was changed to %d", env, got)
		}
	}
}
