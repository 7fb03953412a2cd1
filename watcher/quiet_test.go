package watcher

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestQuietAfterEverythingIsHandedOver: while a file settles the watcher is busy; once every file
// is handed over it is idle, and it remembers when the last file arrived.
func TestQuietAfterEverythingIsHandedOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		synctest.Wait()
		if idle, last := h.w.Quiet(); !idle || !last.IsZero() {
			t.Fatalf("empty outbox: idle %v, last arrival %v; want idle, none", idle, last)
		}
		arrived := time.Now()
		h.write("FV_1.xml", wholeInvoice)
		h.w.Rescan()
		synctest.Wait()
		if idle, last := h.w.Quiet(); idle || last.Before(arrived) {
			t.Fatalf("file settling: idle %v, last arrival %v; want busy, at %v or later", idle, last, arrived)
		}
		advance(settle + time.Millisecond)
		if got := h.reported(); len(got) != 1 {
			t.Fatalf("reported %v, want FV_1.xml", got)
		}
		idle, last := h.w.Quiet()
		if !idle || last.Before(arrived) || time.Since(last) < settle {
			t.Fatalf("after hand-over: idle %v, last arrival %v (%v ago); want idle, arrived a settle window ago", idle, last, time.Since(last))
		}
	})
}
