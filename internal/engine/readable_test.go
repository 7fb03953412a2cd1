package engine

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/internal/render"
)

// TestRequeueReadableAfterALostQueue (issue 16's gap): the copies of an accepted invoice queued in
// a renderer that died with its process are found again through the journal by the next one and
// written, the invoice's and its UPO's; once they exist nothing is queued again.
func TestRequeueReadableAfterALostQueue(t *testing.T) {
	h := newHarness(t, SendSettings{})
	log := slog.New(slog.DiscardHandler)
	lost := readable.New([]render.Format{render.PDF}, render.Polish, log) // never runs: the process dies
	h.eng.SetReadable(lost)
	before := time.Now()
	done := h.settle(h.drop("FV_1.xml", invToday(1, "PDF")))
	if len(done) != 1 || lost.Pending() != 1 {
		t.Fatalf("done %d, queued %d; want 1 and 1", len(done), lost.Pending())
	}
	pdf := filepath.Join(h.folders.Sent, done[0].OutputStem+".pdf")
	if _, err := os.Stat(pdf); !os.IsNotExist(err) {
		t.Fatalf("a PDF exists before rendering: %v", err)
	}

	next := readable.New([]render.Format{render.PDF}, render.Polish, log)
	h.eng.SetReadable(next)
	if n, err := h.eng.RequeueReadable(h.ctx, before); err != nil || n != 1 {
		t.Fatalf("RequeueReadable = %d, %v; want 1", n, err)
	}
	if got := next.Settled(); got.After(done[0].UpdatedAt) {
		t.Errorf("Settled %v after the recovered invoice's time %v", got, done[0].UpdatedAt)
	}
	next.Drain(h.ctx)
	for _, p := range []string{pdf, filepath.Join(h.folders.Sent, done[0].OutputStem+".upo.pdf")} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", filepath.Base(p), err)
		}
	}
	if n, err := h.eng.RequeueReadable(h.ctx, before); err != nil || n != 0 {
		t.Errorf("RequeueReadable with the copies there = %d, %v; want 0", n, err)
	}
}
