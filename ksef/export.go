package ksef

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Export is a started export with its AES key.
type Export struct {
	ReferenceNumber string
	Compression     Compression
	key             symKey
}

// StartExport starts an asynchronous encrypted export of invoices matching f.
func (c *Client) StartExport(ctx context.Context, f QueryFilters, comp Compression) (*Export, error) {
	if comp == "" {
		comp = Zip
	}
	k, err := newSymKey()
	if err != nil {
		return nil, err
	}
	var out struct {
		ReferenceNumber string `json:"referenceNumber"`
	}
	err = c.withEncryption(ctx, k, func(enc encryptionInfo) error {
		body, err := marshalJSON(map[string]any{"encryption": enc, "filters": f, "compressionType": comp})
		if err != nil {
			return err
		}
		// once: a start that may have reached KSeF is not repeated here. Another export would count
		// against the hourly budget and the 10-concurrent limit; the caller decides (issue 10 §6).
		return c.do(ctx, call{method: http.MethodPost, path: "/invoices/exports", body: body, contentType: "application/json",
			bearer: bearerAccess, out: &out, want: []int{http.StatusCreated, http.StatusAccepted, http.StatusOK}, once: true})
	})
	if err != nil {
		return nil, fmt.Errorf("start export: %w", err)
	}
	c.log.Info("export started", "export", out.ReferenceNumber, "subject", f.SubjectType)
	return &Export{ReferenceNumber: out.ReferenceNumber, Compression: comp, key: k}, nil
}

// ExportStatus is GET /invoices/exports/{ref}.
type ExportStatus struct {
	Status                Status
	CompletedDate         *time.Time
	PackageExpirationDate *time.Time
	Package               *ExportPackage
}

// ExportPackage describes a finished export.
type ExportPackage struct {
	InvoiceCount             int
	Size                     int64
	IsTruncated              bool
	LastIssueDate            *time.Time
	LastInvoicingDate        *time.Time
	LastPermanentStorageDate *time.Time
	PermanentStorageHwmDate  *time.Time
	Parts                    []ExportPart
}

// ExportPart is one encrypted part at a pre-signed URL.
type ExportPart struct {
	OrdinalNumber     int       `json:"ordinalNumber"`
	PartName          string    `json:"partName"`
	Method            string    `json:"method"`
	URL               string    `json:"url"`
	PartSize          int64     `json:"partSize"`
	PartHash          string    `json:"partHash"`
	EncryptedPartSize int64     `json:"encryptedPartSize"`
	EncryptedPartHash string    `json:"encryptedPartHash"`
	ExpirationDate    time.Time `json:"expirationDate"`
}

type wireExportStatus struct {
	Status                Status     `json:"status"`
	CompletedDate         *time.Time `json:"completedDate"`
	PackageExpirationDate *time.Time `json:"packageExpirationDate"`
	Package               *struct {
		InvoiceCount             int          `json:"invoiceCount"`
		Size                     int64        `json:"size"`
		IsTruncated              bool         `json:"isTruncated"`
		LastIssueDate            string       `json:"lastIssueDate"` // format: date
		LastInvoicingDate        *time.Time   `json:"lastInvoicingDate"`
		LastPermanentStorageDate *time.Time   `json:"lastPermanentStorageDate"`
		PermanentStorageHwmDate  *time.Time   `json:"permanentStorageHwmDate"`
		Parts                    []ExportPart `json:"parts"`
	} `json:"package"`
}

// ExportStatus fetches an export's status.
func (c *Client) ExportStatus(ctx context.Context, ref string) (*ExportStatus, error) {
	var w wireExportStatus
	if err := c.do(ctx, call{method: http.MethodGet, path: "/invoices/exports/" + pathEscape(ref), bearer: bearerAccess, out: &w}); err != nil {
		return nil, fmt.Errorf("export status: %w", err)
	}
	st := &ExportStatus{Status: w.Status, CompletedDate: w.CompletedDate, PackageExpirationDate: w.PackageExpirationDate}
	if p := w.Package; p != nil {
		st.Package = &ExportPackage{InvoiceCount: p.InvoiceCount, Size: p.Size, IsTruncated: p.IsTruncated,
			LastInvoicingDate: p.LastInvoicingDate, LastPermanentStorageDate: p.LastPermanentStorageDate,
			PermanentStorageHwmDate: p.PermanentStorageHwmDate, Parts: p.Parts}
		if p.LastIssueDate != "" {
			t, err := parseDateOrTime(p.LastIssueDate)
			if err != nil {
				return nil, fmt.Errorf("export status: lastIssueDate: %w", err)
			}
			st.Package.LastIssueDate = &t
		}
		sort.Slice(st.Package.Parts, func(i, j int) bool { return st.Package.Parts[i].OrdinalNumber < st.Package.Parts[j].OrdinalNumber })
	}
	return st, nil
}

func parseDateOrTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// WaitExport polls until the export status leaves 100, at most every interval apart (see
// exportPollDelay). Status 200 returns the
// status; other final codes (420 nothing above the HWM, 415, 500, 550 …) return it too, with the
// package nil — callers decide (420 is not an error for incremental sync).
func (c *Client) WaitExport(ctx context.Context, exp *Export, interval time.Duration) (*ExportStatus, error) {
	return c.AwaitExport(ctx, exp, interval, 0)
}

// ExportRunningError is an export still at status 100 when AwaitExport gave up on it. KSeF leaves
// some exports running for days (CIRFMF/ksef-api #307, #366, #846); they count towards the limit of
// concurrent exports until KSeF drops them.
type ExportRunningError struct {
	ReferenceNumber string
	After           time.Duration
}

func (e *ExportRunningError) Error() string {
	return fmt.Sprintf("ksef: export %s still running after %s", e.ReferenceNumber, e.After)
}

// AwaitExport is WaitExport that gives up once the export has been polled for timeout (measured on
// the client's clock) and is still running, with an *ExportRunningError. A timeout of 0 waits
// forever. A young export is asked about more often than every interval: see exportPollDelay.
func (c *Client) AwaitExport(ctx context.Context, exp *Export, interval, timeout time.Duration) (*ExportStatus, error) {
	start := c.clock.Now()
	for {
		st, err := c.ExportStatus(ctx, exp.ReferenceNumber)
		if err != nil {
			return nil, err
		}
		if st.Status.Code != 100 {
			return st, nil
		}
		if timeout > 0 && c.clock.Now().Sub(start) >= timeout {
			return nil, &ExportRunningError{ReferenceNumber: exp.ReferenceNumber, After: timeout}
		}
		age := c.clock.Now().Sub(start)
		wait := exportPollDelay(age, interval)
		if timeout > 0 {
			wait = min(wait, max(timeout-age, exportFirstPoll)) // give up on time, not a poll later
		}
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// Export status polling: KSeF builds a package in a second or two for a few thousand invoices and
// in minutes for big or busy ones (CIRFMF/ksef-api #307, #366: some hang at 100 for days). Asking
// every interval (2 s by default) made every export, even one ready at once, wait up to a whole
// interval. So the wait before the next poll is an eighth of the export's age, at least
// exportFirstPoll and at most interval: the package is found at most an eighth of its age late, and
// the first 16 s cost about 25 requests. GET /invoices/exports/{ref} allows 10 a second, 60 a minute
// and 600 an hour per context (open-api.json, x-rate-limits of that operation); the subjects are
// pulled one after the other, and the pacer holds any request that would exceed a window.
//
// An export still running after exportPatientAfter is one of KSeF's slow or stuck ones: from then
// on the wait keeps growing with its age up to exportSlowPoll (or interval, if longer). Held at
// 2 s, one hung export asked 30 times a minute spent our share of the 600 an hour after 18 minutes,
// and the pacer then held its next question for about 40 more, so an export_timeout of 20 minutes
// ended after an hour (and any other export of the context waited as long). Now a 20-minute hang
// costs about 100 questions.
const (
	exportFirstPoll    = 250 * time.Millisecond
	exportPollFraction = 8
	exportPatientAfter = 2 * time.Minute
	exportSlowPoll     = time.Minute
)

// exportPollDelay is how long to wait before asking again about an export polled for age.
func exportPollDelay(age, interval time.Duration) time.Duration {
	d := max(age/exportPollFraction, exportFirstPoll)
	if age < exportPatientAfter {
		return min(d, interval)
	}
	return min(d, max(interval, exportSlowPoll))
}

// DownloadExport downloads every part (no token), verifies the encrypted and plaintext hashes and
// sizes, decrypts and joins them into one temp file in tmpDir (streaming) and opens the archive.
func (c *Client) DownloadExport(ctx context.Context, exp *Export, pkg *ExportPackage, tmpDir string) (*ExportArchive, error) {
	if pkg == nil {
		return nil, errors.New("ksef: download export: no package")
	}
	if len(pkg.Parts) == 0 {
		if pkg.InvoiceCount != 0 {
			return nil, fmt.Errorf("ksef: download export: %d invoices but no parts", pkg.InvoiceCount)
		}
		return &ExportArchive{}, nil // an empty export has nothing to download
	}
	f, err := os.CreateTemp(tmpDir, "export-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("download export: %w", err)
	}
	path := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(path)
		}
	}()
	links := &exportLinks{ref: exp.ReferenceNumber, parts: slices.Clone(pkg.Parts)}
	for i, part := range pkg.Parts {
		if part.OrdinalNumber != i+1 {
			return nil, fmt.Errorf("ksef: download export: parts not numbered 1..n (got %d at %d)", part.OrdinalNumber, i+1)
		}
		if err := c.downloadLinkedPart(ctx, exp.key, links, i, f); err != nil {
			return nil, fmt.Errorf("download export part %d: %w", part.OrdinalNumber, err)
		}
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("download export: %w", err)
	}
	comp := exp.Compression
	if comp == "" {
		comp = Zip
	}
	a, err := openArchive(path, comp, ArchiveLimits{})
	if err != nil {
		return nil, fmt.Errorf("download export: %w", err)
	}
	ok = true
	return a, nil
}

