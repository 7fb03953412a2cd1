package main

// While the daemon runs it holds the state folder's lock, so `send` and `pull` cannot open the
// journal for writing. Instead of refusing ("state folder is in use"), they work with the daemon:
//
//   - `send` lists the outbox, then follows the daemon's journal read-only until every file it saw
//     is final, and prints the same summary with the same exit code as when it sends alone;
//   - `pull` drops a request file into <state>/requests; the daemon runs one pull cycle for it
//     (never overlapping its scheduled cycles) and answers with a result file, which `pull` prints.
//
// Files in the state folder need no network protocol, no port and no credentials, and work the
// same on Windows and Linux.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/config"
	"github.com/ksef-sync/ksef-sync/internal/outboxclaim"
	"github.com/ksef-sync/ksef-sync/internal/pull"
	"github.com/ksef-sync/ksef-sync/spool"
)

// followEvery is how often `send` and `pull` look at the daemon's progress, and how often the
// daemon looks for requests.
const followEvery = 500 * time.Millisecond

// withDepsOrDaemon is withDeps, except that when a running daemon holds the state folder it calls
// withDaemon instead.
func withDepsOrDaemon(ctx context.Context, env *cliEnv, cfgPath string, alone func(d *deps) int, withDaemon func(cfg *config.Config, log *slog.Logger) int) int {
	cfg, code := loadConfig(env, cfgPath)
	if cfg == nil {
		return code
	}
	log, closeLog, err := newLogger(env, cfg)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer closeLog()
	d, err := openDeps(ctx, cfg, log)
	if errors.Is(err, spool.ErrLocked) && withDaemon != nil {
		return withDaemon(cfg, log)
	}
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer d.close()
	return alone(d)
}

// sendViaDaemon waits until the running daemon has finished every file that is in the outbox now.
func sendViaDaemon(ctx context.Context, env *cliEnv, cfg *config.Config, log *slog.Logger, timeout time.Duration) int {
	w, err := newWatcher(cfg, log)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	j, err := spool.OpenReadOnly(ctx, cfg.Folders.State)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	defer j.Close()
	// The follow point first, then the listing: a file claimed in between is still found.
	from, err := j.FollowFrom(ctx, cfg.KSeF.NIP)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	files, err := w.List()
	if err != nil {
		return fail(env, exitFatal, fmt.Errorf("list outbox %s: %w", cfg.Folders.Outbox, err))
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.Path
	}
	paths = append(paths, takenByDaemon(cfg, paths)...)
	open, err := newOpenInvoices(ctx, j, cfg.KSeF.NIP)
	if err != nil {
		return fail(env, exitFatal, err)
	}
	fmt.Fprintf(env.stderr, "ksef-sync: the daemon is running; waiting for it to finish the %d file(s) now in the outbox%s\n", len(paths), open.describe())
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := followFiles(tctx, j, cfg.KSeF.NIP, from, paths, open)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fail(env, exitFatal, err)
	}
	return reportSend(env, res, timeout)
}

// takenByDaemon lists, by their outbox paths, the files the daemon has renamed into its claim
// folder but may not have recorded yet (outboxclaim): listed after the outbox, so a file taken
// between the two listings is still followed. Paths already in seen are left out.
func takenByDaemon(cfg *config.Config, seen []string) []string {
	id, err := outboxclaim.ReadID(cfg.Folders.State)
	if err != nil || id == "" {
		return nil
	}
	c, err := outboxclaim.New(id, nil)
	if err != nil {
		return nil
	}
	taken, _ := c.Leftovers(cfg.Folders.Outbox)
	var out []string
	for _, p := range taken {
		if orig := outboxclaim.Original(p); !slices.Contains(seen, orig) {
			out = append(out, orig)
		}
	}
	return out
}

// sendTally is what `send` reports.
type sendTally struct{ Accepted, Rejected, Pending int }

// unfinishedStates are the states of an invoice the journal holds and that is not final yet; the
// same list engine.SendOnce waits for when `send` runs alone.
var unfinishedStates = []spool.State{spool.StateClaimed, spool.StateReady, spool.StateSending,
	spool.StateSubmitted, spool.StateAccepted, spool.StateRejected}

// openInvoices are the company's invoices that were in the journal, not final, when `send` started.
// `send` alone waits for them too (engine.SendOnce: "and any left unfinished by an earlier run"),
// so with a daemon it must as well: an ERP hook's file the daemon claimed in the milliseconds
// before `send` listed the outbox, and invoices waiting for a company's credentials to be fixed,
// are otherwise reported as nothing to do (exit 0) while they are still on their way.
type openInvoices struct {
	ids  []int64
	done map[int64]string // id -> outcome, learnt once each as it becomes final
}

