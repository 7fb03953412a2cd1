package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// startCPUProfile writes a CPU profile of the whole process to the file named by the hidden
// environment variable KSEF_SYNC_CPUPROFILE until the returned function runs (at a clean exit),
// and a heap profile (what was allocated where, and what is still in use) to the file named by
// KSEF_SYNC_MEMPROFILE at that moment. For developers measuring the daemon from the outside
// (benchmarks run it as a separate process); unset, they do nothing. KSEF_SYNC_PEAKHEAP names a
// file that holds, at any moment, the heap profile taken when the live heap was largest so far
// (peakHeapProfile): what peak RSS is made of.
func startCPUProfile(getenv func(string) string) func() {
	peakHeapProfile(getenv("KSEF_SYNC_PEAKHEAP"))
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

// peakHeapProfile rewrites path with a heap profile (what was live at the last collection)
// whenever the heap in use has grown a tenth past the largest seen, checking every 100 ms. A
// developer's tool: reading the statistics stops the world briefly, so it stays off unless path
// is set.
func peakHeapProfile(path string) {
	if path == "" {
		return
	}
	go func() {
		var peak uint64
		for range time.Tick(100 * time.Millisecond) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= peak+peak/10 {
				continue
			}
			peak = ms.HeapInuse
			f, err := os.Create(path)
			if err == nil {
				err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "KSEF_SYNC_PEAKHEAP: %v\n", err)
				return
			}
		}
	}()
}
