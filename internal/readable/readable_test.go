package readable

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/render"
	"github.com/ksef-sync/ksef-sync/internal/samples"
)

func TestQueueWritesCopiesAndSurvivesBadInput(t *testing.T) {
	dir := t.TempDir()
	good := writeSampleInvoice(t, dir, "FV_1.xml")
	bad := filepath.Join(dir, "FV_2.xml")
	if err := os.WriteFile(bad, []byte("<not-an-invoice/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	q := New([]render.Format{render.PDF, render.HTML}, render.Polish, slog.New(slog.DiscardHandler))
	q.Add(Job{InvoicePath: bad, Dir: dir, Stem: "FV_2"})
	q.Add(Job{InvoicePath: good, Dir: dir, Stem: "FV_1", KsefNumber: "5265877635-20261202-0100001AF629-AF", QRCodeI: "https://qr-test.ksef.mf.gov.pl/invoice/5265877635/02-12-2026/abc"})
	q.Drain(context.Background())
	for _, name := range []string{"FV_1.pdf", "FV_1.html"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	if n, last := q.Failures(); n != 1 || last == "" {
		t.Errorf("failures = %d %q, want the bad invoice counted once", n, last)
	}
	if _, err := os.Stat(filepath.Join(dir, "FV_2.pdf")); !os.IsNotExist(err) {
		t.Errorf("a copy of the bad invoice exists: %v", err)
	}
}

func TestRenderingOffDropsJobs(t *testing.T) {
	q := New(nil, render.Polish, slog.New(slog.DiscardHandler))
	q.Add(Job{InvoicePath: "/nonexistent", Stem: "x"})
	q.Drain(context.Background())
	if n, _ := q.Failures(); n != 0 {
		t.Errorf("rendering off still rendered: %d failures", n)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	q := New([]render.Format{render.PDF}, render.Polish, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	cancel()
	<-done
}

// Drain renders on every core; the renderer's shared state (fonts, QR encoder) must take that.
func TestDrainRendersManyJobsInParallel(t *testing.T) {
	dir := t.TempDir()
	q := New([]render.Format{render.PDF}, render.Polish, slog.New(slog.DiscardHandler))
	const jobs = 12
	for i := range jobs {
		path := filepath.Join(dir, fmt.Sprintf("FV_%d.xml", i))
		if err := os.WriteFile(path, samples.Invoice(i, "5265877635", time.Now(), fmt.Sprintf("FV/%d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		q.Add(Job{InvoicePath: path, Dir: dir, Stem: fmt.Sprintf("FV_%d", i), KsefNumber: "5265877635-20261202-0100001AF629-AF"})
	}
	q.Drain(context.Background())
	for i := range jobs {
		if st, err := os.Stat(filepath.Join(dir, fmt.Sprintf("FV_%d.pdf", i))); err != nil || st.Size() == 0 {
			t.Errorf("FV_%d.pdf not written: %v", i, err)
		}
	}
	if n, last := q.Failures(); n != 0 {
		t.Errorf("%d failures, last %s", n, last)
	}
}

// TestSettledAndMissing: Settled stays at the oldest job not rendered yet (a recovered job keeps
// its older time) and moves to the newest one seen once all are rendered; Missing sees a copy
// that does not exist, and nothing for an invoice that is gone.
func TestSettledAndMissing(t *testing.T) {
	dir := t.TempDir()
	path := writeSampleInvoice(t, dir, "FV_1.xml")
	q := New([]render.Format{render.PDF}, render.Polish, slog.New(slog.DiscardHandler))
	created := q.Settled()
	job := Job{InvoicePath: path, Dir: dir, Stem: "FV_1"}
	if !q.Missing(job) {
		t.Fatal("no PDF yet, but nothing missing")
	}
	if q.Missing(Job{InvoicePath: filepath.Join(dir, "gone.xml"), Dir: dir, Stem: "gone"}) {
		t.Error("an invoice taken away owes a copy")
	}
	old := created.Add(-time.Hour)
	q.Add(job)
	recovered := job
	recovered.Queued = old
	q.Add(recovered)
	if got := q.Settled(); !got.Equal(old) {
		t.Errorf("Settled with a recovered job waiting = %v, want its time %v", got, old)
	}
	q.Drain(context.Background())
	if got := q.Settled(); got.Before(created) {
		t.Errorf("Settled after rendering everything = %v, want the newest job's time (not before %v)", got, created)
	}
	if q.Missing(job) {
		t.Error("PDF rendered, yet missing")
	}
}

// TestSettledPassesOnlyWrittenCopies: while jobs arrive and Run and Boost's workers render them,
// committing in the background, Settled never passes a job whose copy does not exist yet; more
// jobs than one batch holds, so batches are committed by count as well as when the queue runs
// dry. After Drain every copy exists.
func TestSettledPassesOnlyWrittenCopies(t *testing.T) {
	dir := t.TempDir()
	inv := writeSampleInvoice(t, dir, "FV.xml")
	q := New([]render.Format{render.PDF}, render.Polish, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	stop := q.Boost(ctx)
	base := q.Settled()
	jobs := make([]Job, chunkMax+20)
	for i := range jobs {
		jobs[i] = Job{InvoicePath: inv, Dir: dir, Stem: fmt.Sprintf("FV_%d", i), Queued: base.Add(time.Duration(i+1) * time.Millisecond)}
	}
	checked := make(chan int)
	go func() {
		n := 0
		for s := q.Settled(); !s.Equal(jobs[len(jobs)-1].Queued); s = q.Settled() {
			for _, j := range jobs {
				if !j.Queued.Before(s) {
					break
				}
				if _, err := os.Stat(filepath.Join(dir, j.Stem+".pdf")); err != nil {
					t.Errorf("Settled %v passed %s, whose copy is not there: %v", s, j.Stem, err)
					break
				}
			}
			n++
		}
		checked <- n
	}()
	for _, j := range jobs {
		q.Add(j)
	}
	stop()
	q.Drain(context.Background())
	t.Logf("Settled checked %d times", <-checked)
	for _, j := range jobs {
		if _, err := os.Stat(filepath.Join(dir, j.Stem+".pdf")); err != nil {
			t.Errorf("%s.pdf not written: %v", j.Stem, err)
		}
	}
}

// writeSampleInvoice writes a valid sample invoice as dir/name and returns its path.
func writeSampleInvoice(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, samples.Invoice(0, "5265877635", time.Now(), "FV/1"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
