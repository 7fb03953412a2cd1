package pull

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// exported is how one export ended: a package to deliver, nothing new above the high-water mark, or
// a reason the subject stops for this cycle with its cursor where it is.
type exported struct {
	exp        *ksef.Export
	pkg        *ksef.ExportPackage
	nothingNew bool
	stop       string
}

// Reasons a subject stays behind until the next cycle.
const (
	stopBudget = "the hourly export budget is used up"
)

// concurrentWait is the first pause after KSeF refused an export because 10 are already running
// (21182); it doubles up to concurrentWaitMax. Exports that hang at KSeF count towards that limit
// until KSeF clears them, so waiting is the only remedy; it never loops hot.
const (
	concurrentWait    = 30 * time.Second
	concurrentWaitMax = 5 * time.Minute
)

// export starts one export for w and waits for its package. Every start is counted in the hourly
// budget before the request goes out, because KSeF counts every POST, also one that fails.
func (p *Puller) export(ctx context.Context, subject string, w window, st *Stats) (exported, error) {
	f := ksef.QueryFilters{SubjectType: subjectTypes[subject], DateRange: ksef.DateRange{
		DateType: "PermanentStorage", From: w.From, To: w.To, RestrictToPermanentStorageHwmDate: !p.o.OneOff,
	}}
	exp, res, err := p.start(ctx, subject, f, st)
	if err != nil || exp == nil {
		return res, err
	}
	status, err := p.o.Client.AwaitExport(ctx, exp, p.o.Poll, p.o.ExportTimeout)
	var running *ksef.ExportRunningError
	switch {
	case errors.As(err, &running):
		// KSeF leaves some exports at 100 for days. This one still counts towards the budget and the
		// concurrent limit until KSeF drops it; the next cycle starts a fresh one from the cursor.
		p.log.Warn("export still running at KSeF; abandoned, the next cycle starts a new one from the cursor",
			"subject", subject, "export", exp.ReferenceNumber, "after", running.After)
		return exported{stop: fmt.Sprintf("export %s still running after %s; abandoned", exp.ReferenceNumber, running.After)}, nil
	case err != nil:
		return exported{}, err
	}
	switch c := status.Status.Code; c {
	case 200:
		if status.Package == nil {
			return exported{}, fmt.Errorf("export %s: status 200 without a package", exp.ReferenceNumber)
		}
		return exported{exp: exp, pkg: status.Package}, nil
	case 420:
		return exported{nothingNew: true}, nil
	case 210, 415, 500, 550:
		// 210 expired, 415 key not decrypted, 500 unknown, 550 cancelled by the system: this export
		// is over; nothing was delivered and the next cycle retries from the same cursor.
		return p.endedWithoutPackage(subject, exp, status), nil
	default:
		if c >= 400 {
			// A failure the spec's table does not list: KSeF has answered 410 "Błąd walidacji danych
			// wejściowych" in the status body (CIRFMF/ksef-api #245, #259). It ends the export like
			// the documented ones rather than failing the whole pull.
			return p.endedWithoutPackage(subject, exp, status), nil
		}
		return exported{}, fmt.Errorf("export %s ended with %d %s", exp.ReferenceNumber, c, status.Status.Description)
	}
}

// endedWithoutPackage: the export is over and delivered nothing; the subject stays behind at its
// cursor and the next cycle retries from there.
func (p *Puller) endedWithoutPackage(subject string, exp *ksef.Export, status *ksef.ExportStatus) exported {
	c, desc := status.Status.Code, status.Status.Description
	p.log.Warn("export ended without a package; the next cycle retries from the cursor", "subject", subject,
		"export", exp.ReferenceNumber, "status", c, "description", desc)
	return exported{stop: fmt.Sprintf("export %s ended with status %d %s", exp.ReferenceNumber, c, desc)}
}