func newOpenInvoices(ctx context.Context, j *spool.Journal, nip string) (*openInvoices, error) {
	recs, err := j.ByState(ctx, nip, unfinishedStates...)
	if err != nil {
		return nil, err
	}
	o := &openInvoices{done: map[int64]string{}}
	for _, r := range recs {
		o.ids = append(o.ids, r.ID)
	}
	return o, nil
}

func (o *openInvoices) describe() string {
	if len(o.ids) == 0 {
		return ""
	}
	return fmt.Sprintf(" and the %d invoice(s) it has not finished yet", len(o.ids))
}

// has says whether id is one of the invoices this tally counts by id.
func (o *openInvoices) has(id int64) bool {
	_, found := slices.BinarySearch(o.ids, id) // ByState returns them in id order
	return found
}

// tally reads which of the invoices became final since the last look (one query for those still
// open, one read for each that finished) and counts them.
func (o *openInvoices) tally(ctx context.Context, j *spool.Journal, nip string) (sendTally, error) {
	var t sendTally
	if len(o.done) < len(o.ids) {
		still, err := j.ByState(ctx, nip, unfinishedStates...)
		if err != nil {
			return sendTally{Pending: len(o.ids)}, err
		}
		stillOpen := make(map[int64]bool, len(still))
		for _, r := range still {
			stillOpen[r.ID] = true
		}
		for _, id := range o.ids {
			if _, known := o.done[id]; known || stillOpen[id] {
				continue
			}
			inv, err := j.Get(ctx, id)
			if err != nil {
				return sendTally{Pending: len(o.ids)}, err
			}
			o.done[id] = inv.Outcome
		}
	}
	for _, id := range o.ids {
		switch outcome, final := o.done[id]; {
		case !final:
			t.Pending++
		case outcome == "rejected":
			t.Rejected++
		default:
			t.Accepted++
		}
	}
	return t, nil
}

// followFiles polls the journal until each outbox path has a finished record claimed after from
// and each open invoice is final, or ctx ends; it returns the tally at that moment.
func followFiles(ctx context.Context, j *spool.Journal, nip string, from int64, paths []string, open *openInvoices) (sendTally, error) {
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	for {
		recs, err := j.Since(ctx, nip, from)
		if err != nil {
			return sendTally{Pending: len(paths) + len(open.ids)}, err
		}
		t := tallyPaths(recs, paths, open)
		ot, err := open.tally(ctx, j, nip)
		if err != nil {
			return sendTally{Pending: len(paths) + len(open.ids)}, err
		}
		t.Accepted, t.Rejected, t.Pending = t.Accepted+ot.Accepted, t.Rejected+ot.Rejected, t.Pending+ot.Pending
		if t.Pending == 0 {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-tick.C:
		}
	}
}

// tallyPaths counts, for each path, the outcome of its newest record (records come oldest first);
// a path whose record is one of the open invoices is counted there, not twice.
func tallyPaths(recs []spool.Invoice, paths []string, open *openInvoices) sendTally {
	latest := make(map[string]spool.Invoice, len(recs))
	for _, r := range recs {
		// The daemon claims from its claim folder inside the outbox; the file is the outbox's.
		latest[outboxclaim.Original(r.SourcePath)] = r
	}
	var t sendTally
	for _, p := range paths {
		r, ok := latest[p]
		switch {
		case ok && open.has(r.ID):
		case !ok || r.State != spool.StateDone:
			t.Pending++
		case r.Outcome == "rejected":
			t.Rejected++
		default:
			t.Accepted++
		}
	}
	return t
}

// reportSend prints send's summary and chooses its exit code; the contract is the same with and
// without a daemon.
func reportSend(env *cliEnv, t sendTally, timeout time.Duration) int {
	fmt.Fprintf(env.stdout, "accepted: %d\nrejected: %d\npending: %d\n", t.Accepted, t.Rejected, t.Pending)
	switch {
	case t.Pending > 0:
		fmt.Fprintf(env.stderr, "ksef-sync: %d invoice(s) not final after %s; they stay in the journal and the next run finishes them\n", t.Pending, timeout)
		return exitFatal
	case t.Rejected > 0:
		return exitRejected
	}
	return exitOK
}

