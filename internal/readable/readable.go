// Package readable writes the readable copies of invoices (PDF, HTML) next to the files the ERP
// reads, in the background. It is the daemon's one rendering room: the send engine hands over each
// invoice after its .ksef.json is written, the pull after each delivered invoice; neither waits.
// A rendering failure is logged and counted, never retried into a loop and never blocking sending
// or pulling: the XML and .ksef.json are the contract, the copies are a convenience.
package readable

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/render"
)

// Job is one invoice to render. Paths, not bytes, so a long queue costs little memory.
type Job struct {
	InvoicePath string // the registered (sent) or delivered (inbox) XML
	UPOPath     string // sent only: the invoice's UPO, rendered to <stem>.upo.pdf
	Dir, Stem   string // outputs go to Dir/Stem.pdf, Dir/Stem.upo.pdf, …
	KsefNumber  string
	QRCodeI     string // KOD I link, drawn with the KSeF number as its label
	QRCodeII    string // KOD II link for offline invoices, when an Offline certificate is configured
	// Queued is when the invoice's copies became due: Add sets it to now when zero; start-up
	// recovery passes the time the journal recorded the invoice, so Settled stays before it until
	// the copies exist.
	Queued time.Time
}

// Queue renders jobs in the daemon one at a time on one goroutine (Run), so rendering never takes
// more than one core from sending and pulling; one-shot commands, whose user waits for the copies,
// render on every core (Boost, Drain).
type Queue struct {
	formats []render.Format
	lang    render.Lang
	log     *slog.Logger

	mu       sync.Mutex
	jobs     []Job
	failures int
	lastErr  string
	wake     chan struct{}
	// inFlight counts the jobs being rendered by their Queued time; newest is the latest Queued
	// time seen (the queue's creation time at first), what Settled says while nothing is due.
	inFlight map[time.Time]int
	newest   time.Time
}

// New returns a queue rendering into formats with labels in lang. With no formats it drops every
// job: rendering is off.
func New(formats []render.Format, lang render.Lang, log *slog.Logger) *Queue {
	return &Queue{formats: formats, lang: lang, log: log.With("component", "render"), wake: make(chan struct{}, 1),
		inFlight: map[time.Time]int{}, newest: time.Now()}
}

// Add queues a job and returns at once.
func (q *Queue) Add(j Job) {
	if q == nil || len(q.formats) == 0 {
		return
	}
	if j.Queued.IsZero() {
		j.Queued = time.Now()
	}
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	if j.Queued.After(q.newest) {
		q.newest = j.Queued
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Pending is how many jobs wait to be rendered.
func (q *Queue) Pending() int {
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.jobs)
}

// Failures is how many jobs failed since start, and the last failure's message (for status).
func (q *Queue) Failures() (int, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures, q.lastErr
}

// Run renders queued jobs until ctx ends; jobs still queued then are left (the XML outputs exist;
// `ksef-sync render` can make their copies by hand).
func (q *Queue) Run(ctx context.Context) { q.work(ctx, true) }

// putBack returns a job taken but not rendered to the head of the queue.
func (q *Queue) putBack(j Job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight[j.Queued]--; q.inFlight[j.Queued] <= 0 {
		delete(q.inFlight, j.Queued)
	}
	q.jobs = append([]Job{j}, q.jobs...)
}

// Drain renders every queued job now and returns when the queue is empty (one-shot commands:
// `send`, `pull`). Their XML work is finished by then and nothing else competes for the CPU, so
// Drain renders on every core: a one-shot pull of 10,000 invoices waits half as long for its PDFs
// on two cores as with the daemon's single background worker.
func (q *Queue) Drain(ctx context.Context) {
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() { q.work(ctx, false) })
	}
	wg.Wait()
}

