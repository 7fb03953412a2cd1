// Package pull brings the invoices KSeF holds for a NIP into the inbox folder, exactly once per KSeF
// number. It is the "KSeF export → pull → inbox" room of ksef-sync: the send engine and the pull
// share no code, and only the command wires them.
//
// One cycle (Pull) walks every configured subject from its journal cursor, export window after
// export window, until it reaches KSeF's high-water mark or the hourly export budget runs out. The
// pieces live in their own files: the cursor rule (cursor.go), one export from start to package
// (export.go), the inbox layout and writes (inbox.go), the export budget (budget.go) and the
// schedule (schedule.go).
package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// ReadableSink takes delivered invoices whose readable copies are written in the background.
type ReadableSink interface {
	Add(readable.Job)
}

// Client is what pulling needs from the KSeF client.
type Client interface {
	StartExport(ctx context.Context, f ksef.QueryFilters, comp ksef.Compression) (*ksef.Export, error)
	AwaitExport(ctx context.Context, exp *ksef.Export, interval, timeout time.Duration) (*ksef.ExportStatus, error)
	DownloadExport(ctx context.Context, exp *ksef.Export, pkg *ksef.ExportPackage, tmpDir string) (*ksef.ExportArchive, error)
	// HourlyShare is our share of a group's hourly limit in the rate table KSeF reported last.
	HourlyShare(group string, def int) int
}

// Journal is what pulling needs from the journal.
type Journal interface {
	Cursor(ctx context.Context, nip, subject string) (time.Time, bool, error)
	DeliveredAmong(ctx context.Context, nip string, ksefNumbers []string) (map[string]bool, error)
	CommitPull(ctx context.Context, nip, subject string, cursor time.Time, delivered []spool.Delivered) error
	SetMeta(ctx context.Context, key, value string) error
	Meta(ctx context.Context, key string) (string, bool, error)
}

// subjectTypes maps the config's names to KSeF's subject types.
var subjectTypes = map[string]string{
	"sales":      "Subject1",
	"cost":       "Subject2",
	"subject3":   "Subject3",
	"authorized": "SubjectAuthorized",
}

// DefaultExportTimeout is how long an export may stay at status 100 before it is abandoned: users
// report exports stuck for days (CIRFMF/ksef-api #307, #366, #846).
const DefaultExportTimeout = 20 * time.Minute

// Options configure a Puller.
type Options struct {
	NIP      string
	Inbox    string
	Layout   string // e.g. "{subject}/{yyyy}/{mm}/{ksefNumber}"
	Subjects []string
	Start    time.Time
	TempDir  string
	Poll     time.Duration
	Client   Client
	Journal  Journal
	Logger   *slog.Logger
	Clock    ksef.Clock // nil → real time
	// ExportsPerHour caps exports started in any hour, across subjects and processes (the journal
	// remembers them): 0 → our share of the invoiceExport group's hourly limit as KSeF reports it
	// now (Client.HourlyShare; ksef.ExportsPerHour before it has).
	ExportsPerHour int
	// ExportTimeout abandons an export still running after this long (0 → DefaultExportTimeout). It
	// also bounds how long one subject waits for KSeF's concurrent-export limit (21182).
	ExportTimeout time.Duration
	// Readable, when not nil, receives every newly delivered invoice for its PDF/HTML copy; it must
	// not block. QRBase is the KOD I link base drawn on that copy.
	Readable ReadableSink
	QRBase   string
	// OneOff re-downloads [Since, Until] without reading or moving cursors or the delivered set.
	OneOff       bool
	Since, Until time.Time
	// MetaScope, when set (the company's NIP in a many-company daemon), is appended to the journal
	// meta keys this puller writes (last pull, export budget), since one journal serves every
	// company; "" keeps the single-company keys.
	MetaScope string
	// Spread delays every scheduled cycle by this fraction [0, 1) of the schedule's period, so
	// hundreds of companies on one schedule do not all export in the same minute.
	Spread float64
}

// Puller brings invoices KSeF holds for the NIP into the inbox, exactly once per KSeF number.
// Concurrent Pull calls on one Puller run one after the other (the schedule and a `ksef-sync pull`
// request share it); the journal's folder lock keeps a second process away.
type Puller struct {
	cycle  sync.Mutex // held for a whole Pull
	o      Options
	clock  ksef.Clock
	log    *slog.Logger
	budget *budget
	// swept holds the inbox folders already cleaned of interrupted writes during this cycle.
	swept map[string]bool
}