// pullRequestDir holds `pull` requests to a running daemon and the daemon's answers.
// With many companies each has its own: requests/<company>.
func pullRequestDir(cfg *config.Config) string {
	if cfg.MultiCompany() {
		return filepath.Join(cfg.Folders.State, "requests", cfg.CompanyName())
	}
	return filepath.Join(cfg.Folders.State, "requests")
}

const (
	pullRequestPrefix = "pull-"
	requestSuffix     = ".request"
	resultSuffix      = ".result"
)

// pullResult is the daemon's answer to one pull request.
type pullResult struct {
	Stats pull.Stats `json:"stats"`
	Error string     `json:"error,omitempty"`
}

// pullViaDaemon asks the running daemon for one pull cycle now and prints its result.
func pullViaDaemon(ctx context.Context, env *cliEnv, cfg *config.Config) int {
	dir := pullRequestDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(env, exitFatal, fmt.Errorf("pull request folder: %w", err))
	}
	name := fmt.Sprintf("%s%d-%d", pullRequestPrefix, time.Now().UnixNano(), os.Getpid())
	req := filepath.Join(dir, name+requestSuffix)
	if err := atomicfile.WriteFile(req, []byte("{}\n"), 0o600); err != nil {
		return fail(env, exitFatal, fmt.Errorf("pull request: %w", err))
	}
	fmt.Fprintln(env.stderr, "ksef-sync: the daemon is running; it pulls now and this command waits for its result")
	resPath := filepath.Join(dir, name+resultSuffix)
	res, err := awaitResult(ctx, resPath)
	if err != nil {
		_ = os.Remove(req) // not taken yet: withdraw it
		return fail(env, exitFatal, fmt.Errorf("waiting for the daemon's pull: %w", err))
	}
	_ = os.Remove(resPath)
	var cycleErr error
	if res.Error != "" {
		cycleErr = errors.New(res.Error)
	}
	return reportPull(env, res.Stats, cycleErr)
}

func awaitResult(ctx context.Context, path string) (pullResult, error) {
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var r pullResult
			return r, json.Unmarshal(data, &r)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return pullResult{}, err
		}
		select {
		case <-ctx.Done():
			return pullResult{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// reportPull prints a pull cycle's outcome; the same lines with and without a daemon.
func reportPull(env *cliEnv, st pull.Stats, err error) int {
	fmt.Fprintf(env.stdout, "exports: %d\nwritten: %d\nalready delivered: %d\ncorrupt: %d\n", st.Exports, st.Written, st.Skipped, st.Corrupt)
	for _, b := range st.Behind {
		// The contract line: the subject is not caught up yet; the next pull continues at its cursor.
		fmt.Fprintf(env.stdout, "behind: %s cursor %s\n", b.Subject, b.Cursor.UTC().Format(time.RFC3339Nano))
	}
	if st.BudgetExhausted {
		fmt.Fprintln(env.stdout, "the hourly export budget is used up: run pull again later to continue from the cursors")
	}
	if err != nil {
		return fail(env, exitFatal, err)
	}
	return exitOK
}

// servePullRequests answers pull requests from other processes until ctx ends: each one runs a
// cycle through cycle (which serialises it with the scheduled cycles) and gets a result file.
func servePullRequests(ctx context.Context, cfg *config.Config, log *slog.Logger, cycle func(context.Context) (pull.Stats, error)) {
	dir := pullRequestDir(cfg)
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	for {
		for _, name := range pendingPullRequests(dir) {
			st, err := cycle(ctx)
			if ctx.Err() != nil {
				return // stopping: the request stays and `pull` reports the daemon went away
			}
			answerPullRequest(dir, name, st, explainPullError(err, cfg), log)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pendingPullRequests lists request names (without suffix) that have no answer yet.
func pendingPullRequests(dir string) []string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, pullRequestPrefix) && strings.HasSuffix(n, requestSuffix) {
			out = append(out, strings.TrimSuffix(n, requestSuffix))
		}
	}
	return out
}

func answerPullRequest(dir, name string, st pull.Stats, cycleErr error, log *slog.Logger) {
	res := pullResult{Stats: st}
	if cycleErr != nil {
		res.Error = cycleErr.Error()
	}
	data, err := json.Marshal(res)
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(dir, name+resultSuffix), data, 0o600)
	}
	if err != nil {
		log.Warn("could not answer a pull request", "request", name, "err", err)
		return
	}
	_ = os.Remove(filepath.Join(dir, name+requestSuffix))
	log.Info("pull requested by `ksef-sync pull` finished", "request", name, "written", st.Written)
}
