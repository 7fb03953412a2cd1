package engine

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// PullClient is what pulling needs from the KSeF client.
type PullClient interface {
	StartExport(ctx context.Context, f ksef.QueryFilters, comp ksef.Compression) (*ksef.Export, error)
	WaitExport(ctx context.Context, exp *ksef.Export, interval time.Duration) (*ksef.ExportStatus, error)
	DownloadExport(ctx context.Context, exp *ksef.Export, pkg *ksef.ExportPackage, tmpDir string) (*ksef.ExportArchive, error)
}

// PullJournal is what pulling needs from the journal.
type PullJournal interface {
	Cursor(ctx context.Context, nip, subject string) (time.Time, bool, error)
	IsDelivered(ctx context.Context, nip, ksefNumber string) (bool, error)
	CommitPull(ctx context.Context, nip, subject string, cursor time.Time, delivered []spool.Delivered) error
	SetMeta(ctx context.Context, key, value string) error
}

// subjectTypes maps the config's names to KSeF's subject types.
var subjectTypes = map[string]string{
	"sales":      "Subject1",
	"cost":       "Subject2",
	"subject3":   "Subject3",
	"authorized": "SubjectAuthorized",
}

// maxWindow keeps every export range inside KSeF's 3-month limit, with a margin for month lengths
// and the Warsaw/UTC difference.
const maxWindow = 89 * 24 * time.Hour

// PullOptions configure a Puller.
type PullOptions struct {
	NIP      string
	Inbox    string
	Layout   string // e.g. "{subject}/{yyyy}/{mm}/{ksefNumber}"
	Subjects []string
	Start    time.Time
	TempDir  string
	Poll     time.Duration
	Client   PullClient
	Journal  PullJournal
	Logger   *slog.Logger
	Now      func() time.Time
	// OneOff re-downloads [Since, Until] without reading or moving cursors or the delivered set.
	OneOff       bool
	Since, Until time.Time
}

// Puller brings invoices KSeF holds for the NIP into the inbox, exactly once per KSeF number.
type Puller struct {
	o   PullOptions
	log *slog.Logger
}

// NewPuller checks the options.
func NewPuller(o PullOptions) (*Puller, error) {
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Puller{o: o, log: o.Logger.With("component", "pull", "nip", o.NIP)}, nil
}

// PullStats counts one cycle's work.
type PullStats struct {
	Exports, Written, Skipped, Corrupt int
}

// Pull runs one cycle for every subject until each is caught up to KSeF's high-water mark.
func (p *Puller) Pull(ctx context.Context) (PullStats, error) {
	var total PullStats
	var errs []error
	for _, s := range p.o.Subjects {
		st, err := p.pullSubject(ctx, s)
		total.Exports += st.Exports
		total.Written += st.Written
		total.Skipped += st.Skipped
		total.Corrupt += st.Corrupt
		if err != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", s, err))
		}
	}
	if len(errs) == 0 && !p.o.OneOff {
		_ = p.o.Journal.SetMeta(ctx, "last_pull", p.o.Now().UTC().Format(time.RFC3339))
	}
	return total, errors.Join(errs...)
}