// New checks the options.
func New(o Options) (*Puller, error) {
	for _, s := range o.Subjects {
		if subjectTypes[s] == "" {
			return nil, fmt.Errorf("unknown pull subject %q (use cost, sales, subject3 or authorized)", s)
		}
	}
	if o.Layout == "" {
		o.Layout = "{subject}/{yyyy}/{mm}/{ksefNumber}"
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Clock == nil {
		o.Clock = ksef.WallClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ExportTimeout <= 0 {
		o.ExportTimeout = DefaultExportTimeout
	}
	if o.OneOff && !o.Until.IsZero() && o.Until.Before(o.Since) {
		return nil, fmt.Errorf("one-off pull: until %s is before since %s", o.Until.Format(time.RFC3339), o.Since.Format(time.RFC3339))
	}
	log := o.Logger.With("component", "pull", "nip", o.NIP)
	return &Puller{o: o, clock: o.Clock, log: log, budget: newBudget(o.Journal, metaKey(exportTimesKey, o.MetaScope), exportsPerHour(o), log)}, nil
}

// exportsPerHour is the hourly export budget: the configured one, or our share of KSeF's
// invoiceExport limit, asked at every export so that a table KSeF lowered or raised since the last
// export applies (CIRFMF/ksef-docs limity/limity-api.md §5: "limity mają charakter dynamiczny").
func exportsPerHour(o Options) func() int {
	if n := o.ExportsPerHour; n > 0 {
		return func() int { return n }
	}
	return func() int { return o.Client.HourlyShare(ksef.GroupInvoiceExport, ksef.ExportsPerHour) }
}

// Stats counts one cycle's work.
type Stats struct {
	Exports, Written, Skipped, Corrupt int
	// BudgetExhausted: the hourly export budget ran out before every subject was caught up; the
	// next cycle continues from the cursors.
	BudgetExhausted bool
	// Behind lists the subjects this cycle left before KSeF's high-water mark (budget used up, an
	// export abandoned or failed); the next cycle continues from their cursors.
	Behind []Behind
}

// Behind is a subject the cycle did not bring up to KSeF's high-water mark.
type Behind struct {
	Subject string
	Cursor  time.Time // where the next cycle starts
	Reason  string
}

func (s *Stats) add(o Stats) {
	s.Exports += o.Exports
	s.Written += o.Written
	s.Skipped += o.Skipped
	s.Corrupt += o.Corrupt
	s.BudgetExhausted = s.BudgetExhausted || o.BudgetExhausted
	s.Behind = append(s.Behind, o.Behind...)
}

// ErrCorruptInvoice reports invoices a package did not deliver intact: bytes not matching their
// metadata hash, or listed in _metadata.json without an archive entry (and the reverse). Nothing
// was written for them and the cursor stays at or before them, so the next cycle fetches them again.
var ErrCorruptInvoice = errors.New("the export package did not deliver every invoice intact")

// Pull runs one cycle for every subject until each is caught up to KSeF's high-water mark.
func (p *Puller) Pull(ctx context.Context) (Stats, error) {
	p.cycle.Lock()
	defer p.cycle.Unlock()
	p.swept = map[string]bool{}
	p.removeStaleDownloads()
	var total Stats
	var errs []error
	for _, s := range p.o.Subjects {
		if !p.due(ctx, s) {
			continue
		}
		st, err := p.pullSubject(ctx, s)
		total.add(st)
		if err != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", s, err))
		} else if !p.o.OneOff {
			_ = p.o.Journal.SetMeta(ctx, metaKey(lastPullKey(s), p.o.MetaScope), p.now().UTC().Format(time.RFC3339))
		}
	}
	if len(errs) == 0 && !p.o.OneOff {
		_ = p.o.Journal.SetMeta(ctx, metaKey("last_pull", p.o.MetaScope), p.now().UTC().Format(time.RFC3339))
	}
	return total, errors.Join(errs...)
}

func (p *Puller) now() time.Time { return p.clock.Now() }

// slowSubjects are pulled at most every slowEvery: invoices where we are a third party or an
// authorised subject are rare, and the 20 exports an hour are better spent on cost and sales.
var slowSubjects = map[string]bool{"subject3": true, "authorized": true}

const slowEvery = 6 * time.Hour

func lastPullKey(subject string) string { return "last_pull_" + subject }

// metaKey is key in the scope of one company ("" for the single-company form).
func metaKey(key, scope string) string {
	if scope == "" {
		return key
	}
	return key + "@" + scope
}

// due reports whether subject should be pulled in this cycle.
func (p *Puller) due(ctx context.Context, subject string) bool {
	if p.o.OneOff || !slowSubjects[subject] {
		return true
	}
	v, ok, err := p.o.Journal.Meta(ctx, metaKey(lastPullKey(subject), p.o.MetaScope))
	if err != nil || !ok {
		return true
	}
	last, err := time.Parse(time.RFC3339, v)
	return err != nil || p.now().Sub(last) >= slowEvery
}

// removeStaleDownloads deletes decrypted export archives a killed process left in TempDir.
func (p *Puller) removeStaleDownloads() {
	if p.o.TempDir == "" {
		return
	}
	stale, _ := filepath.Glob(filepath.Join(p.o.TempDir, "export-*.tmp"))
	for _, f := range stale {
		if err := os.Remove(f); err == nil {
			p.log.Info("removed an interrupted export download", "file", f)
		}
	}
}

// pullSubject walks one subject's windows from its cursor until the cursor rule says it is caught
// up, blocked, or an export could not run (budget, hang, failure), which leaves it behind.
func (p *Puller) pullSubject(ctx context.Context, subject string) (Stats, error) {
	var st Stats
	cursor, err := p.startCursor(ctx, subject)
	if err != nil {
		return st, err
	}
	for {
		w := p.window(cursor)
		res, err := p.export(ctx, subject, w, &st)
		if err != nil {
			return st, err
		}
		if res.stop != "" {
			// Nothing was delivered and the cursor stays: the next cycle starts here again.
			st.Behind = append(st.Behind, Behind{Subject: subject, Cursor: cursor, Reason: res.stop})
			return st, nil
		}
		s, err := p.deliverWindow(ctx, subject, w, res, &st)
		if err != nil {
			return st, err
		}
		if s.blocked != nil {
			return st, s.blocked
		}
		if s.caughtUp {
			return st, nil
		}
		if !s.next.After(cursor) {
			// A package full of invoices sharing one timestamp cannot advance; stop rather than loop.
			return st, fmt.Errorf("cursor cannot advance past %s: more than one package of invoices share that PermanentStorage date", cursor.Format(time.RFC3339Nano))
		}
		cursor = s.next
	}
}

func (p *Puller) startCursor(ctx context.Context, subject string) (time.Time, error) {
	if p.o.OneOff {
		return p.o.Since, nil
	}
	c, ok, err := p.o.Journal.Cursor(ctx, p.o.NIP, subject)
	if err != nil || !ok {
		return p.o.Start, err
	}
	return c, nil
}

// deliverWindow writes a finished export's invoices, applies the cursor rule and commits the
// deliveries together with the cursor move in ONE journal transaction, as CommitPull promises.
func (p *Puller) deliverWindow(ctx context.Context, subject string, w window, res exported, st *Stats) (step, error) {
	if res.nothingNew {
		p.log.Debug("nothing new above the high-water mark", "subject", subject)
		return step{caughtUp: true}, nil
	}
	b, err := p.deliver(ctx, subject, res.exp, res.pkg, st)
	if err != nil {
		return step{}, err
	}
	s := decide(res.pkg, w, !p.o.OneOff, b.outcome())
	if s.fullNotTruncated {
		p.log.Warn("KSeF's isTruncated=false not trusted: the package holds as many invoices as one may, so the next export continues after its last one",
			"subject", subject, "export", res.exp.ReferenceNumber, "invoices", res.pkg.InvoiceCount, "limit", ksef.MaxExportInvoices)
	}
	if !p.o.OneOff && (len(b.delivered) > 0 || !s.next.IsZero()) {
		if err := p.o.Journal.CommitPull(ctx, p.o.NIP, subject, s.next, b.delivered); err != nil {
			return step{}, err
		}
	}
	p.log.Info("export delivered", "subject", subject, "export", res.exp.ReferenceNumber, "invoices", res.pkg.InvoiceCount,
		"recorded", len(b.delivered), "truncated", res.pkg.IsTruncated, "cursor", s.next.Format(time.RFC3339Nano))
	if s.blocked != nil {
		s.blocked = fmt.Errorf("export %s: %w", res.exp.ReferenceNumber, s.blocked)
	}
	return s, nil
}
