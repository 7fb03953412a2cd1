package render

import "runtime"

// keep is a small free list of scratch objects that, unlike a sync.Pool, survives garbage
// collections. A PDF leaves some 360 KB of garbage, so the collector runs every few documents and
// each run emptied the sync.Pools: the next documents made their zlib writer (1 MB of tables) and
// buffers (about 200 KB) again from memory the runtime had just returned to the system, and paid
// the page faults and zeroing. keep holds at most one object a core, the most that render at once
// (readable runs one worker a core at the most), so what it keeps is bounded.
type keep[T any] struct {
	free  chan T
	fresh func() T
}

func newKeep[T any](fresh func() T) *keep[T] {
	return &keep[T]{free: make(chan T, runtime.GOMAXPROCS(0)), fresh: fresh}
}

// get returns a kept object, or a fresh one when none is free.
func (k *keep[T]) get() T {
	select {
	case v := <-k.free:
		return v
	default:
		return k.fresh()
	}
}

// put keeps v for the next get, or drops it when the list is full.
func (k *keep[T]) put(v T) {
	select {
	case k.free <- v:
	default:
	}
}