func (p *Puller) pullSubject(ctx context.Context, subject string) (PullStats, error) {
	var st PullStats
	cursor, err := p.startCursor(ctx, subject)
	if err != nil {
		return st, err
	}
	for {
		to := p.windowEnd(cursor)
		next, done, err := p.exportWindow(ctx, subject, cursor, to, &st)
		if err != nil || done {
			return st, err
		}
		if !next.After(cursor) {
			// A package full of invoices sharing one timestamp cannot advance; stop rather than loop.
			return st, fmt.Errorf("cursor cannot advance past %s: more than one package of invoices share that PermanentStorage date", cursor.Format(time.RFC3339Nano))
		}
		cursor = next
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

// windowEnd returns the end of the next export window: nil means "up to the high-water mark".
func (p *Puller) windowEnd(from time.Time) *time.Time {
	limit := p.o.Now()
	if p.o.OneOff && !p.o.Until.IsZero() {
		limit = p.o.Until
	}
	if limit.Sub(from) > maxWindow {
		to := from.Add(maxWindow)
		return &to
	}
	if p.o.OneOff {
		return &limit
	}
	return nil
}

// exportWindow exports one window, delivers it, and returns where the next window starts, or done.
func (p *Puller) exportWindow(ctx context.Context, subject string, from time.Time, to *time.Time, st *PullStats) (time.Time, bool, error) {
	f := ksef.QueryFilters{SubjectType: subjectTypes[subject], DateRange: ksef.DateRange{
		DateType: "PermanentStorage", From: from, To: to, RestrictToPermanentStorageHwmDate: !p.o.OneOff,
	}}
	exp, err := p.o.Client.StartExport(ctx, f, ksef.Zip)
	if err != nil {
		var api *ksef.APIError
		if errors.As(err, &api) && api.HasCode(21183) {
			return time.Time{}, true, nil // the cursor is above the high-water mark: nothing new yet
		}
		return time.Time{}, false, err
	}
	st.Exports++
	status, err := p.o.Client.WaitExport(ctx, exp, p.o.Poll)
	if err != nil {
		return time.Time{}, false, err
	}
	switch status.Status.Code {
	case 200:
	case 420:
		p.log.Debug("nothing new above the high-water mark", "subject", subject)
		return time.Time{}, true, nil
	default:
		return time.Time{}, false, fmt.Errorf("export %s ended with %d %s", exp.ReferenceNumber, status.Status.Code, status.Status.Description)
	}
	pkg := status.Package
	delivered, err := p.deliver(ctx, subject, exp, pkg, st)
	if err != nil {
		return time.Time{}, false, err
	}
	next, done := nextCursor(pkg, to)
	if !p.o.OneOff {
		if err := p.o.Journal.CommitPull(ctx, p.o.NIP, subject, next, delivered); err != nil {
			return time.Time{}, false, err
		}
	}
	p.log.Info("export delivered", "subject", subject, "export", exp.ReferenceNumber, "invoices", pkg.InvoiceCount,
		"written", len(delivered), "truncated", pkg.IsTruncated, "cursor", next.Format(time.RFC3339Nano))
	return next, done, nil
}

// nextCursor applies the HWM rule: a truncated package continues from its last PermanentStorage
// date, a full window moves to its end, and the last window ends at the high-water mark.
func nextCursor(pkg *ksef.ExportPackage, to *time.Time) (time.Time, bool) {
	switch {
	case pkg.IsTruncated && pkg.LastPermanentStorageDate != nil:
		return *pkg.LastPermanentStorageDate, false
	case to != nil:
		return *to, false
	case pkg.PermanentStorageHwmDate != nil:
		return *pkg.PermanentStorageHwmDate, true
	}
	return time.Time{}, true
}

func (p *Puller) deliver(ctx context.Context, subject string, exp *ksef.Export, pkg *ksef.ExportPackage, st *PullStats) ([]spool.Delivered, error) {
	if pkg == nil || len(pkg.Parts) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(p.o.TempDir, 0o700); err != nil {
		return nil, err
	}
	arch, err := p.o.Client.DownloadExport(ctx, exp, pkg, p.o.TempDir)
	if err != nil {
		return nil, err
	}
	defer arch.Close()
	meta := make(map[string]*ksef.InvoiceMetadata, len(arch.Metadata))
	for i := range arch.Metadata {
		meta[strings.ToLower(arch.Metadata[i].KsefNumber)] = &arch.Metadata[i]
	}
	var out []spool.Delivered
	err = arch.Walk(func(name string, r io.Reader) error {
		d, err := p.deliverOne(ctx, subject, name, r, meta, st)
		if d != nil {
			out = append(out, *d)
		}
		return err
	})
	return out, err
}

func (p *Puller) deliverOne(ctx context.Context, subject, name string, r io.Reader, meta map[string]*ksef.InvoiceMetadata, st *PullStats) (*spool.Delivered, error) {
	number := strings.TrimSuffix(name, filepath.Ext(name))
	m := meta[strings.ToLower(number)]
	if m == nil {
		p.log.Warn("archive entry without metadata skipped", "entry", name)
		return nil, nil
	}
	if !p.o.OneOff {
		if done, err := p.o.Journal.IsDelivered(ctx, p.o.NIP, m.KsefNumber); err != nil || done {
			st.Skipped++
			return nil, err
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); base64.StdEncoding.EncodeToString(sum[:]) != m.InvoiceHash {
		st.Corrupt++
		p.log.Error("invoice bytes do not match their metadata hash; nothing written", "ksef_number", m.KsefNumber, "subject", subject)
		return nil, nil
	}
	path, err := p.write(subject, m, data)
	if err != nil {
		return nil, err
	}
	st.Written++
	p.log.Info("invoice received", "ksef_number", m.KsefNumber, "subject", subject, "file", path)
	return &spool.Delivered{KsefNumber: m.KsefNumber, Subject: subject, Path: path, PermanentStorageDate: m.PermanentStorageDate}, nil
}

// write stores the invoice and its metadata; the JSON goes last so an ERP that waits for it finds
// the XML complete.
func (p *Puller) write(subject string, m *ksef.InvoiceMetadata, data []byte) (string, error) {
	base := filepath.Join(p.o.Inbox, filepath.FromSlash(expandLayout(p.o.Layout, subject, m)))
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(base+".xml", data, 0o644); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return "", err
	}
	return base + ".xml", nil
}

// expandLayout fills the inbox path template. Year and month come from the acquisition date (the
// legal receipt date); the KSeF number is safe as a file name (digits, letters, hyphens).
func expandLayout(layout, subject string, m *ksef.InvoiceMetadata) string {
	t := m.AcquisitionDate
	if t.IsZero() {
		t = m.PermanentStorageDate
	}
	t = t.In(warsaw)
	return strings.NewReplacer(
		"{subject}", subject,
		"{yyyy}", t.Format("2006"),
		"{mm}", t.Format("01"),
		"{dd}", t.Format("02"),
		"{ksefNumber}", m.KsefNumber,
		"{sellerNip}", m.Seller.Nip,
	).Replace(layout)
}

var warsaw = loadWarsaw()

func loadWarsaw() *time.Location {
	if loc, err := time.LoadLocation("Europe/Warsaw"); err == nil {
		return loc
	}
	return time.UTC
}
