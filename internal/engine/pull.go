package engine

import (
	"bytes"
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
	Meta(ctx context.Context, key string) (string, bool, error)
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
	// ExportsPerHour caps exports started in any hour, across subjects and processes (the journal
	// remembers them): 0 → 18, 90 % of KSeF's 20 per hour and context.
	ExportsPerHour int
	// OneOff re-downloads [Since, Until] without reading or moving cursors or the delivered set.
	OneOff       bool
	Since, Until time.Time
}

// Puller brings invoices KSeF holds for the NIP into the inbox, exactly once per KSeF number.
// Pull must not be called concurrently on one Puller (the journal's folder lock already keeps a
// second process away).
type Puller struct {
	o   PullOptions
	log *slog.Logger
	// swept holds the inbox folders already cleaned of interrupted writes during this cycle.
	swept map[string]bool
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
	if o.ExportsPerHour <= 0 {
		o.ExportsPerHour = 18
	}
	if o.OneOff && !o.Until.IsZero() && o.Until.Before(o.Since) {
		return nil, fmt.Errorf("one-off pull: until %s is before since %s", o.Until.Format(time.RFC3339), o.Since.Format(time.RFC3339))
	}
	return &Puller{o: o, log: o.Logger.With("component", "pull", "nip", o.NIP)}, nil
}

// PullStats counts one cycle's work.
type PullStats struct {
	Exports, Written, Skipped, Corrupt int
	// BudgetExhausted: the hourly export budget ran out before every subject was caught up; the
	// next cycle continues from the cursors.
	BudgetExhausted bool
}

// ErrCorruptInvoice reports invoices a package did not deliver intact: bytes not matching their
// metadata hash, or listed in _metadata.json without an archive entry (and the reverse). Nothing
// was written for them and the cursor stays at or before them, so the next cycle fetches them again.
var ErrCorruptInvoice = errors.New("the export package did not deliver every invoice intact")

// Pull runs one cycle for every subject until each is caught up to KSeF's high-water mark.
func (p *Puller) Pull(ctx context.Context) (PullStats, error) {
	p.swept = map[string]bool{}
	p.removeStaleDownloads()
	var total PullStats
	var errs []error
	for _, s := range p.o.Subjects {
		if !p.due(ctx, s) {
			continue
		}
		st, err := p.pullSubject(ctx, s)
		total.Exports += st.Exports
		total.Written += st.Written
		total.Skipped += st.Skipped
		total.Corrupt += st.Corrupt
		total.BudgetExhausted = total.BudgetExhausted || st.BudgetExhausted
		if err != nil {
			errs = append(errs, fmt.Errorf("pull %s: %w", s, err))
		} else if !p.o.OneOff {
			_ = p.o.Journal.SetMeta(ctx, lastPullKey(s), p.o.Now().UTC().Format(time.RFC3339))
		}
	}
	if len(errs) == 0 && !p.o.OneOff {
		_ = p.o.Journal.SetMeta(ctx, "last_pull", p.o.Now().UTC().Format(time.RFC3339))
	}
	return total, errors.Join(errs...)
}

// slowSubjects are pulled at most every slowEvery: invoices where we are a third party or an
// authorised subject are rare, and the 20 exports an hour are better spent on cost and sales.
var slowSubjects = map[string]bool{"subject3": true, "authorized": true}

const slowEvery = 6 * time.Hour

func lastPullKey(subject string) string { return "last_pull_" + subject }

