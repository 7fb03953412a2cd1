package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole process to the file named by the hidden
// environment variable KSEF_SYNC_CPUPROFILE until the returned function runs (at a clean exit),
// and a heap profile (what was allocated where, and what is still in use) to the file named by
// KSEF_SYNC_MEMPROFILE at that moment. For developers measuring the daemon from the outside
// (benchmarks run it as a separate process); unset, they do nothing.
func startCPUProfile(getenv func(string) string) func() {
	heap := writeHeapProfile(getenv("KSEF_SYNC_MEMPROFILE"))
	path := getenv("KSEF_SYNC_CPUPROFILE")
	if path == "" {
		return heap
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
		heap()
	}
}

// writeHeapProfile returns the function that writes the heap profile to path ("" : nothing).
func writeHeapProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	return func() {
		f, err := os.Create(path)
		if err == nil {
			err = errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "KSEF_SYNC_MEMPROFILE: %v\n", err)
		}
	}
}
