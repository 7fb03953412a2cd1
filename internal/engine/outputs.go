package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/readable"
	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/spool"
)

// outputJournal is what writing outputs uses.
type outputJournal interface {
	ByStatePage(ctx context.Context, nip string, state spool.State, after int64, limit int) ([]spool.Invoice, error)
	ReserveOutputs(ctx context.Context, stems map[int64]string) error
	MarkDone(ctx context.Context, upoPaths map[int64]string) error
	SetMeta(ctx context.Context, key, value string) error
	Sessions(ctx context.Context, nip string, states ...string) ([]spool.Session, error)
	Original(ctx context.Context, inv *spool.Invoice) ([]byte, error)
	Registered(ctx context.Context, inv *spool.Invoice) ([]byte, error)
	CopiesInJournal(ctx context.Context, ids []int64) (map[int64][]byte, error)
}

// outputKSeF is what writing outputs asks of KSeF: the UPO.
type outputKSeF interface {
	DownloadInvoiceUPO(ctx context.Context, url, ksefNumber string) ([]byte, error)
	InvoiceUPOByKsefNumber(ctx context.Context, sessionRef, ksefNumber string) ([]byte, error)
}

// outputWorkers bounds parallel UPO downloads and file writes; fsync latency, not CPU, is the limit.
const outputWorkers = 8

// SentRecord is the content of sent/<name>.ksef.json. Its field names are a contract with ERPs.
type SentRecord struct {
	KsefNumber             string     `json:"ksefNumber"`
	InvoiceNumber          string     `json:"invoiceNumber"`
	InvoiceHash            string     `json:"invoiceHash"`
	SessionReferenceNumber string     `json:"sessionReferenceNumber"`
	ReferenceNumber        string     `json:"referenceNumber"`
	AcquisitionDate        *time.Time `json:"acquisitionDate"`
	Mode                   string     `json:"mode"`
	QRCodeI                string     `json:"qrCodeI"`
	SellerNIP              string     `json:"sellerNip"`
	IssueDate              string     `json:"issueDate,omitempty"`
	FileName               string     `json:"fileName"`
	// UPOFile names the UPO beside it; null when KSeF would not give the UPO, and then UPOMissing
	// says why (a duplicate whose original another tool registered, issue 10 §7).
	UPOFile    *string `json:"upoFile"`
	UPOMissing string  `json:"upoMissing,omitempty"`
	Conversion string  `json:"conversion"` // "" when the bytes were registered as written
	// OfflineMode is what we declared (sent with offlineMode: true); InvoicingMode is what KSeF
	// says (Online or Offline); CorrectionOf names the rejected invoice a technical correction
	// corrects (issue 14).
	OfflineMode   bool          `json:"offlineMode"`
	InvoicingMode string        `json:"invoicingMode,omitempty"`
	CorrectionOf  *CorrectionOf `json:"correctionOf,omitempty"`
	// Company is the configured name of the company the invoice was sent for (issue 13).
	Company string `json:"company"`
}

// ErrorRecord is the content of error/<name>.error.json. Its field names are a contract with ERPs.
type ErrorRecord struct {
	Code                   string   `json:"code"`               // always text: KSeF's status code ("450") or a local one ("not-xml")
	KsefCode               int      `json:"ksefCode,omitempty"` // KSeF's status code as a number (stage ksef)
	Description            string   `json:"description"`
	Details                []string `json:"details"`
	Stage                  string   `json:"stage"`
	Hint                   string   `json:"hint"`
	FileName               string   `json:"fileName"`
	InvoiceNumber          string   `json:"invoiceNumber"`          // P_2; "" when the file could not be read that far
	SessionReferenceNumber string   `json:"sessionReferenceNumber"` // "" at stage validation: nothing was sent
	ReferenceNumber        string   `json:"referenceNumber"`        // likewise
	Time                   string   `json:"time"`
	Company                string   `json:"company"` // the configured company name (issue 13)
}

