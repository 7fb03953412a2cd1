package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// The client's pacer history is kept in the journal's meta table, as the hourly export budget is,
// so that back-to-back `ksef-sync pull` or `send` runs, or a restarted daemon, never burst into a
// 429 (issue 11 item 7): the new process knows what the last one sent in the last hour.

const pacerStateKey = "ksef_pacer_state"

// pacerStateEvery is how often a running process saves its pacer history when it changed (besides
// at exit). A process killed with -9 loses at most this much of it, and the next one must not
// burst into KSeF's window on its account: half a second, not five (TestPullKill9 saw a 429 with
// five). Unchanged history is not written again, so an idle process writes nothing.
const pacerStateEvery = 500 * time.Millisecond

// pacerStateWire is the saved form: per counter key, Unix milliseconds.
type pacerStateWire map[string][]int64

// startPacerState restores the saved pacer history into d's client and saves it every
// pacerStateEvery until the deps are closed (stopPacerState) or ctx ends. With many companies in
// one journal the key carries the company's scope and the per-IP counters (auth) are left out,
// or each company would restore the shared counters once more.
func startPacerState(ctx context.Context, d *deps) {
	if d.journal == nil || d.client == nil {
		return
	}
	log := d.log.With("component", "pacer-state")
	key := config.MetaKey(pacerStateKey, d.metaScope())
	ownOnly := d.metaScope() != ""
	loadPacerState(ctx, d.journal, key, d.client, log)
	startMetaSaver(ctx, d.journal, key, pacerStateEvery, pacerStateWhenNew(d.client, ownOnly), log)
}

// pacerStateWhenNew is pacerStateValue built again only when the pacer recorded a send since the
// last call: an idle company's saver (every pacerStateEvery, 400 companies in an office) costs a
// counter read instead of its history in JSON. The saver calls it from one goroutine at a time.
func pacerStateWhenNew(c *ksef.Client, ownOnly bool) func() string {
	var seen uint64
	var value string
	built := false
	return func() string {
		if n := c.PacerRecorded(); !built || n != seen {
			seen, value, built = n, pacerStateValue(c, ownOnly), true
		}
		return value
	}
}

// stopPacerState stops saving d's pacer history and saves it a last time; call it before the
// journal is closed.
func stopPacerState(d *deps) {
	stopMetaSaver(d.journal, config.MetaKey(pacerStateKey, d.metaScope()))
}

// pacerStateValue is the saved form of c's pacer history.
func pacerStateValue(c *ksef.Client, ownOnly bool) string {
	wire := pacerStateWire{}
	for key, events := range c.PacerState() {
		if ownOnly && key == ksef.GroupAuth {
			continue
		}
		ms := make([]int64, len(events))
		for i, e := range events {
			ms[i] = e.UnixMilli()
		}
		wire[key] = ms
	}
	b, err := json.Marshal(wire)
	if err != nil {
		return ""
	}
	return string(b)
}

// loadPacerState restores what an earlier process saved. A missing or unreadable value only means
// the pacer starts empty, as it always did.
func loadPacerState(ctx context.Context, j *spool.Journal, key string, c *ksef.Client, log *slog.Logger) {
	v, ok, err := j.Meta(ctx, key)
	if err != nil || !ok {
		return
	}
	var wire pacerStateWire
	if err := json.Unmarshal([]byte(v), &wire); err != nil {
		log.Info("ignoring an unreadable saved rate-limit history", "err", err)
		return
	}
	st := ksef.PacerState{}
	n := 0
	for key, ms := range wire {
		for _, m := range ms {
			st[key] = append(st[key], time.UnixMilli(m))
		}
		n += len(ms)
	}
	c.RestorePacerState(st)
	log.Debug("rate-limit history restored", "requests", n)
}

// metaScope is the scope of d's journal meta keys: its company's, or none without a config.
func (d *deps) metaScope() string {
	if d.cfg == nil {
		return ""
	}
	return d.cfg.MetaScope()
}