// start reserves the budget and starts the export. A nil export with a nil error is an outcome in
// res (budget used up, nothing new, concurrent limit that did not clear, an ambiguous failure).
func (p *Puller) start(ctx context.Context, subject string, f ksef.QueryFilters, st *Stats) (*ksef.Export, exported, error) {
	deadline := p.now().Add(p.o.ExportTimeout)
	wait := concurrentWait
	for {
		at := p.now()
		ok, err := p.budget.reserve(ctx, at)
		if err != nil {
			return nil, exported{}, err
		}
		if !ok {
			st.BudgetExhausted = true
			p.log.Info("hourly export budget used up; the next cycle continues", "subject", subject, "per_hour", p.budget.perHour())
			return nil, exported{stop: stopBudget}, nil
		}
		exp, err := p.o.Client.StartExport(ctx, f, ksef.Zip)
		if err == nil {
			st.Exports++
			return exp, exported{}, nil
		}
		var api *ksef.APIError
		var login *ksef.LoginError
		switch {
		case errors.As(err, &login):
			p.unreserve(ctx, at)
			return nil, exported{}, err // the export was never sent: the login failed
		case errors.As(err, &api) && api.HasCode(21183):
			return nil, exported{nothingNew: true}, nil
		case errors.As(err, &api) && api.HasCode(21181):
			return nil, p.refused(subject, api), nil
		case isMissingPermissions(err):
			return nil, p.notPermitted(subject, err), nil
		case errors.As(err, &api) && api.HasCode(21182):
			if p.now().Add(wait).After(deadline) {
				p.log.Warn("KSeF's limit of concurrent exports did not clear; the next cycle tries again", "subject", subject, "waited", p.o.ExportTimeout)
				return nil, exported{stop: "KSeF's limit of 10 concurrent exports is reached (21182)"}, nil
			}
			p.log.Info("KSeF runs 10 exports for this context already (21182); waiting", "subject", subject, "wait", wait)
			if err := p.clock.Sleep(ctx, wait); err != nil {
				return nil, exported{}, err
			}
			wait = min(2*wait, concurrentWaitMax)
		case ksef.IsRetriable(err) && ctx.Err() == nil && neverSent(err):
			p.unreserve(ctx, at)
			p.log.Warn("starting an export failed before the request reached KSeF; the next cycle tries again",
				"subject", subject, "err", err)
			return nil, exported{stop: "starting the export failed: " + err.Error()}, nil
		case ksef.IsRetriable(err) && ctx.Err() == nil:
			// The request may have reached KSeF (a 5xx or a dropped connection after sending): an
			// export may be running there that we cannot name. Starting another at once could burn
			// the budget and fill the concurrent limit, so it stays counted and is left to expire;
			// the next cycle starts anew.
			p.log.Warn("starting an export failed and KSeF may have received it; it counts against the budget, the next cycle starts a new one",
				"subject", subject, "err", err)
			return nil, exported{stop: "starting the export failed: " + err.Error()}, nil
		default:
			return nil, exported{}, err
		}
	}
}

// neverSent reports whether a failed StartExport certainly did not reach KSeF: not an answer that
// may hide a started export (AmbiguousError), nor one KSeF gave itself (an API error or a 429, which
// KSeF may count). What is left failed before the POST (public keys, login, a refused connection)
// or at the firewall in front of KSeF.
func neverSent(err error) bool {
	var amb *ksef.AmbiguousError
	var api *ksef.APIError
	var rl *ksef.RateLimitError
	return !errors.As(err, &amb) && !errors.As(err, &api) && !errors.As(err, &rl)
}

// unreserve gives an export start that never went out back to the hourly budget.
func (p *Puller) unreserve(ctx context.Context, at time.Time) {
	if err := p.budget.release(ctx, at); err != nil {
		p.log.Warn("could not give an unsent export back to the hourly budget", "err", err)
	}
}

// refused: KSeF does not export this subject's invoices in our context (21181, open-api.json POST
// /invoices/exports: "Nie można wyeksportować paczki faktur dla wybranego podmiotu ({subjecttype})
// i zalogowanego identyfikatora kontekstu ({type})"). Asking again cannot help until the context's
// permissions change, so this is no failure of the pull: the subject stays behind and counts as
// pulled, and is asked again at its next turn (subject3 and authorized every 6 hours).
func (p *Puller) refused(subject string, api *ksef.APIError) exported {
	p.log.Warn("KSeF refuses to export this subject's invoices in this context (21181); remove it from pull.subjects, or have the permissions that allow it granted in KSeF",
		"subject", subject, "details", api.Error())
	return exported{stop: "KSeF refuses exports of this subject in this context (21181)"}
}

func isMissingPermissions(err error) bool {
	_, ok := ksef.MissingPermissions(err)
	return ok
}

// notPermitted: KSeF answered 403 missing-permissions, the credentials hold no permission to read
// the company's invoices (an accounting office granted InvoiceWrite only). Only the company can
// grant it, so this is no failure of the pull that a quick retry could mend: the subject stays
// behind at its cursor until the next cycle, and the log says what to ask for.
func (p *Puller) notPermitted(subject string, err error) exported {
	p.log.Warn("KSeF does not let these credentials read this company's invoices: ask the company to grant InvoiceRead in KSeF to the credentials' owner (the accounting office's NIP); the next cycle tries again",
		"subject", subject, "err", err)
	return exported{stop: "KSeF refuses to read invoices without InvoiceRead (403 missing-permissions)"}
}
