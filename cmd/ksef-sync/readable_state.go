package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/pull"
)

// The readable copies (PDF) are rendered from an in-memory queue, after the outputs exist. A
// process killed before rendering them (kill -9, a power cut, a one-shot pull stopped while it
// writes its copies) must not leave those invoices without copies for ever. The queue says up to
// when everything handed to it is rendered (readable.Queue.Settled); that moment is kept in the
// journal's meta table, and the next process, daemon or one-shot, asks the journal for the
// invoices accepted or delivered since then and renders the copies still missing.
//
// Why a watermark rather than a "copy pending" mark per invoice or "the last N days": it costs
// nothing per invoice (no extra journal write on the send and pull paths, which issue 15 keeps
// lean), it is exact however long the process stayed down, and the work at start-up is bounded by
// what was queued when the process died, plus a stat per invoice recorded since.

const readableSettledKey = "readable_settled"

// readableSettledEvery is how often the moment is saved while it moves. Losing the last save only
// makes the next start look a little further back: the saved moment never runs ahead of the copies.
const readableSettledEvery = time.Second

// readableRecordSlack reaches back before the saved moment: an accepted invoice is recorded done
// just before its copies are queued, so its journal time may precede its job's.
const readableRecordSlack = 10 * time.Minute

// startReadableState queues the copies a killed predecessor did not render, then saves the queue's
// settled moment now (before any new job: a crash from now on finds them all after it) and
// whenever it moves, until the deps are closed (stopReadableState).
func startReadableState(ctx context.Context, d *deps) {
	if d.journal == nil {
		return
	}
	if d.readable == nil {
		// Rendering is off: nothing is owed from now on, so turning it on later does not render
		// everything recorded while it was off.
		if err := d.journal.SetMeta(ctx, readableKey(d), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			d.log.Debug("could not save the rendering moment", "err", err)
		}
		return
	}
	log := d.log.With("component", "render")
	requeueReadable(ctx, d, log)
	q := d.readable
	startMetaSaver(ctx, d.journal, readableKey(d), readableSettledEvery,
		func() string { return q.Settled().UTC().Format(time.RFC3339Nano) }, log)
}

// stopReadableState saves the final moment; call it after the renderer stopped and before the
// journal is closed.
func stopReadableState(d *deps) { stopMetaSaver(d.journal, readableKey(d)) }

// readableKey is the meta key of d's settled moment: each company has its own renderer queue.
func readableKey(d *deps) string { return config.MetaKey(readableSettledKey, d.metaScope()) }

// requeueReadable hands the renderer the invoices recorded since the saved moment whose copies
// are missing. With nothing saved (the first start of this version) there is nothing to recover.
func requeueReadable(ctx context.Context, d *deps, log *slog.Logger) {
	v, ok, err := d.journal.Meta(ctx, readableKey(d))
	if err != nil || !ok {
		return
	}
	settled, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		log.Info("ignoring an unreadable saved rendering moment", "value", v)
		return
	}
	since := settled.Add(-readableRecordSlack)
	var sent, inbox int
	if d.cfg.Render.Enabled("sent") && d.engine != nil {
		if sent, err = d.engine.RequeueReadable(ctx, since); err != nil {
			log.Warn("cannot look for sent invoices whose readable copies are missing", "err", err)
		}
	}
	if d.cfg.Render.Enabled("inbox") {
		if inbox, err = pull.RequeueReadable(ctx, d.journal, d.cfg.KSeF.NIP, d.cfg.QRBaseURL(), since, d.readable); err != nil {
			log.Warn("cannot look for received invoices whose readable copies are missing", "err", err)
		}
	}
	if sent+inbox > 0 {
		log.Info("readable copies not written by an interrupted run are written now", "sent", sent, "inbox", inbox,
			"since", settled.Format(time.RFC3339))
	}
}
