package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool/spooltest"
)

// TestPacerStateKeptInJournal: what one process's client sent is restored into the next process's
// client through the real journal, so back-to-back runs share one budget.
func TestPacerStateKeptInJournal(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	sent := ksef.PacerState{
		ksef.GroupInvoiceExport:  {now.Add(-50 * time.Minute), now.Add(-2 * time.Second)},
		"other|GET /rate-limits": {now.Add(-time.Second)},
	}
	run := func(fn func(d *deps)) {
		j := spooltest.Open(t, dir)
		c, err := ksef.New(ksef.Options{BaseURL: "http://127.0.0.1:1/v2"})
		if err != nil {
			t.Fatal(err)
		}
		d := &deps{log: slog.New(slog.DiscardHandler), client: c, journal: j}
		startPacerState(ctx, d)
		fn(d)
		d.close()
	}
	run(func(d *deps) { d.client.RestorePacerState(sent) }) // as if these requests were made
	var got ksef.PacerState
	run(func(d *deps) { got = d.client.PacerState() })
	// The per-IP groups' history is shared by every client of the process, so tests that ran just
	// before (logins) may have left their own requests in it: compare the groups this test sent.
	for key := range got {
		if _, ok := sent[key]; !ok {
			delete(got, key)
		}
	}
	if diff := cmp.Diff(sent, got); diff != "" {
		t.Fatalf("restored history (-sent +got):\n%s", diff)
	}
}