// writeOutputs turns accepted and rejected invoices into files in sent/ and error/, then marks
// them done. Names are reserved in the journal first, so a crash mid-write rewrites the same names
// instead of inventing new ones. The invoices are read a part at a time (accepted, then rejected,
// each in id order): a burst's 10,000 accepted records read at once were the live heap's peak.
func (e *Engine) writeOutputs(ctx context.Context) error {
	return e.writeOutputsOf(ctx, spool.StateAccepted, spool.StateRejected)
}

// writeOutputsOf is writeOutputs for the invoices in states only.
func (e *Engine) writeOutputsOf(ctx context.Context, states ...spool.State) error {
	taken := map[string]map[string]bool{} // names in the output folders, listed once for all parts
	var render []readable.Job
	defer func() { e.queueReadable(render) }()
	var naming error // naming failed: this part and every one after it wait for their next try
	var wait time.Duration
	for _, state := range states {
		for after := int64(0); ; {
			page, err := e.outJ.ByStatePage(ctx, e.opt.NIP, state, after, journalPart)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].ID
			part := e.outputsDue(page)
			if naming == nil {
				naming = e.reserveStems(ctx, part, taken)
				if naming == nil {
					if err := e.writeOutputPart(ctx, part, &render); err != nil {
						return err
					}
				}
			}
			if naming != nil {
				for _, inv := range part {
					wait, _ = e.outGate.failed(inv.ID, e.now(), naming)
				}
			}
			if len(page) < journalPart {
				break
			}
		}
	}
	if naming != nil {
		return fmt.Errorf("%w (next try in %s)", naming, wait)
	}
	return nil
}

// journalPart is how many invoices' outputs are read, named, written and recorded together, and
// how many verdicts one transaction records. A burst's 10,000 in one go held every record twice
// at the heap's peak (the list and the records one transaction changed); a part at a time keeps
// one part, for nine more small transactions and queries.
const journalPart = 1000

// writeOutputPart writes the outputs of part, whose names are reserved, and marks them done. The
// readable copies of the invoices done are added to render: they are queued once every part is
// written, so rendering them (a few milliseconds of CPU each) never delays the next part's
// .ksef.json.
func (e *Engine) writeOutputPart(ctx context.Context, part []spool.Invoice, render *[]readable.Job) error {
	done := e.writeAll(ctx, part)
	upoPaths := make(map[int64]string, len(done))
	missing := make(map[int64]string)
	for _, inv := range part {
		if !done[inv.ID] {
			continue
		}
		upoPaths[inv.ID] = ""
		if inv.State != spool.StateAccepted {
			continue
		}
		if why := e.noUPO.take(inv.ID); why != "" {
			missing[inv.ID] = why // no UPO file: the journal keeps an empty UPO path, which status reports
			continue
		}
		upoPaths[inv.ID] = filepath.Join(e.opt.Folders.Sent, inv.OutputStem+".upo.xml")
	}
	if err := e.outJ.MarkDone(ctx, upoPaths); err != nil {
		return err
	}
	for _, inv := range part {
		if !done[inv.ID] {
			continue
		}
		if why, ok := missing[inv.ID]; ok {
			e.log.Warn("outputs written WITHOUT a UPO", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateDone,
				"output", inv.OutputStem, "ksef_number", inv.KsefNumber, "reason", why)
		} else {
			e.log.Info("outputs written", "file", inv.FileName, "invoice", inv.ID, "state", spool.StateDone,
				"outcome", inv.Outcome, "output", inv.OutputStem, "ksef_number", inv.KsefNumber)
		}
		if e.readable != nil && inv.State == spool.StateAccepted {
			*render = append(*render, e.readableJob(&inv, upoPaths[inv.ID]))
		}
	}
	_ = e.outJ.SetMeta(ctx, e.metaKey("last_send_output"), e.now().UTC().Format(time.RFC3339))
	return nil
}

