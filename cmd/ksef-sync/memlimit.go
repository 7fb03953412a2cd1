package main

import "runtime/debug"

// defaultGCPercent is how far the heap may grow past what is live before it is collected, unless
// GOGC or GOMEMLIMIT in the environment say otherwise. Go's default (100) lets it double: a
// 10,000-invoice burst peaked at 120 MB resident with about 45 MB live. 50 keeps the peak near
// 1.5 times the live set, for a few more collections.
//
// Why not a fixed soft limit (GOMEMLIMIT): a limit below the live set makes the collector run all
// the time. A 64 MiB limit cut the burst's peak, but a daemon serving 400 idle companies (about
// 80 MB live) then spent 71 CPU-seconds a minute collecting; a percentage scales with what is live.
const defaultGCPercent = 50

// setMemoryLimit applies defaultGCPercent when the environment sets neither GOGC nor GOMEMLIMIT.
func setMemoryLimit(getenv func(string) string) {
	if getenv("GOGC") == "" && getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