// Boost renders on every core until the returned stop runs: GOMAXPROCS-1 workers beside Run's
// one. For a one-shot command (`pull`), whose user waits for the copies anyway: rendering the
// first invoices while the rest are still downloaded keeps both cores busy instead of leaving all
// the rendering for Drain. stop waits until the extra workers have committed what they staged
// and returned; jobs still queued stay for Run or Drain.
func (q *Queue) Boost(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) - 1 {
		wg.Go(func() { q.work(ctx, true) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// A worker stages its copies in an atomicfile.Batch and commits them (one syncfs and one
// directory flush for the lot instead of two fsyncs per copy) when the oldest staged job has
// waited chunkAge, when chunkMax jobs are staged, and whenever the queue is empty, so a lone
// invoice's copy is not held back. The first two commits run in the background while the worker
// renders the next batch (one at a time per worker): a syncfs flushes the whole file system and
// waits for the disk (26 ms on average, up to 99 ms, on the reference VM, longer for bigger
// batches), and a 10,000-invoice pull committing every 64 jobs in line spent 4.2 s of its
// workers' time waiting in 159 of them. chunkMax bounds the files staged at once (a Batch keeps
// them open where the flush needs them, outside Linux) and the copies a crash would leave to
// render again.
const (
	chunkMax = 256
	chunkAge = time.Second
)

// work renders jobs, staging their copies in a batch committed as the constants above say; then
// it waits for more (Run) or returns (Drain). A job leaves Settled's view only after its batch is
// committed.
func (q *Queue) work(ctx context.Context, wait bool) {
	var b atomicfile.Batch
	staged := make([]Job, 0, chunkMax)
	var failed map[int]bool    // jobs of the batch already counted as failed
	var first time.Time        // when the first staged job was taken
	var inflight chan struct{} // closed when the batch committing in the background is done
	settle := func() {
		if inflight != nil {
			<-inflight
			inflight = nil
		}
	}
	// commit hands the staged batch to a goroutine (after the previous one is done) and, with
	// block, waits for it: the worker renders on while the disk takes the batch.
	commit := func(block bool) {
		settle()
		if len(staged) > 0 {
			batch, jobs, fails := b, staged, failed
			b, staged, failed = atomicfile.Batch{}, make([]Job, 0, chunkMax), nil
			done := make(chan struct{})
			inflight = done
			go func() {
				defer close(done)
				q.commit(&batch, jobs, fails)
			}()
		}
		if block {
			settle()
		}
	}
	defer commit(true)
	for {
		j, ok := q.next()
		if !ok {
			commit(true)
			if !wait {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		if ctx.Err() != nil {
			q.putBack(j)
			return
		}
		if err := q.render(j, b.Write); err != nil {
			q.fail(j, err)
			if failed == nil {
				failed = map[int]bool{}
			}
			failed[len(staged)] = true
		}
		if len(staged) == 0 {
			first = time.Now()
		}
		if staged = append(staged, j); len(staged) == chunkMax || time.Since(first) >= chunkAge {
			commit(false)
		}
	}
}

// commit makes a worker's staged copies appear and durable, then lets Settled pass their jobs;
// failed marks the jobs already counted as failed.
func (q *Queue) commit(b *atomicfile.Batch, jobs []Job, failed map[int]bool) {
	if err := b.Commit(); err != nil {
		for i, j := range jobs {
			if !failed[i] {
				q.fail(j, err)
			}
		}
	}
	for _, j := range jobs {
		q.done(j)
	}
}

func (q *Queue) next() (Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return Job{}, false
	}
	j := q.jobs[0]
	q.jobs[0] = Job{}
	q.jobs = q.jobs[1:]
	q.inFlight[j.Queued]++
	return j, true
}

// done forgets a job whose copies are durable (or failed for good), so Settled may pass it.
func (q *Queue) done(j Job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight[j.Queued]--; q.inFlight[j.Queued] <= 0 {
		delete(q.inFlight, j.Queued)
	}
}

// Settled is a time before which every invoice handed to the queue has its copies (or failed
// for good): the oldest Queued time of the jobs waiting or being rendered, or, with none, the
// newest one seen. A process killed with jobs waiting loses them; the next one asks the journal
// for the invoices recorded since the Settled its predecessor saved and renders what is missing.
func (q *Queue) Settled() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	settled := q.newest
	for t := range q.inFlight {
		if t.Before(settled) {
			settled = t
		}
	}
	for i := range q.jobs {
		if q.jobs[i].Queued.Before(settled) {
			settled = q.jobs[i].Queued
		}
	}
	return settled
}

// Missing reports whether j's invoice is still there and a copy the queue would write for it
// does not exist (j.UPOPath set: the UPO's copies count too). An invoice the ERP has taken away
// owes nothing; with rendering off nothing is missing.
func (q *Queue) Missing(j Job) bool {
	if q == nil {
		return false
	}
	if _, err := os.Stat(j.InvoicePath); err != nil {
		return false
	}
	for _, f := range q.formats {
		suffixes := []string{"." + string(f)}
		if j.UPOPath != "" {
			suffixes = append(suffixes, ".upo."+string(f))
		}
		for _, suf := range suffixes {
			if _, err := os.Stat(filepath.Join(j.Dir, j.Stem+suf)); err != nil {
				return true
			}
		}
	}
	return false
}

func (q *Queue) fail(j Job, err error) {
	q.mu.Lock()
	q.failures++
	q.lastErr = fmt.Sprintf("%s: %v", j.Stem, err)
	q.mu.Unlock()
	q.log.Warn("readable copy not written; sending and pulling go on", "file", j.Stem, "ksef_number", j.KsefNumber, "err", err)
}

// render stages every copy of one job with write (a Batch's Write; its Commit makes them appear).
// Files are written atomically; a crash leaves either the whole copy or none, and rendering again
// writes identical bytes.
func (q *Queue) render(j Job, write func(path string, data []byte, perm os.FileMode) error) error {
	inv, err := os.ReadFile(j.InvoicePath)
	if err != nil {
		return err
	}
	var upo []byte
	if j.UPOPath != "" {
		if upo, err = os.ReadFile(j.UPOPath); err != nil {
			return err
		}
	}
	files, err := render.Outputs(inv, upo, q.formats, render.Options{Lang: q.lang, KsefNumber: j.KsefNumber, QRCodeI: j.QRCodeI, QRCodeII: j.QRCodeII})
	for _, f := range files {
		if werr := write(filepath.Join(j.Dir, j.Stem+f.Suffix), f.Data, 0o644); werr != nil {
			return werr
		}
	}
	return err
}