// due reports whether subject should be pulled in this cycle.
func (p *Puller) due(ctx context.Context, subject string) bool {
	if p.o.OneOff || !slowSubjects[subject] {
		return true
	}
	v, ok, err := p.o.Journal.Meta(ctx, lastPullKey(subject))
	if err != nil || !ok {
		return true
	}
	last, err := time.Parse(time.RFC3339, v)
	return err != nil || p.o.Now().Sub(last) >= slowEvery
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

func (p *Puller) pullSubject(ctx context.Context, subject string) (PullStats, error) {
	var st PullStats
	cursor, err := p.startCursor(ctx, subject)
	if err != nil {
		return st, err
	}
	for {
		w := p.window(cursor)
		next, done, err := p.exportWindow(ctx, subject, w, &st)
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

// exportRange is one export's PermanentStorage range. A nil To means "up to the high-water mark";
// Last marks the window that ends the cycle once it is delivered without truncation.
type exportRange struct {
	From time.Time
	To   *time.Time
	Last bool
}

// window returns the next export range starting at from, at most maxWindow long.
func (p *Puller) window(from time.Time) exportRange {
	limit := p.o.Now()
	if p.o.OneOff && !p.o.Until.IsZero() {
		limit = p.o.Until
	}
	if limit.Sub(from) > maxWindow {
		to := from.Add(maxWindow)
		return exportRange{From: from, To: &to}
	}
	if p.o.OneOff {
		return exportRange{From: from, To: &limit, Last: true}
	}
	return exportRange{From: from, Last: true}
}

// exportWindow exports one window, delivers it, and returns where the next window starts, or done.
func (p *Puller) exportWindow(ctx context.Context, subject string, w exportRange, st *PullStats) (time.Time, bool, error) {
	if ok, err := p.reserveExport(ctx); err != nil || !ok {
		if err == nil {
			st.BudgetExhausted = true
			p.log.Info("hourly export budget used up; the next cycle continues", "subject", subject, "per_hour", p.o.ExportsPerHour)
		}
		return time.Time{}, true, err
	}
	f := ksef.QueryFilters{SubjectType: subjectTypes[subject], DateRange: ksef.DateRange{
		DateType: "PermanentStorage", From: w.From, To: w.To, RestrictToPermanentStorageHwmDate: !p.o.OneOff,
	}}
	exp, err := p.o.Client.StartExport(ctx, f, ksef.Zip)
	if err != nil {
		var api *ksef.APIError
		if errors.As(err, &api) && api.HasCode(21183) {
			p.log.Debug("nothing new above the high-water mark", "subject", subject)
			return time.Time{}, true, nil
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
	if pkg == nil {
		return time.Time{}, false, fmt.Errorf("export %s: status 200 without a package", exp.ReferenceNumber)
	}
	b, err := p.deliver(ctx, subject, exp, pkg, st)
	if err != nil {
		return time.Time{}, false, err
	}
	if b.orphans > 0 {
		b.markBad(w.From) // an entry without metadata has no date to hold the cursor at: hold it all
	}
	next, done := nextCursor(pkg, w, !p.o.OneOff, b.lastPS)
	if !b.firstCorrupt.IsZero() {
		// Never move past an invoice we could not write: the next cycle starts at it again.
		if next.IsZero() || b.firstCorrupt.Before(next) {
			next = b.firstCorrupt
		}
		done = true
	}
	if !p.o.OneOff && !next.IsZero() {
		// Every delivery is in the journal already (see flush); only now may the cursor pass them.
		if err := p.o.Journal.CommitPull(ctx, p.o.NIP, subject, next, nil); err != nil {
			return time.Time{}, false, err
		}
	}
	p.log.Info("export delivered", "subject", subject, "export", exp.ReferenceNumber, "invoices", pkg.InvoiceCount,
		"recorded", b.recorded, "truncated", pkg.IsTruncated, "cursor", next.Format(time.RFC3339Nano))
	if !b.firstCorrupt.IsZero() {
		return next, true, fmt.Errorf("export %s: %w (%d entries without metadata); the cursor stays at %s to fetch them again", exp.ReferenceNumber, ErrCorruptInvoice, b.orphans, next.Format(time.RFC3339Nano))
	}
	return next, done, nil
}

// nextCursor applies the HWM rule: a truncated package continues from its last PermanentStorage
// date; otherwise the cursor moves to the window's end, but never above the high-water mark,
// because invoices in (HWM, now] may still appear with PermanentStorage dates there.
// lastPS, the latest date in the package's metadata, stands in if a truncated package omits it.
func nextCursor(pkg *ksef.ExportPackage, w exportRange, restricted bool, lastPS time.Time) (time.Time, bool) {
	if pkg.IsTruncated {
		if pkg.LastPermanentStorageDate != nil {
			return *pkg.LastPermanentStorageDate, false
		}
		return lastPS, lastPS.IsZero() // zero: keep the cursor and stop rather than skip the rest
	}
	hwm := pkg.PermanentStorageHwmDate
	if restricted && hwm != nil && (w.To == nil || !hwm.After(*w.To)) {
		return *hwm, true
	}
	if w.To != nil {
		return *w.To, w.Last
	}
	return time.Time{}, true // no HWM reported: keep the cursor, the next cycle repeats the range
}

// flushEvery bounds how many invoices wait in one file batch (each keeps two temp files open).
const flushEvery = 256

// batch is what one export delivered.
type batch struct {
	subject      string
	files        atomicfile.Batch
	staged       []stagedInvoice // written to temp files, not yet durable under their names
	recorded     int             // invoices made durable and recorded in the journal
	firstCorrupt time.Time       // earliest PermanentStorage date of an invoice not delivered intact
	lastPS       time.Time       // latest PermanentStorage date in the package's metadata
	orphans      int             // archive entries without a metadata record
	seen         map[string]bool
}

// stagedInvoice is an invoice waiting in the file batch; fresh is false when its XML was on disk
// already from an interrupted run.
type stagedInvoice struct {
	d     spool.Delivered
	fresh bool
}

func (b *batch) markBad(ps time.Time) {
	if b.firstCorrupt.IsZero() || ps.Before(b.firstCorrupt) {
		b.firstCorrupt = ps
	}
}

func (p *Puller) deliver(ctx context.Context, subject string, exp *ksef.Export, pkg *ksef.ExportPackage, st *PullStats) (*batch, error) {
	b := &batch{subject: subject, seen: map[string]bool{}}
	defer b.files.Abort() // only what an error left staged
	if len(pkg.Parts) == 0 {
		return b, nil
	}
	if err := os.MkdirAll(p.o.TempDir, 0o700); err != nil {
		return nil, err
	}
	arch, err := p.o.Client.DownloadExport(ctx, exp, pkg, p.o.TempDir)
	if err != nil {
		return nil, err
	}
	defer arch.Close()
	meta := make(map[string]int, len(arch.Metadata))
	for i := range arch.Metadata {
		meta[strings.ToLower(arch.Metadata[i].KsefNumber)] = i
		if ps := arch.Metadata[i].PermanentStorageDate; ps.After(b.lastPS) {
			b.lastPS = ps
		}
	}
	err = arch.Walk(func(name string, r io.Reader) error {
		number := strings.TrimSuffix(name, filepath.Ext(name))
		i, ok := meta[strings.ToLower(number)]
		if !ok {
			b.orphans++
			p.log.Error("archive entry without a metadata record; nothing written", "entry", name, "subject", subject)
			return nil
		}
		var raw json.RawMessage
		if i < len(arch.RawMetadata) {
			raw = arch.RawMetadata[i]
		}
		return p.deliverOne(ctx, subject, r, &arch.Metadata[i], raw, b, st)
	})
	if err == nil {
		err = p.flush(ctx, b, st)
	}
	if err != nil {
		return nil, err
	}
	for i := range arch.Metadata {
		if m := &arch.Metadata[i]; !b.seen[strings.ToUpper(m.KsefNumber)] {
			st.Corrupt++
			b.markBad(m.PermanentStorageDate)
			p.log.Error("invoice listed in _metadata.json is missing from the package; nothing written", "ksef_number", m.KsefNumber, "subject", subject)
		}
	}
	return b, nil
}

func (p *Puller) deliverOne(ctx context.Context, subject string, r io.Reader, m *ksef.InvoiceMetadata, raw json.RawMessage, b *batch, st *PullStats) error {
	key := strings.ToUpper(m.KsefNumber)
	if b.seen[key] {
		st.Skipped++
		return nil
	}
	b.seen[key] = true
	if !p.o.OneOff {
		done, err := p.o.Journal.IsDelivered(ctx, p.o.NIP, m.KsefNumber)
		if err != nil {
			return err
		}
		if done {
			st.Skipped++
			return nil
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(data); base64.StdEncoding.EncodeToString(sum[:]) != m.InvoiceHash {
		st.Corrupt++
		b.markBad(m.PermanentStorageDate)
		p.log.Error("invoice bytes do not match their metadata hash; nothing written", "ksef_number", m.KsefNumber, "subject", subject)
		return nil
	}
	path, fresh, err := p.write(&b.files, subject, m, raw, data)
	if err != nil {
		return err
	}
	b.staged = append(b.staged, stagedInvoice{fresh: fresh,
		d: spool.Delivered{KsefNumber: m.KsefNumber, Subject: subject, Path: path, PermanentStorageDate: m.PermanentStorageDate}})
	if len(b.staged) >= flushEvery {
		return p.flush(ctx, b, st)
	}
	return nil
}

// flush makes the staged files durable under their names (one flush for the whole batch), then
// records them in the journal. The cursor moves separately, after the whole package.
func (p *Puller) flush(ctx context.Context, b *batch, st *PullStats) error {
	if len(b.staged) == 0 {
		return nil
	}
	if err := b.files.Commit(); err != nil {
		return fmt.Errorf("write inbox files: %w", err)
	}
	ds := make([]spool.Delivered, len(b.staged))
	for i, s := range b.staged {
		ds[i] = s.d
		if s.fresh {
			st.Written++
			p.log.Info("invoice received", "ksef_number", s.d.KsefNumber, "subject", b.subject, "file", s.d.Path)
		} else {
			st.Skipped++
			p.log.Info("invoice already in the inbox from an interrupted pull; recorded", "ksef_number", s.d.KsefNumber, "subject", b.subject, "file", s.d.Path)
		}
	}
	b.staged = b.staged[:0]
	b.recorded += len(ds)
	if p.o.OneOff {
		return nil
	}
	return p.o.Journal.CommitPull(ctx, p.o.NIP, b.subject, time.Time{}, ds)
}

// write stages the invoice and its metadata record in files; the JSON goes last so an ERP that
// waits for it finds the XML complete. An XML already on disk with the right hash (a pull killed
// before its journal commit) is not written again, so the inbox never sees the same invoice twice.
func (p *Puller) write(files *atomicfile.Batch, subject string, m *ksef.InvoiceMetadata, raw json.RawMessage, data []byte) (string, bool, error) {
	rel, err := expandLayout(p.o.Layout, subject, m)
	if err != nil {
		return "", false, err
	}
	base := filepath.Join(p.o.Inbox, rel)
	dir := filepath.Dir(base)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	p.sweep(dir)
	js, err := metadataJSON(m, raw)
	if err != nil {
		return "", false, err
	}
	xmlPath, jsonPath := base+".xml", base+".json"
	if sameHash(xmlPath, m.InvoiceHash) {
		if _, err := os.Stat(jsonPath); err == nil {
			return xmlPath, false, nil
		}
		return xmlPath, false, files.Write(jsonPath, js, 0o644)
	}
	if err := files.Write(xmlPath, data, 0o644); err != nil {
		return "", false, err
	}
	if err := files.Write(jsonPath, js, 0o644); err != nil {
		return "", false, err
	}
	return xmlPath, true, nil
}

// sweep removes temp files of atomic writes a killed process left in dir, once per cycle.
func (p *Puller) sweep(dir string) {
	if p.swept[dir] {
		return
	}
	p.swept[dir] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && atomicfile.TempName(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
				p.log.Info("removed an interrupted inbox write", "file", filepath.Join(dir, e.Name()))
			}
		}
	}
}

func sameHash(path, want string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:]) == want
}

// metadataJSON is the invoice's _metadata.json record as KSeF sent it (indented), or the decoded
// record when the raw one is not available.
func metadataJSON(m *ksef.InvoiceMetadata, raw json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	if len(raw) > 0 && json.Indent(&buf, raw, "", "  ") == nil {
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(js, '\n'), nil
}

// expandLayout fills the inbox path template. Year and month come from the acquisition date (the
// legal receipt date). Values from KSeF are checked, so a hostile record cannot escape the inbox.
func expandLayout(layout, subject string, m *ksef.InvoiceMetadata) (string, error) {
	t := m.AcquisitionDate
	if t.IsZero() {
		t = m.PermanentStorageDate
	}
	t = t.In(warsaw)
	if m.KsefNumber == "" {
		return "", fmt.Errorf("%w: invoice metadata without a KSeF number", ksef.ErrArchiveRejected)
	}
	for _, v := range []string{m.KsefNumber, m.Seller.Nip} {
		if !safeName(v) {
			return "", fmt.Errorf("%w: unsafe value %q in invoice metadata", ksef.ErrArchiveRejected, v)
		}
	}
	rel := strings.NewReplacer(
		"{subject}", subject,
		"{yyyy}", t.Format("2006"),
		"{mm}", t.Format("01"),
		"{dd}", t.Format("02"),
		"{ksefNumber}", m.KsefNumber,
		"{sellerNip}", m.Seller.Nip,
	).Replace(layout)
	rel = filepath.Clean(filepath.FromSlash(rel))
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("inbox layout %q gives %q, which is outside the inbox", layout, rel)
	}
	return rel, nil
}

// safeName accepts what KSeF numbers and NIPs consist of: letters, digits and hyphens.
func safeName(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return false
		}
	}
	return true
}

var warsaw = loadWarsaw()

func loadWarsaw() *time.Location {
	if loc, err := time.LoadLocation("Europe/Warsaw"); err == nil {
		return loc
	}
	return time.UTC
}

// exportTimesKey is the journal meta key holding the start times of the last hour's exports, so the
// budget holds across restarts and between `pull` runs and the daemon.
const exportTimesKey = "pull_export_times"

func (p *Puller) recentExports(ctx context.Context) ([]time.Time, error) {
	v, ok, err := p.o.Journal.Meta(ctx, exportTimesKey)
	if err != nil || !ok {
		return nil, err
	}
	var all []time.Time
	if err := json.Unmarshal([]byte(v), &all); err != nil {
		p.log.Warn("export budget record unreadable; starting afresh", "err", err)
		return nil, nil
	}
	cut := p.o.Now().Add(-time.Hour)
	recent := all[:0]
	for _, t := range all {
		if t.After(cut) {
			recent = append(recent, t)
		}
	}
	return recent, nil
}

// reserveExport records an export about to start, or reports that the last hour's budget is spent.
// Every POST counts against KSeF's limit, also one that fails, so the record comes first.
func (p *Puller) reserveExport(ctx context.Context) (bool, error) {
	recent, err := p.recentExports(ctx)
	if err != nil || len(recent) >= p.o.ExportsPerHour {
		return false, err
	}
	v, err := json.Marshal(append(recent, p.o.Now().UTC()))
	if err != nil {
		return false, err
	}
	return true, p.o.Journal.SetMeta(ctx, exportTimesKey, string(v))
}
