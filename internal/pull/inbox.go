package pull

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/plzone"
	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// flushEvery bounds how many invoices wait in one file batch (each keeps two temp files open).
const flushEvery = 256

// batch is what one export delivered.
type batch struct {
	subject   string
	files     atomicfile.Batch
	staged    []stagedInvoice   // written to temp files, not yet durable under their names
	delivered []spool.Delivered // durable in the inbox; recorded in the journal with the cursor
	out       outcome
	seen      map[string]bool
	// known are the package's KSeF numbers (as its metadata spells them) delivered by an earlier pull
	known map[string]bool
}

// stagedInvoice is an invoice waiting in the file batch; fresh is false when its XML was on disk
// already from an interrupted run.
type stagedInvoice struct {
	d     spool.Delivered
	fresh bool
	qr    string // KOD I link for the readable copy
}

func (b *batch) markBad(ps time.Time) {
	if !b.out.corrupt || ps.Before(b.out.firstCorrupt) {
		b.out.firstCorrupt = ps
	}
	b.out.corrupt = true
}

func (b *batch) outcome() outcome { return b.out }

// deliver downloads the package and makes every intact invoice not delivered before durable in the
// inbox. Nothing reaches the journal here: the caller records the deliveries with the cursor.
func (p *Puller) deliver(ctx context.Context, subject string, exp *ksef.Export, pkg *ksef.ExportPackage, st *Stats) (*batch, error) {
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
	b.out.entries = len(arch.Metadata)
	meta := make(map[string]int, len(arch.Metadata))
	numbers := make([]string, len(arch.Metadata))
	for i := range arch.Metadata {
		numbers[i] = arch.Metadata[i].KsefNumber
		meta[strings.ToLower(numbers[i])] = i
		if ps := arch.Metadata[i].PermanentStorageDate; ps.After(b.out.lastPS) {
			b.out.lastPS = ps
		}
	}
	if !p.o.OneOff {
		if b.known, err = p.o.Journal.DeliveredAmong(ctx, p.o.NIP, numbers); err != nil {
			return nil, err
		}
	}
	err = arch.Walk(func(name string, r io.Reader) error {
		number := strings.TrimSuffix(name, filepath.Ext(name))
		i, ok := meta[strings.ToLower(number)]
		if !ok {
			b.out.orphans++
			p.log.Error("archive entry without a metadata record; nothing written", "entry", name, "subject", subject)
			return nil
		}
		return p.deliverOne(ctx, subject, r, &arch.Metadata[i], b, st)
	})
	if err == nil {
		err = p.flush(b, st)
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

// deliverOne decodes the invoice's metadata record only now, so a package's records are held once
// (raw) while it is read. The KSeF number kept for the journal and the seen set is the record's own
// string, not a copy per invoice.
func (p *Puller) deliverOne(ctx context.Context, subject string, r io.Reader, rec *ksef.MetadataRecord, b *batch, st *Stats) error {
	key := strings.ToUpper(rec.KsefNumber)
	if b.seen[key] {
		st.Skipped++
		return nil
	}
	b.seen[key] = true
	if b.known[rec.KsefNumber] {
		st.Skipped++
		return nil
	}
	m, err := rec.Decode()
	if err != nil {
		return err
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
	path, fresh, err := p.write(&b.files, subject, &m, rec.Raw, data)
	if err != nil {
		return err
	}
	b.staged = append(b.staged, stagedInvoice{fresh: fresh, qr: p.qrCodeI(&m),
		d: spool.Delivered{KsefNumber: rec.KsefNumber, Subject: subject, Path: path, PermanentStorageDate: rec.PermanentStorageDate}})
	if len(b.staged) >= flushEvery {
		return p.flush(b, st)
	}
	return nil
}

// flush makes the staged files durable under their names (one flush for the whole batch). They are
// recorded in the journal later, together with the cursor; a crash before that leaves files that
// the next pull recognises by their hash and records without writing them again.
func (p *Puller) flush(b *batch, st *Stats) error {
	if len(b.staged) == 0 {
		return nil
	}
	if err := b.files.Commit(); err != nil {
		return fmt.Errorf("write inbox files: %w", err)
	}
	for _, s := range b.staged {
		b.delivered = append(b.delivered, s.d)
		if s.fresh {
			st.Written++
			p.log.Info("invoice received", "ksef_number", s.d.KsefNumber, "subject", b.subject, "file", s.d.Path)
		} else {
			st.Skipped++
			p.log.Info("invoice already in the inbox from an interrupted pull; recorded", "ksef_number", s.d.KsefNumber, "subject", b.subject, "file", s.d.Path)
		}
		p.queueReadable(s, s.fresh)
	}
	b.staged = b.staged[:0]
	return nil
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

var warsaw = plzone.Warsaw

// queueReadable hands a delivered invoice to the background renderer for its PDF beside the XML.
// An invoice found already in the inbox (a pull killed before its journal commit) is handed over
// only when a copy is missing: that pull may have died before rendering it.
func (p *Puller) queueReadable(s stagedInvoice, fresh bool) {
	if p.o.Readable == nil {
		return
	}
	j := inboxJob(s.d, s.qr)
	if m, ok := p.o.Readable.(interface{ Missing(readable.Job) bool }); !fresh && (!ok || !m.Missing(j)) {
		return
	}
	p.o.Readable.Add(j)
}

// inboxJob is the rendering of a delivered invoice's copies beside its XML.
func inboxJob(d spool.Delivered, qr string) readable.Job {
	return readable.Job{InvoicePath: d.Path, Dir: filepath.Dir(d.Path),
		Stem: strings.TrimSuffix(filepath.Base(d.Path), ".xml"), KsefNumber: d.KsefNumber, QRCodeI: qr}
}

// DeliveredJournal is what RequeueReadable reads.
type DeliveredJournal interface {
	DeliveredSince(ctx context.Context, nip string, since time.Time) ([]spool.Delivered, []time.Time, error)
}

// RequeueReadable hands q every invoice delivered for nip since since whose readable copies are
// missing: the render queue lives in memory, so a process killed before rendering them leaves them
// to the next one. The KOD I link comes from the metadata JSON beside the XML, as when it was
// delivered. Each job keeps the time its delivery was recorded (readable.Job.Queued). It returns
// how many were queued.
func RequeueReadable(ctx context.Context, j DeliveredJournal, nip, qrBase string, since time.Time, q *readable.Queue) (int, error) {
	ds, at, err := j.DeliveredSince(ctx, nip, since)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, d := range ds {
		job := inboxJob(d, "")
		if job.Queued = at[i]; !q.Missing(job) {
			continue
		}
		var m ksef.InvoiceMetadata
		if b, err := os.ReadFile(strings.TrimSuffix(d.Path, ".xml") + ".json"); err == nil && json.Unmarshal(b, &m) == nil {
			job.QRCodeI = qrCodeI(qrBase, &m)
		}
		q.Add(job)
		n++
	}
	return n, nil
}

// qrCodeI is the invoice's KOD I link, from its metadata; "" when a part is missing.
func (p *Puller) qrCodeI(m *ksef.InvoiceMetadata) string { return qrCodeI(p.o.QRBase, m) }

func qrCodeI(qrBase string, m *ksef.InvoiceMetadata) string {
	issue, err := time.Parse("2006-01-02", m.IssueDate)
	hash, herr := base64.StdEncoding.DecodeString(m.InvoiceHash)
	if qrBase == "" || err != nil || herr != nil {
		return ""
	}
	return ksef.QRCodeI(qrBase, m.Seller.Nip, issue, hash)
}