// exportLinks are the download links of one export's parts, as the latest status read gave them.
// KSeF makes a part's link when the status is read and it dies about an hour later
// (open-api.json, InvoicePackagePart.url: "Link jest generowany dynamicznie w momencie odpytania o
// status operacji eksportu"; expirationDate: "Po upływie tego momentu link przestaje być aktywny";
// CIRFMF/ksef-api #816, #817, #821 show about 1 h). Up to 20 parts of 50 MB over a slow line take
// longer than that, so the links of the parts still to come are read again when they are about to
// expire or storage refuses one: a fresh export would cost one of the few exports an hour, a status
// read one of 600. The parts already written stay: the AES key and IV are the export's.
type exportLinks struct {
	ref   string
	parts []ExportPart
}

// exportLinkMargin is how long before its expirationDate a link is read again rather than used:
// time enough to start a part's transfer, and for the clocks of KSeF and this host to differ a bit.
const exportLinkMargin = 2 * time.Minute

// downloadLinkedPart appends part i to dst. It reads fresh links first if that part's link expires
// within exportLinkMargin, and once more if storage refuses the link (403 or 404): at most two
// status reads a part, so a download never loops on links KSeF keeps handing out dead.
func (c *Client) downloadLinkedPart(ctx context.Context, k symKey, links *exportLinks, i int, dst *os.File) error {
	if exp := links.parts[i].ExpirationDate; !exp.IsZero() && c.clock.Now().After(exp.Add(-exportLinkMargin)) {
		if err := c.refreshExportLinks(ctx, links, "expiring"); err != nil {
			return err
		}
	}
	err := c.downloadPart(ctx, k, links.parts[i], dst)
	if !isLinkRefused(err) {
		return err
	}
	// a refusal is answered before any byte of the part is written, so dst needs no truncation
	if rerr := c.refreshExportLinks(ctx, links, "refused"); rerr != nil {
		return fmt.Errorf("%w (reading fresh links: %w)", err, rerr)
	}
	return c.downloadPart(ctx, k, links.parts[i], dst)
}

// isLinkRefused reports a storage refusal of a part's link itself: 403 (Azure's AuthenticationFailed
// for an expired signature) or 404. The firewall's 403 is a BlockedError, not this.
func isLinkRefused(err error) bool {
	var api *APIError
	return errors.As(err, &api) && (api.HTTPStatus == http.StatusForbidden || api.HTTPStatus == http.StatusNotFound)
}

// refreshExportLinks reads the export's status again and takes its parts' new links and expiry.
// The package must be the one being downloaded: same parts with the same hashes.
func (c *Client) refreshExportLinks(ctx context.Context, links *exportLinks, why string) error {
	c.log.Info("reading fresh export part links", "export", links.ref, "why", why)
	st, err := c.ExportStatus(ctx, links.ref)
	if err != nil {
		return err
	}
	if st.Status.Code != 200 || st.Package == nil || len(st.Package.Parts) != len(links.parts) {
		return fmt.Errorf("ksef: export %s: fresh status %d does not describe the package being downloaded", links.ref, st.Status.Code)
	}
	for i, fresh := range st.Package.Parts {
		old := &links.parts[i]
		if fresh.OrdinalNumber != old.OrdinalNumber || fresh.EncryptedPartHash != old.EncryptedPartHash {
			return fmt.Errorf("ksef: export %s: part %d changed between status reads", links.ref, old.OrdinalNumber)
		}
		old.Method, old.URL, old.ExpirationDate = fresh.Method, fresh.URL, fresh.ExpirationDate
	}
	return nil
}