// reserveStems picks an output name for every invoice that has none: the input's base name, or
// the first "-N" variant that takes no existing file in the target folder nor a name taken
// already (taken: the lower-case names by folder, listed on first use and kept up to date).
func (e *Engine) reserveStems(ctx context.Context, final []spool.Invoice, taken map[string]map[string]bool) error {
	chosen := map[int64]string{}
	for i := range final {
		inv := &final[i]
		if inv.OutputStem != "" {
			continue
		}
		dir := e.outputDir(inv)
		if taken[dir] == nil {
			names, err := listLower(dir)
			if err != nil {
				return err
			}
			taken[dir] = names
		}
		inv.OutputStem = uniqueStem(taken[dir], stemOf(inv.FileName), suffixesFor(inv))
		chosen[inv.ID] = inv.OutputStem
	}
	if len(chosen) == 0 {
		return nil
	}
	return e.outJ.ReserveOutputs(ctx, chosen)
}

func (e *Engine) outputDir(inv *spool.Invoice) string {
	if inv.State == spool.StateAccepted {
		return e.opt.Folders.Sent
	}
	return e.opt.Folders.Error
}

func suffixesFor(inv *spool.Invoice) []string {
	if inv.State == spool.StateAccepted {
		// the readable copies (.pdf, .html and their .upo siblings) reserve their names too
		return []string{".xml", ".upo.xml", ".ksef.json", ".pdf", ".upo.pdf", ".html", ".upo.html"}
	}
	return []string{".xml", ".error.json"}
}

func stemOf(fileName string) string {
	ext := filepath.Ext(fileName)
	if strings.EqualFold(ext, ".xml") {
		return strings.TrimSuffix(fileName, ext)
	}
	return fileName
}

func uniqueStem(taken map[string]bool, base string, suffixes []string) string {
	for n := 1; ; n++ {
		stem := base
		if n > 1 {
			stem = base + "-" + strconv.Itoa(n)
		}
		free := true
		for _, s := range suffixes {
			if taken[strings.ToLower(stem+s)] {
				free = false
				break
			}
		}
		if free {
			for _, s := range suffixes {
				taken[strings.ToLower(stem+s)] = true
			}
			return stem
		}
	}
}

func listLower(dir string) (map[string]bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(entries))
	for _, en := range entries {
		m[strings.ToLower(en.Name())] = true
	}
	return m, nil
}

// outputChunk is how many invoices one worker stages before committing their files together.
const outputChunk = 64

