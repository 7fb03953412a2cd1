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
}

// Queue renders jobs one at a time on one goroutine, so rendering never takes more than one core
// from sending and pulling.
type Queue struct {
	formats []render.Format
	lang    render.Lang
	log     *slog.Logger

	mu       sync.Mutex
	jobs     []Job
	failures int
	lastErr  string
	wake     chan struct{}
}

// New returns a queue rendering into formats with labels in lang. With no formats it drops every
// job: rendering is off.
func New(formats []render.Format, lang render.Lang, log *slog.Logger) *Queue {
	return &Queue{formats: formats, lang: lang, log: log.With("component", "render"), wake: make(chan struct{}, 1)}
}

// Add queues a job and returns at once.
func (q *Queue) Add(j Job) {
	if q == nil || len(q.formats) == 0 {
		return
	}
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
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
func (q *Queue) Run(ctx context.Context) {
	for {
		j, ok := q.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err := q.render(j); err != nil {
			q.fail(j, err)
		}
	}
}

// Drain renders every queued job now and returns when the queue is empty (one-shot commands:
// `send`, `pull`). Their XML work is finished by then and nothing else competes for the CPU, so
// Drain renders on every core: a one-shot pull of 10,000 invoices waits half as long for its PDFs
// on two cores as with the daemon's single background worker.
func (q *Queue) Drain(ctx context.Context) {
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() { q.drainOne(ctx) })
	}
	wg.Wait()
}

func (q *Queue) drainOne(ctx context.Context) {
	for ctx.Err() == nil {
		j, ok := q.next()
		if !ok {
			return
		}
		if err := q.render(j); err != nil {
			q.fail(j, err)
		}
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
	return j, true
}

func (q *Queue) fail(j Job, err error) {
	q.mu.Lock()
	q.failures++
	q.lastErr = fmt.Sprintf("%s: %v", j.Stem, err)
	q.mu.Unlock()
	q.log.Warn("readable copy not written; sending and pulling go on", "file", j.Stem, "ksef_number", j.KsefNumber, "err", err)
}

// render writes every copy of one job. Files are written atomically; a crash leaves either the
// whole copy or none, and rendering again writes identical bytes.
func (q *Queue) render(j Job) error {
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
		if werr := atomicfile.WriteFile(filepath.Join(j.Dir, j.Stem+f.Suffix), f.Data, 0o644); werr != nil {
			return werr
		}
	}
	return err
}