// downloadPart appends one decrypted part to dst, retrying 5xx and network failures; a partial
// write from a failed attempt is truncated away before the retry.
func (c *Client) downloadPart(ctx context.Context, k symKey, part ExportPart, dst *os.File) error {
	start, err := dst.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := c.fetchPart(ctx, k, part, dst)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !IsRetriable(err) || attempt >= c.maxRetries {
			return err
		}
		if err := dst.Truncate(start); err != nil {
			return err
		}
		if _, err := dst.Seek(start, io.SeekStart); err != nil {
			return err
		}
		if err := c.backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

func (c *Client) fetchPart(ctx context.Context, k symKey, part ExportPart, dst io.Writer) error {
	method := part.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, part.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return ParseErrorResponse(resp.StatusCode, resp.Header, body)
	}
	plainHash := newHashWriter()
	bw := bufio.NewWriterSize(io.MultiWriter(dst, plainHash), 256<<10)
	dec, err := newCBCWriter(k, bw, false)
	if err != nil {
		return err
	}
	encHash := newHashWriter()
	// the +1 lets us notice a body longer than declared
	n, err := io.Copy(io.MultiWriter(dec, encHash), io.LimitReader(resp.Body, part.EncryptedPartSize+1))
	if err != nil {
		return transportError(fmt.Errorf("read part: %w", err))
	}
	if n != part.EncryptedPartSize {
		return partNotIntact(fmt.Sprintf("encrypted part size %d, declared %d", n, part.EncryptedPartSize))
	}
	if got := encHash.sum(); got != part.EncryptedPartHash {
		return partNotIntact(fmt.Sprintf("encrypted part hash mismatch (declared %s, got %s)", part.EncryptedPartHash, got))
	}
	if h := resp.Header.Get("x-ms-meta-hash"); h != "" && h != part.EncryptedPartHash {
		return partNotIntact(fmt.Sprintf("x-ms-meta-hash %s differs from encryptedPartHash %s", h, part.EncryptedPartHash))
	}
	if err := dec.Close(); err != nil {
		return partNotIntact("decrypt part: " + err.Error())
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if plainHash.n != part.PartSize {
		return partNotIntact(fmt.Sprintf("decrypted part size %d, declared %d", plainHash.n, part.PartSize))
	}
	if got := plainHash.sum(); got != part.PartHash {
		return partNotIntact(fmt.Sprintf("decrypted part hash mismatch (declared %s, got %s)", part.PartHash, got))
	}
	return nil
}

// partNotIntact is an export part whose body is not what KSeF's sizes and hashes promise: an HTML
// challenge page, a damaged or stale transfer. It is transient, as a bad UPO body is (checkMetaHash):
// the part is fetched again, and if it stays wrong the cycle fails and the next one starts a fresh
// export from the same cursor. Nothing of it is ever used.
func partNotIntact(why string) error {
	return &UnavailableError{HTTPStatus: http.StatusOK, ContentType: "export part not intact", Excerpt: why}
}

// ArchiveLimits bound what Walk accepts from an archive. Zero fields take the defaults.
type ArchiveLimits struct {
	MaxEntries   int   // default 20 000
	MaxEntrySize int64 // default MaxReceivedInvoiceSize
	MaxTotalSize int64 // default 16 GB
}

// MaxReceivedInvoiceSize is the largest invoice an export may hold: 10 MiB. KSeF's limit is per
// context of the seller, 1 MB or 3 MB with attachments by default, and KSeF may raise it up to
// "maxInvoiceWithAttachmentSizeInMB" 10 (open-api.json, OnlineSessionContextLimitsOverride and
// BatchSessionContextLimitsOverride, "maximum": 10); a buyer receives what the seller's limit let
// through. A smaller cap rejected the whole package holding such an invoice, in every cycle, and
// the pull never got past it. 10 MiB, not 10^6-byte megabytes, in case KSeF counts the binary way.
const MaxReceivedInvoiceSize = 10 << 20

// defaultMaxTotal bounds what one export's entries may unpack to. A package is at most 1 GB
// compressed (open-api.json, POST /invoices/exports), and invoice XML packs 3 to 10 times (3.3 on
// the FA(3) samples with gzip -9): 16 GB holds any real package and still stops an archive that
// would fill the disk.
const defaultMaxTotal = 16 << 30

func (l ArchiveLimits) withDefaults() ArchiveLimits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 20_000
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = MaxReceivedInvoiceSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = defaultMaxTotal
	}
	return l
}