// writeAll writes every invoice's outputs with a few workers and reports which succeeded. Each
// worker stages a chunk of invoices' files and commits them with one flush (atomicfile.Batch).
func (e *Engine) writeAll(ctx context.Context, final []spool.Invoice) map[int64]bool {
	var mu sync.Mutex
	done := make(map[int64]bool, len(final))
	work := make(chan []spool.Invoice)
	var wg sync.WaitGroup
	for range min(outputWorkers, (len(final)+outputChunk-1)/outputChunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for chunk := range work {
				ok := e.writeChunk(ctx, chunk)
				mu.Lock()
				for _, id := range ok {
					done[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < len(final) && ctx.Err() == nil; i += outputChunk {
		work <- final[i:min(i+outputChunk, len(final))]
	}
	close(work)
	wg.Wait()
	return done
}

// writeChunk stages the outputs of a chunk of invoices and commits them together.
func (e *Engine) writeChunk(ctx context.Context, chunk []spool.Invoice) []int64 {
	var b atomicfile.Batch
	var staged []int64
	copies := e.outputCopies(ctx, chunk)
	for i := range chunk {
		inv := &chunk[i]
		if err := e.stageOne(ctx, &b, inv, copies); err != nil {
			d, _ := e.outGate.failed(inv.ID, e.now(), err)
			e.log.Warn("writing outputs failed; will retry", "file", inv.FileName, "invoice", inv.ID, "retry_in", d, "err", err)
			continue
		}
		staged = append(staged, inv.ID)
	}
	if err := b.Commit(); err != nil {
		var d time.Duration
		for _, id := range staged {
			d, _ = e.outGate.failed(id, e.now(), err)
		}
		e.log.Warn("writing outputs failed; will retry", "invoices", len(staged), "retry_in", d, "err", err)
		return nil
	}
	for _, id := range staged {
		e.outGate.succeeded(id)
	}
	return staged
}

// outputsDue drops the invoices whose outputs failed recently and wait for their next try.
func (e *Engine) outputsDue(final []spool.Invoice) []spool.Invoice {
	now := e.now()
	due := final[:0]
	for _, inv := range final {
		if e.outGate.due(inv.ID, now) {
			due = append(due, inv)
		}
	}
	return due
}

// outputCopies reads the journal's copies of the chunk's invoices with one query: the registered
// bytes go to sent/, the original bytes of a rejected invoice to error/. On failure each invoice
// reads its own (and reports its own error).
func (e *Engine) outputCopies(ctx context.Context, chunk []spool.Invoice) map[int64][]byte {
	var ids []int64
	for i := range chunk {
		if path := outputCopyPath(&chunk[i]); path == spool.InJournal {
			ids = append(ids, chunk[i].ID)
		}
	}
	copies, err := e.outJ.CopiesInJournal(ctx, ids)
	if err != nil {
		return nil
	}
	return copies
}

// outputCopyPath is where the bytes an invoice's outputs copy are kept.
func outputCopyPath(inv *spool.Invoice) string {
	if inv.State == spool.StateAccepted {
		return inv.RegisteredPath
	}
	return inv.SpoolPath
}

func (e *Engine) stageOne(ctx context.Context, b *atomicfile.Batch, inv *spool.Invoice, copies map[int64][]byte) error {
	files, err := e.outputFiles(ctx, inv, copies)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := b.Write(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type outputFile struct {
	path string
	data []byte
}

// outputFiles assembles an invoice's output files. For an accepted invoice the JSON comes last:
// files are renamed in order, so an ERP that waits for it finds the XML and the UPO already there.
// copies holds the journal's copies read for the chunk (outputCopies).
func (e *Engine) outputFiles(ctx context.Context, inv *spool.Invoice, copies map[int64][]byte) ([]outputFile, error) {
	if inv.State == spool.StateAccepted {
		return e.sentFiles(ctx, inv, copies)
	}
	return e.errorFiles(ctx, inv, copies)
}

func (e *Engine) sentFiles(ctx context.Context, inv *spool.Invoice, copies map[int64][]byte) ([]outputFile, error) {
	upo, missing, err := e.upoOrReason(ctx, inv)
	if err != nil {
		return nil, err
	}
	data, err := registered(ctx, e.outJ, copies, inv)
	if err != nil {
		return nil, err
	}
	rec, err := e.sentRecord(inv)
	if err != nil {
		return nil, err
	}
	if missing != nil {
		rec.UPOMissing = missing.text(e.opt.Lang)
		rec.UPOFile = nil
	}
	js, err := marshalRecord(rec)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(e.opt.Folders.Sent, inv.OutputStem)
	files := []outputFile{{base + xmlExt(inv.FileName), data}}
	if missing == nil {
		files = append(files, outputFile{base + ".upo.xml", upo})
		e.noUPO.take(inv.ID) // a reason left by an earlier try whose files were not committed
	} else {
		e.noUPO.set(inv.ID, missing.text(msg.EN)) // for the log line, which stays English
	}
	return append(files, outputFile{base + ".ksef.json", js}), nil
}

func (e *Engine) sentRecord(inv *spool.Invoice) (*SentRecord, error) {
	hash, err := base64.StdEncoding.DecodeString(inv.RegisteredHash)
	if err != nil {
		return nil, fmt.Errorf("registered hash of %s: %w", inv.FileName, err)
	}
	return &SentRecord{
		KsefNumber:             inv.KsefNumber,
		InvoiceNumber:          inv.InvoiceNumber,
		InvoiceHash:            inv.RegisteredHash,
		SessionReferenceNumber: inv.SessionRef,
		ReferenceNumber:        inv.InvoiceRef,
		AcquisitionDate:        inv.AcquisitionDate,
		Mode:                   inv.Mode,
		QRCodeI:                e.qrCodeI(inv, hash),
		SellerNIP:              e.sellerNIP(inv),
		Company:                e.opt.Company,
		IssueDate:              inv.IssueDate,
		FileName:               inv.FileName,
		UPOFile:                ptr(inv.OutputStem + ".upo.xml"),
		Conversion:             inv.Conversion,
		OfflineMode:            declaresOffline(inv),
		InvoicingMode:          inv.InvoicingMode,
		CorrectionOf:           correctionOf(inv),
	}, nil
}

// fetchUPO prefers a copy we already hold, then the pre-signed URL (no API budget), and only then
// the rate-limited UPO endpoint.
func (e *Engine) fetchUPO(ctx context.Context, inv *spool.Invoice) ([]byte, error) {
	if inv.UpoPath != "" {
		if b, err := os.ReadFile(inv.UpoPath); err == nil {
			return b, nil
		}
	}
	if inv.UpoURL != "" {
		b, err := e.outK.DownloadInvoiceUPO(ctx, inv.UpoURL, inv.KsefNumber) // only a UPO that names our invoice
		if err == nil {
			return b, nil
		}
		e.log.Info("pre-signed UPO link failed; using the UPO endpoint", "invoice", inv.ID, "err", err)
	}
	if inv.SessionRef == "" {
		return nil, errNoUPOSession
	}
	b, err := e.outK.InvoiceUPOByKsefNumber(ctx, inv.SessionRef, inv.KsefNumber)
	if err != nil {
		return nil, fmt.Errorf("download UPO for %s: %w", inv.KsefNumber, err)
	}
	return b, nil
}

func (e *Engine) errorFiles(ctx context.Context, inv *spool.Invoice, copies map[int64][]byte) ([]outputFile, error) {
	orig, ok := copies[inv.ID]
	if !ok || inv.SpoolPath != spool.InJournal {
		var err error
		if orig, err = e.outJ.Original(ctx, inv); err != nil {
			return nil, err
		}
	}
	rec := ErrorRecord{
		Code:                   errorCode(inv),
		KsefCode:               ksefCode(inv),
		Description:            inv.ErrDescription,
		Details:                nonNil(inv.ErrDetails),
		Stage:                  inv.ErrStage,
		Hint:                   inv.ErrHint,
		FileName:               inv.FileName,
		InvoiceNumber:          inv.InvoiceNumber,
		SessionReferenceNumber: inv.SessionRef,
		ReferenceNumber:        inv.InvoiceRef,
		Time:                   e.now().UTC().Format(time.RFC3339),
		Company:                e.opt.Company,
	}
	js, err := marshalRecord(rec)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(e.opt.Folders.Error, inv.OutputStem)
	return []outputFile{{base + xmlExt(inv.FileName), orig}, {base + ".error.json", js}}, nil
}

// errorCode is always text: KSeF's status code for rejections by KSeF ("450"), and a stable text
// code ("not-xml", "wrong-seller-nip", …) for rejections found before sending.
func errorCode(inv *spool.Invoice) string {
	if inv.ErrStage == "validation" {
		return inv.ErrKind
	}
	return strconv.Itoa(inv.ErrCode)
}

// ksefCode is KSeF's status code as a number for rejections by KSeF, 0 (left out) otherwise.
func ksefCode(inv *spool.Invoice) int {
	if inv.ErrStage == "validation" {
		return 0
	}
	return inv.ErrCode
}

// marshalRecord renders an output record as indented JSON with a final newline. '<', '>' and '&'
// stay as they are: invoice numbers and KSeF's messages quote XML, and ERPs read the text.
func marshalRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// xmlExt is the extension the invoice's copy in sent/ or error/ gets: the input's own ".xml" in
// whatever case it was written ("FV 1.XML" stays "FV 1.XML"), else ".xml".
func xmlExt(fileName string) string {
	if ext := filepath.Ext(fileName); strings.EqualFold(ext, ".xml") {
		return ext
	}
	return ".xml"
}

// qrCodeI is the KOD I verification link. It needs the issue date as a date; an invoice KSeF
// accepted with a P_1 we cannot read as one (a time zone suffix, or a date KSeF did not check)
// still gets its outputs, with the date read from its first ten characters or, failing that, no
// link: the outputs must never wait for a field KSeF did not need.
func (e *Engine) qrCodeI(inv *spool.Invoice, hash []byte) string {
	day := inv.IssueDate
	if len(day) > 10 {
		day = day[:10]
	}
	issue, err := time.Parse("2006-01-02", day)
	if err != nil {
		e.log.Info("issue date (P_1) is not a date; sent without the KOD I link", "file", inv.FileName,
			"invoice", inv.ID, "issue_date", inv.IssueDate)
		return ""
	}
	return ksef.QRCodeI(e.opt.QRBase, e.sellerNIP(inv), issue, hash)
}

// sellerNIP is the NIP of an accepted invoice's seller (Podmiot1), the one KOD I names ("NIP-u
// sprzedawcy", ksef-docs kody-qr.md). It is not always the company's: a company may issue for its
// seller (self-billing, P_17; a Podmiot3 issuer), which validation lets through. KSeF puts the
// seller's NIP at the head of the KSeF number ("9999999999 – NIP sprzedawcy", ksef-docs
// faktury/numer-ksef.md), so it is read from there; the company's NIP only without a number.
func (e *Engine) sellerNIP(inv *spool.Invoice) string {
	if ksef.ValidKsefNumber(inv.KsefNumber) {
		return inv.KsefNumber[:10]
	}
	return e.opt.NIP
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// queueReadable hands accepted invoices, whose outputs now exist, to the background renderer.
// Their .ksef.json are written by then: the readable copies never delay them.
func (e *Engine) queueReadable(jobs []readable.Job) {
	for _, j := range jobs {
		e.readable.Add(j)
	}
}

// readableJob is the rendering of an accepted invoice's copies beside its outputs in sent/.
func (e *Engine) readableJob(inv *spool.Invoice, upoPath string) readable.Job {
	base := filepath.Join(e.opt.Folders.Sent, inv.OutputStem)
	var qr string
	if hash, err := base64.StdEncoding.DecodeString(inv.RegisteredHash); err == nil {
		qr = e.qrCodeI(inv, hash)
	}
	return readable.Job{
		InvoicePath: base + xmlExt(inv.FileName), UPOPath: upoPath,
		Dir: e.opt.Folders.Sent, Stem: inv.OutputStem, KsefNumber: inv.KsefNumber, QRCodeI: qr,
	}
}

// ReadableMissing is what start-up recovery needs of the renderer (a *readable.Queue).
type ReadableMissing interface {
	Missing(readable.Job) bool
}

// RequeueReadable hands the renderer every invoice accepted since since whose readable copies are
// missing: a process killed before rendering them (the render queue lives in memory) leaves them
// to the next one. Each job keeps the time its invoice was recorded (readable.Job.Queued). It
// returns how many were queued.
func (e *Engine) RequeueReadable(ctx context.Context, since time.Time) (int, error) {
	q, ok := e.readable.(ReadableMissing)
	if !ok {
		return 0, nil
	}
	invs, err := e.opt.Journal.AcceptedSince(ctx, e.opt.NIP, since)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range invs {
		j := e.readableJob(&invs[i], invs[i].UpoPath)
		if j.Queued = invs[i].UpdatedAt; q.Missing(j) {
			e.readable.Add(j)
			n++
		}
	}
	return n, nil
}
