package watcher

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkListing measures one full listing of an outbox holding 10 000
// invoices that are known and unchanged (the steady state of a backlog).
func BenchmarkListing(b *testing.B) {
	const files = 10_000
	dir := b.TempDir()
	for i := range files {
		name := filepath.Join(dir, fmt.Sprintf("FV_%05d.xml", i))
		if err := os.WriteFile(name, []byte("<Faktura/>"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	w := newWatcher(b, Options{Dir: dir, DisableEvents: true, Settle: time.Nanosecond})
	l := newLoop(w)
	l.rescanTimer = time.NewTimer(time.Hour)
	l.checkTimer = time.NewTimer(time.Hour)
	defer l.close()
	l.list()
	if len(l.entries) != files {
		b.Fatalf("listed %d files, want %d", len(l.entries), files)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l.list()
		l.queue = l.queue[:0] // the consumer takes everything each cycle
		for _, e := range l.entries {
			e.inQueue = false
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/files, "ns/file")
}