// metadataEntry is the export's metadata file name.
const metadataEntry = "_metadata.json"

// ExportArchive is a downloaded, decrypted export on disk.
type ExportArchive struct {
	Metadata []MetadataRecord // from _metadata.json, in its order
	Limits   ArchiveLimits
	path     string
	comp     Compression
}

// MetadataRecord is one invoice record of _metadata.json. It holds the record once, as KSeF sent
// it, so callers can store it without losing fields this client does not model, and the two fields
// a pull needs before it reads the invoices; Decode gives the rest when the invoice is delivered.
// (Ten thousand records decoded and kept raw besides held about 5 MB more of a pull's heap.)
type MetadataRecord struct {
	KsefNumber           string
	PermanentStorageDate time.Time
	Raw                  json.RawMessage // the exact record; do not modify
}

// Decode is the whole record. openArchive decoded every record once, so this fails only for a
// record the caller changed.
func (r *MetadataRecord) Decode() (InvoiceMetadata, error) {
	var m InvoiceMetadata
	err := json.Unmarshal(r.Raw, &m)
	return m, err
}

// ErrArchiveRejected marks an archive or entry refused by the safety checks.
var ErrArchiveRejected = errors.New("ksef: archive rejected")

func openArchive(path string, comp Compression, lim ArchiveLimits) (*ExportArchive, error) {
	a := &ExportArchive{path: path, comp: comp, Limits: lim}
	err := a.walk(func(name string, r io.Reader) error {
		if name != metadataEntry {
			return nil
		}
		records, err := readMetadataRecords(r)
		if err != nil {
			return fmt.Errorf("ksef: %s: %w", metadataEntry, err)
		}
		a.Metadata = make([]MetadataRecord, len(records))
		for i, raw := range records {
			// every record is decoded in full here, so a malformed one refuses the package as
			// before; only what the pull needs up front is kept
			rec := MetadataRecord{Raw: raw}
			full, err := rec.Decode()
			if err != nil {
				return fmt.Errorf("ksef: %s record %d: %w", metadataEntry, i, err)
			}
			rec.KsefNumber, rec.PermanentStorageDate = full.KsefNumber, full.PermanentStorageDate
			a.Metadata[i] = rec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// readMetadataRecords reads the records of _metadata.json's "invoices" array one at a time, so the
// file is never buffered whole beside them (for 10,000 invoices that took the heap at a collection
// from 22 MB to 27 MB while the package was opened). It accepts and refuses what decoding the file
// into struct{ Invoices []json.RawMessage } does: null or a missing array is no records, other
// keys are skipped, the key matches case-insensitively and the last of repeated keys wins; each
// record is its exact bytes.
func readMetadataRecords(r io.Reader) ([]json.RawMessage, error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("json: cannot unmarshal %v into the metadata object", tok)
	}
	var records []json.RawMessage
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if k, _ := key.(string); !strings.EqualFold(k, "invoices") {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		if records, err = readRecordArray(dec, records[:0]); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	return records, nil
}

// readRecordArray appends the elements of the array (or null) dec is at to out.
func readRecordArray(dec *json.Decoder, out []json.RawMessage) ([]json.RawMessage, error) {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("json: cannot unmarshal %v into the invoices array", tok)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	_, err = dec.Token() // the closing bracket
	return out, err
}

// Walk streams every invoice entry ({ksefNumber}.xml) to fn; _metadata.json is skipped (see
// Metadata). It rejects unsafe names (any '/', '\\', '..', absolute, NUL), non-regular entries,
// and entries or totals beyond Limits, with an error wrapping ErrArchiveRejected.
func (a *ExportArchive) Walk(fn func(name string, r io.Reader) error) error {
	return a.walk(func(name string, r io.Reader) error {
		if name == metadataEntry {
			return nil
		}
		return fn(name, r)
	})
}

func (a *ExportArchive) walk(fn func(name string, r io.Reader) error) error {
	if a.path == "" {
		return nil
	}
	lim := a.Limits.withDefaults()
	g := &archiveGuard{lim: lim}
	if a.comp == TarGz {
		return a.walkTarGz(g, fn)
	}
	return a.walkZip(g, fn)
}

type archiveGuard struct {
	lim     ArchiveLimits
	entries int
	total   int64
}

func (g *archiveGuard) admit(name string, declared int64) error {
	g.entries++
	if g.entries > g.lim.MaxEntries {
		return fmt.Errorf("%w: more than %d entries", ErrArchiveRejected, g.lim.MaxEntries)
	}
	if err := validEntryName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrArchiveRejected, err)
	}
	if name != metadataEntry && !strings.HasSuffix(strings.ToLower(name), ".xml") {
		return fmt.Errorf("%w: unexpected entry %q", ErrArchiveRejected, name)
	}
	if declared < 0 || (name != metadataEntry && declared > g.lim.MaxEntrySize) {
		return fmt.Errorf("%w: entry %q declares %d bytes (limit %d)", ErrArchiveRejected, name, declared, g.lim.MaxEntrySize)
	}
	return nil
}

// reader limits the actual bytes read: declared sizes can lie.
func (g *archiveGuard) reader(name string, r io.Reader) io.Reader {
	max := g.lim.MaxEntrySize
	if name == metadataEntry {
		max = g.lim.MaxTotalSize
	}
	return &guardedReader{r: r, left: max, g: g, name: name}
}

type guardedReader struct {
	r    io.Reader
	left int64
	g    *archiveGuard
	name string
}

func (gr *guardedReader) Read(p []byte) (int, error) {
	if int64(len(p)) > gr.left+1 {
		p = p[:gr.left+1]
	}
	n, err := gr.r.Read(p)
	gr.left -= int64(n)
	gr.g.total += int64(n)
	if gr.left < 0 {
		return n, fmt.Errorf("%w: entry %q is larger than allowed", ErrArchiveRejected, gr.name)
	}
	if gr.g.total > gr.g.lim.MaxTotalSize {
		return n, fmt.Errorf("%w: archive content exceeds %d bytes", ErrArchiveRejected, gr.g.lim.MaxTotalSize)
	}
	return n, err
}

func (a *ExportArchive) walkZip(g *archiveGuard, fn func(string, io.Reader) error) error {
	zr, err := zip.OpenReader(a.path)
	if err != nil {
		return fmt.Errorf("%w: open zip: %w", ErrArchiveRejected, err)
	}
	defer zr.Close()
	if len(zr.File) > g.lim.MaxEntries {
		return fmt.Errorf("%w: %d entries (limit %d)", ErrArchiveRejected, len(zr.File), g.lim.MaxEntries)
	}
	for _, zf := range zr.File {
		if !zf.Mode().IsRegular() {
			return fmt.Errorf("%w: entry %q is not a regular file", ErrArchiveRejected, zf.Name)
		}
		if zf.UncompressedSize64 > 1<<62 {
			return fmt.Errorf("%w: entry %q has an absurd size", ErrArchiveRejected, zf.Name)
		}
		if err := g.admit(zf.Name, int64(zf.UncompressedSize64)); err != nil {
			return err
		}
		if err := a.visitZip(zf, g, fn); err != nil {
			return err
		}
	}
	return nil
}

func (a *ExportArchive) visitZip(zf *zip.File, g *archiveGuard, fn func(string, io.Reader) error) error {
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("%w: entry %q: %w", ErrArchiveRejected, zf.Name, err)
	}
	defer rc.Close()
	r := g.reader(zf.Name, rc)
	if err := fn(zf.Name, r); err != nil {
		return err
	}
	// drain so corrupt data or lying sizes surface even if fn stopped early
	_, err = io.Copy(io.Discard, r)
	return err
}

func (a *ExportArchive) walkTarGz(g *archiveGuard, fn func(string, io.Reader) error) error {
	f, err := os.Open(a.path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("%w: open gzip: %w", ErrArchiveRejected, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: tar: %w", ErrArchiveRejected, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			return fmt.Errorf("%w: entry %q is not a regular file", ErrArchiveRejected, hdr.Name)
		}
		if err := g.admit(hdr.Name, hdr.Size); err != nil {
			return err
		}
		r := g.reader(hdr.Name, tr)
		if err := fn(hdr.Name, r); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
}

// Close removes the temp file.
func (a *ExportArchive) Close() error {
	if a.path == "" {
		return nil
	}
	err := os.Remove(a.path)
	a.path = ""
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Path is the decrypted archive on disk (valid until Close).
func (a *ExportArchive) Path() string { return filepath.Clean(a.path) }
