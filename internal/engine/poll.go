package engine

import (
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// firstPoll is how soon KSeF is first asked again about a session right after a send; the wait
// then doubles with the age of the youngest invoice until it reaches the poll interval.
const firstPoll = 100 * time.Millisecond

// fastPollsPerHour is the part of the status budget that early polls may use: half of our share
// of invoiceStatus (1,200 an hour in production). The other half, and the slow polls beyond it,
// stay for the regular pace; when early polls are used up, sessions are asked every poll interval
// as before. Batch sessions' status (sessionMisc, also 1,200 an hour) is counted here too.
var fastPollsPerHour = ksef.OurShare(1200) / 2

// batchPollFraction sets how often a young batch session is asked about: every eighth of its age.
// KSeF takes seconds to minutes over a batch, growing with its size; asking at a fixed fraction of
// the time waited so far finds the end at most an eighth late (a 10,000 burst: about 0.5 s instead
// of up to a whole poll interval), for about 25 status requests over its first 16 s.
const batchPollFraction = 8

// adaptivePollDelay is how long to wait before asking KSeF again about a session's submitted
// invoices: early and often right after a send (100 ms, 200 ms, 400 ms, … as the youngest invoice
// ages; a batch session every batchPollFraction-th of its age), then every poll interval, then
// less often for invoices KSeF keeps waiting on (pollDelay). Only polls that cost one request per
// invoice or per session are made early; a paged invoice list (200 an hour) always keeps the
// regular pace.
func (e *Engine) adaptivePollDelay(now time.Time, w spool.Waiting) time.Duration {
	poll := e.opt.Send.PollInterval
	early := youngestAge(now, w)
	if w.Mode == "batch" {
		early /= batchPollFraction
	}
	cost := pollCost(w)
	if early >= poll || cost == 0 || e.fastPolls.available(now) < cost {
		return pollDelay(now, w, poll)
	}
	for range cost {
		e.fastPolls.add(now)
	}
	return min(max(early, firstPoll), poll)
}

// pollCost is how many requests one poll of the session makes, 0 when it pages the invoice list.
func pollCost(w spool.Waiting) int {
	switch {
	case w.Mode == "batch":
		return 1 // the session status; the list is read once, when KSeF has finished
	case w.Count <= perInvoiceStatusMax:
		return w.Count
	}
	return 0
}

// youngestAge is how long ago the session's youngest invoice was handed over.
func youngestAge(now time.Time, w spool.Waiting) time.Duration {
	return max(now.Sub(w.Newest), 0)
}

// untilWake is how long until the soonest session is due to be asked about or gathered invoices
// are due to go, if that is sooner than the poll interval: the main loop wakes for it instead of
// waiting for its ticker.
func (e *Engine) untilWake(now time.Time) (time.Duration, bool) {
	soonest := e.opt.Send.PollInterval
	for _, at := range e.nextPoll {
		soonest = min(soonest, at.Sub(now))
	}
	if !e.gatherDue.IsZero() {
		soonest = min(soonest, e.gatherDue.Sub(now))
	}
	// A session already due (its confirm failed before asking) is looked at again shortly, not in a spin.
	return max(soonest, 20*time.Millisecond), soonest < e.opt.Send.PollInterval
}
