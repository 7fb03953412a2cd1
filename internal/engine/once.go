package engine

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
	"github.com/ksef-sync/ksef-sync/watcher"
)

// PassResult summarises a one-pass send.
type PassResult struct {
	Accepted, Rejected, Pending int
}

// SendOnce takes everything now in the outbox (waiting for files still being written to settle),
// sends it, and waits until every invoice of this pass — and any left unfinished by an earlier run —
// is final and its outputs are written, or until ctx ends.
func (e *Engine) SendOnce(ctx context.Context, w *watcher.Watcher, present []watcher.File) (PassResult, error) {
	if c := e.copiedJournal(); c != nil {
		return PassResult{}, c
	}
	if err := e.Recover(ctx); err != nil {
		return PassResult{}, err
	}
	ids, err := e.unfinished(ctx)
	if err != nil {
		return PassResult{}, err
	}
	ids = append(ids, e.claimPresent(ctx, w, present)...)
	if err := e.validateClaimed(ctx); err != nil {
		e.log.Warn("validation incomplete", "err", err)
	}
	for {
		if err := e.Step(ctx, true); err != nil && ctx.Err() == nil {
			if errors.Is(err, ErrCredentials) || errors.Is(err, ErrSessionKeyRefused) {
				res, _ := e.tally(context.WithoutCancel(ctx), ids)
				return res, err // nothing will be sent until the credentials are fixed or the pause ends
			}
			e.log.Warn("send step failed; will retry", "err", err)
		}
		res, err := e.tally(context.WithoutCancel(ctx), ids)
		if err != nil || res.Pending == 0 || ctx.Err() != nil {
			return res, err
		}
		if err := (ksef.WallClock{}).Sleep(ctx, e.opt.Send.PollInterval); err != nil {
			return e.tally(context.WithoutCancel(ctx), ids)
		}
	}
}

// claimPresent waits (within ctx) for each file present at start to hold still, and claims it.
func (e *Engine) claimPresent(ctx context.Context, w *watcher.Watcher, present []watcher.File) []int64 {
	if len(present) == 0 {
		return nil
	}
	want := make(map[string]bool, len(present))
	for _, f := range present {
		want[f.Path] = true
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // the watcher has stopped before this returns
	defer cancel()
	files := make(chan watcher.File, 1024)
	wg.Go(func() { _ = w.Run(wctx, files) })
	var ids []int64
	// A file can leave the outbox without the watcher reporting it: the claim an earlier, killed
	// process had started finishes at recovery and removes it. Waiting for it would block the pass.
	gone := time.NewTicker(time.Second)
	defer gone.Stop()
	for len(want) > 0 {
		select {
		case <-ctx.Done():
			e.log.Warn("files still being written were left in the outbox", "count", len(want))
			return ids
		case <-gone.C:
			for p := range want {
				if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
					delete(want, p)
				}
			}
		case f := <-files:
			var mine []watcher.File
			for _, g := range e.unchanged(e.drainFiles(files, f)) {
				if want[g.Path] {
					delete(want, g.Path) // a file still growing stays wanted until it holds still
					mine = append(mine, g)
				}
			}
			ids = append(ids, e.ClaimOutbox(ctx, mine)...)
		}
	}
	return ids
}

func (e *Engine) unfinished(ctx context.Context) ([]int64, error) {
	invs, err := e.loopJ.ByState(ctx, e.opt.NIP, spool.StateClaimed, spool.StateReady, spool.StateSending,
		spool.StateSubmitted, spool.StateAccepted, spool.StateRejected)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(invs))
	for i := range invs {
		ids[i] = invs[i].ID
	}
	return ids, nil
}

func (e *Engine) tally(ctx context.Context, ids []int64) (PassResult, error) {
	var r PassResult
	for _, id := range ids {
		inv, err := e.loopJ.Get(ctx, id)
		if err != nil {
			return r, err
		}
		switch {
		case inv.State != spool.StateDone:
			r.Pending++
		case inv.Outcome == "accepted":
			r.Accepted++
		default:
			r.Rejected++
		}
	}
	return r, nil
}
