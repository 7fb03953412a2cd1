package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestLoneInvoiceTakesTheFastPath runs the real binary with the default configuration against a
// simulator that answers at once. A lone invoice renamed into the outbox must take the fast path
// end to end: ready by its rename (not after the 2 s settle window), sent without the 2 s gather
// window, and its .ksef.json written. The test asserts which path was taken, from the daemon's log,
// not how long it took (BenchmarkOnlineLatency measures that).
func TestLoneInvoiceTakesTheFastPath(t *testing.T) {
	e := newE2E(t, ksefsim.Options{ProcessingDelay: 0}, defaultConfig)
	// A file that is not an invoice, there before the start: once it is in error/ the start-up
	// listing has run, so the watches are in place. It is never sent, so the invoice after it
	// arrives in a quiet period.
	writeFile(t, filepath.Join(e.outbox, "not-an-invoice.xml"), []byte("<Zamowienie/>"))
	_, log := startLoggedDaemon(t, e.cfgPath)
	eventually(t, "the non-invoice in error/", time.Minute, func() bool {
		return len(glob(t, e.errDir, "not-an-invoice.error.json")) == 1
	})

	e.drop("FV_LONE.xml", invoice(1, "LONE"))
	eventually(t, "FV_LONE.ksef.json", time.Minute, func() bool {
		return len(glob(t, e.sent, "FV_LONE.ksef.json")) == 1
	})
	if hasLine(log(), `msg="file events unavailable; discovering by periodic listing only"`) {
		// The kernel refused an inotify instance (fs.inotify.max_user_instances, shared by every
		// process of the user: make test failed so once on a machine shared by 7 agents). The
		// daemon fell back to listing, as documented, and sent the invoice; the fast path needs
		// the events and cannot be shown here.
		t.Skip("inotify unavailable on this machine (instance limit reached): the fast path cannot be observed")
	}
	for _, want := range [][]string{
		{`msg="file ready"`, `file=FV_LONE.xml`, `ready_by=rename`},
		{`msg="lone invoice after a quiet period; sending at once, without the gather window"`, `file=FV_LONE.xml`},
	} {
		if !hasLine(log(), want...) {
			t.Errorf("daemon log has no line with %q", want)
		}
	}
	if got := e.sentRecords()["FV_LONE"]; got.Mode != "online" {
		t.Errorf("mode %q, want online", got.Mode)
	}
	e.assertSimClean()
}

// hasLine reports whether one line of log contains every part.
func hasLine(log string, parts ...string) bool {
	for line := range strings.Lines(log) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
