package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole process to the file named by the hidden
// environment variable KSEF_SYNC_CPUPROFILE until the returned function runs (at a clean exit).
// For developers measuring the daemon from the outside (benchmarks run it as a separate process);
// unset, it does nothing.
func startCPUProfile(getenv func(string) string) func() {
	path := getenv("KSEF_SYNC_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "KSEF_SYNC_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
