package ksef

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Compression of batch packages and exports.
type Compression string

// Supported compressions.
const (
	Zip   Compression = "Zip"
	TarGz Compression = "TarGz"
)

const (
	defaultMaxPartSize = MaxBatchPartSize
	maxBatchParts      = MaxBatchParts
	maxBatchArchive    = MaxBatchArchive
)

// BatchBuilder streams invoices into an archive in a temp file; it never holds the archive in memory.
type BatchBuilder struct {
	dir         string
	comp        Compression
	maxPartSize int64
	f           *os.File
	bw          *bufio.Writer
	hash        *hashWriter
	zw          *zip.Writer
	gz          *gzip.Writer
	tw          *tar.Writer
	names       map[string]bool
	count       int
	done        bool
}

// NewBatchBuilder starts a package in dir; maxPartSize 0 → 100 000 000 bytes (plaintext per part).
func NewBatchBuilder(dir string, comp Compression, maxPartSize int64) (*BatchBuilder, error) {
	if comp != Zip && comp != TarGz {
		return nil, fmt.Errorf("ksef: unsupported compression %q", comp)
	}
	if maxPartSize <= 0 {
		maxPartSize = defaultMaxPartSize
	}
	if maxPartSize > defaultMaxPartSize {
		return nil, fmt.Errorf("ksef: maxPartSize %d exceeds %d", maxPartSize, defaultMaxPartSize)
	}
	f, err := os.CreateTemp(dir, "batch-*.archive.tmp")
	if err != nil {
		return nil, fmt.Errorf("ksef: batch temp file: %w", err)
	}
	b := &BatchBuilder{dir: dir, comp: comp, maxPartSize: maxPartSize, f: f, names: map[string]bool{}, hash: newHashWriter()}
	b.bw = bufio.NewWriterSize(io.MultiWriter(f, b.hash), 256<<10)
	if comp == Zip {
		b.zw = zip.NewWriter(b.bw)
	} else {
		b.gz = gzip.NewWriter(b.bw)
		b.tw = tar.NewWriter(b.gz)
	}
	return b, nil
}

// validEntryName enforces a flat, safe archive name.
func validEntryName(name string) error {
	switch {
	case name == "" || len(name) > 128:
		return fmt.Errorf("ksef: archive entry name %q must be 1..128 characters", name)
	case strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") || filepath.IsAbs(name) || strings.ContainsRune(name, 0):
		return fmt.Errorf("ksef: archive entry name %q is not a flat file name", name)
	}
	return nil
}

// Add appends one invoice file (flat, unique name).
func (b *BatchBuilder) Add(fileName string, invoiceXML []byte) error {
	if b.done {
		return errors.New("ksef: batch builder already finished")
	}
	if err := validEntryName(fileName); err != nil {
		return err
	}
	if b.names[fileName] {
		return fmt.Errorf("ksef: duplicate archive entry %q", fileName)
	}
	b.names[fileName] = true
	if b.zw != nil {
		w, err := b.zw.CreateHeader(&zip.FileHeader{Name: fileName, Method: zip.Deflate, Modified: time.Now().UTC()})
		if err != nil {
			return fmt.Errorf("ksef: zip entry: %w", err)
		}
		if _, err := w.Write(invoiceXML); err != nil {
			return fmt.Errorf("ksef: zip entry: %w", err)
		}
	} else {
		hdr := &tar.Header{Name: fileName, Mode: 0o644, Size: int64(len(invoiceXML)), ModTime: time.Now().UTC(), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := b.tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("ksef: tar entry: %w", err)
		}
		if _, err := b.tw.Write(invoiceXML); err != nil {
			return fmt.Errorf("ksef: tar entry: %w", err)
		}
	}
	b.count++
	return nil
}

// Abort discards an unfinished package and its temp file.
func (b *BatchBuilder) Abort() error {
	if b.done {
		return nil
	}
	b.done = true
	b.f.Close()
	return os.Remove(b.f.Name())
}

// BatchPackage is a finished, split and encrypted batch on disk.
type BatchPackage struct {
	Compression  Compression
	FileSize     int64  // plaintext archive
	FileHash     string // plaintext archive
	Parts        []BatchPart
	InvoiceCount int
	key          symKey
	dir          string
}

// BatchPart is one encrypted part file.
type BatchPart struct {
	OrdinalNumber int
	Path          string
	FileSize      int64 // encrypted
	FileHash      string
}

// Finish closes the archive, splits it into parts ≤ maxPartSize and encrypts each with a fresh
// AES key and IV into its own file. The plaintext archive is removed afterwards.
func (b *BatchBuilder) Finish() (*BatchPackage, error) {
	if b.done {
		return nil, errors.New("ksef: batch builder already finished")
	}
	b.done = true
	archivePath := b.f.Name()
	defer os.Remove(archivePath)
	if err := b.closeArchive(); err != nil {
		b.f.Close()
		return nil, err
	}
	if err := b.f.Close(); err != nil {
		return nil, fmt.Errorf("ksef: batch archive: %w", err)
	}
	if b.count == 0 {
		return nil, errors.New("ksef: batch has no invoices")
	}
	size := b.hash.n
	if size > maxBatchArchive {
		return nil, fmt.Errorf("ksef: batch archive %d bytes exceeds %d", size, int64(maxBatchArchive))
	}
	nParts := int((size + b.maxPartSize - 1) / b.maxPartSize)
	if nParts > maxBatchParts {
		return nil, fmt.Errorf("ksef: batch needs %d parts, KSeF allows %d", nParts, maxBatchParts)
	}
	k, err := newSymKey()
	if err != nil {
		return nil, err
	}
	pkg := &BatchPackage{Compression: b.comp, FileSize: size, FileHash: b.hash.sum(), InvoiceCount: b.count, key: k, dir: b.dir}
	src, err := os.Open(archivePath)
	if err != nil {
		return nil, fmt.Errorf("ksef: batch archive: %w", err)
	}
	defer src.Close()
	base := strings.TrimSuffix(filepath.Base(archivePath), ".archive.tmp")
	for i := 1; i <= nParts; i++ {
		part, err := encryptPart(k, io.LimitReader(src, b.maxPartSize), filepath.Join(b.dir, fmt.Sprintf("%s.part%03d.aes", base, i)))
		if err != nil {
			pkg.Remove()
			return nil, err
		}
		part.OrdinalNumber = i
		pkg.Parts = append(pkg.Parts, part)
	}
	return pkg, nil
}

func (b *BatchBuilder) closeArchive() error {
	if b.zw != nil {
		if err := b.zw.Close(); err != nil {
			return fmt.Errorf("ksef: close zip: %w", err)
		}
	} else {
		if err := b.tw.Close(); err != nil {
			return fmt.Errorf("ksef: close tar: %w", err)
		}
		if err := b.gz.Close(); err != nil {
			return fmt.Errorf("ksef: close gzip: %w", err)
		}
	}
	if err := b.bw.Flush(); err != nil {
		return fmt.Errorf("ksef: write batch archive: %w", err)
	}
	return nil
}

// encryptPart streams r through AES-CBC into path, hashing the ciphertext.
func encryptPart(k symKey, r io.Reader, path string) (BatchPart, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return BatchPart{}, fmt.Errorf("ksef: batch part: %w", err)
	}
	hw := newHashWriter()
	bw := bufio.NewWriterSize(io.MultiWriter(f, hw), 256<<10)
	enc, err := newCBCWriter(k, bw, true)
	if err == nil {
		_, err = io.Copy(enc, r)
	}
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return BatchPart{}, fmt.Errorf("ksef: encrypt batch part: %w", err)
	}
	return BatchPart{Path: path, FileSize: hw.n, FileHash: hw.sum()}, nil
}

// Remove deletes the encrypted part files.
func (p *BatchPackage) Remove() error {
	var errs []error
	for _, part := range p.Parts {
		if err := os.Remove(part.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BatchSession is an opened batch session with its upload instructions.
type BatchSession struct {
	ReferenceNumber string
	PartUploads     []PartUploadRequest
}

// PartUploadRequest says exactly how to upload one part.
type PartUploadRequest struct {
	OrdinalNumber int               `json:"ordinalNumber"`
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
}

// OpenBatchSession declares the package and returns the part upload requests. It is never repeated
// after a failure that may have reached KSeF (5xx, dropped connection, unreadable answer): that
// failure is an *AmbiguousError (MayHaveReachedKSeF), and the caller lists the sessions (ListSessions,
// batch sessions created since just before the attempt) before opening another.
func (c *Client) OpenBatchSession(ctx context.Context, form FormCode, pkg *BatchPackage, offlineMode bool) (*BatchSession, error) {
	type filePart struct {
		OrdinalNumber int    `json:"ordinalNumber"`
		FileSize      int64  `json:"fileSize"`
		FileHash      string `json:"fileHash"`
	}
	parts := make([]filePart, 0, len(pkg.Parts))
	for _, p := range pkg.Parts {
		parts = append(parts, filePart{p.OrdinalNumber, p.FileSize, p.FileHash})
	}
	var out struct {
		ReferenceNumber    string              `json:"referenceNumber"`
		PartUploadRequests []PartUploadRequest `json:"partUploadRequests"`
	}
	err := c.withEncryption(ctx, pkg.key, func(enc encryptionInfo) error {
		body := map[string]any{
			"formCode": form,
			"batchFile": map[string]any{
				"fileSize": pkg.FileSize, "fileHash": pkg.FileHash, "compressionType": pkg.Compression, "fileParts": parts,
			},
			"encryption":  enc,
			"offlineMode": offlineMode,
		}
		raw, err := marshalJSON(body)
		if err != nil {
			return err
		}
		// once: after a 5xx or a dropped connection KSeF may have opened the session. Opening
		// another would orphan it; the caller reconciles against the session list instead.
		return c.do(ctx, call{method: http.MethodPost, path: "/sessions/batch", body: raw, contentType: "application/json",
			bearer: bearerAccess, out: &out, want: []int{http.StatusCreated}, once: true})
	})
	if err != nil {
		return nil, fmt.Errorf("open batch session: %w", err)
	}
	if len(out.PartUploadRequests) != len(pkg.Parts) {
		return nil, fmt.Errorf("ksef: open batch session: %d upload requests for %d parts", len(out.PartUploadRequests), len(pkg.Parts))
	}
	c.log.Info("batch session opened", "session", out.ReferenceNumber, "parts", len(pkg.Parts), "invoices", pkg.InvoiceCount)
	return &BatchSession{ReferenceNumber: out.ReferenceNumber, PartUploads: out.PartUploadRequests}, nil
}

const uploadParallelism = 4

// UploadBatchParts uploads every part (≤4 at a time) with exactly the given method, URL and
// headers and no Authorization; 5xx and network failures are retried.
func (c *Client) UploadBatchParts(ctx context.Context, bs *BatchSession, pkg *BatchPackage) error {
	byOrdinal := map[int]BatchPart{}
	for _, p := range pkg.Parts {
		byOrdinal[p.OrdinalNumber] = p
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, uploadParallelism)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, req := range bs.PartUploads {
		part, ok := byOrdinal[req.OrdinalNumber]
		if !ok {
			return fmt.Errorf("ksef: upload request for unknown part %d", req.OrdinalNumber)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.uploadPart(ctx, req, part); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("upload batch parts: %w", firstErr)
	}
	return ctx.Err()
}

// uploadPart PUTs one part until storage answers 201. Only 201 means the part is stored
// (open-api.json OpenBatchSessionResponse.partUploadRequests: "201 – poprawne przyjęcie pliku"):
// KSeF's firewall answers 200 with an HTML page and the part is not stored (CIRFMF/ksef-client-java
// #89: "otrzymujemy odpowiedź HTML z kodem 200 … part został poprawnie przesłany, mimo że faktycznie
// nie został"), and the close then fails with 21205. Any other 2xx is weather, retried like a 5xx.
func (c *Client) uploadPart(ctx context.Context, req PartUploadRequest, part BatchPart) error {
	for attempt := 0; ; attempt++ {
		status, hdr, body, err := c.putFile(ctx, req, part)
		if err == nil && partStored(status, hdr) {
			c.log.Debug("batch part uploaded", "part", part.OrdinalNumber)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			// A firewall block or an HTML page from storage is weather; anything else is a refusal.
			if err = uploadAnswerError(status, hdr, body); !IsTransient(err) {
				return fmt.Errorf("part %d: %w", part.OrdinalNumber, err)
			}
		}
		if attempt >= c.maxRetries {
			return fmt.Errorf("part %d: %w", part.OrdinalNumber, err)
		}
		if err := c.backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// partStored reports whether storage took the part: 201 Created, as open-api.json lists it
// (OpenBatchSessionResponse.partUploadRequests: "201 – poprawne przyjęcie pliku"), or 200 OK, which
// MF's staff also named a success ("Po udanym przesłaniu (status 201 Created lub 200 OK)",
// CIRFMF/ksef-api #4) — but not a 200 carrying an HTML page: that is the firewall's challenge, and
// the part was not stored (CIRFMF/ksef-client-java #89).
func partStored(status int, hdr http.Header) bool {
	html := strings.Contains(strings.ToLower(hdr.Get("Content-Type")), "html")
	return status == http.StatusCreated || status == http.StatusOK && !html
}

// uploadAnswerError is what a part upload's answer that partStored refuses means. Such a 2xx
// stored nothing (a challenge page): transient, and it names what came back.
func uploadAnswerError(status int, hdr http.Header, body []byte) error {
	if status < 200 || status >= 300 {
		return ParseErrorResponse(status, hdr, body)
	}
	ctype := hdr.Get("Content-Type")
	what := fmt.Sprintf("storage answered %d", status)
	if ctype != "" {
		what += " " + ctype
	}
	return fmt.Errorf("%s instead of 201, so the part was not stored: %w", what,
		&UnavailableError{HTTPStatus: status, ContentType: ctype, Excerpt: excerpt(body)})
}

func (c *Client) putFile(ctx context.Context, req PartUploadRequest, part BatchPart) (int, http.Header, []byte, error) {
	f, err := os.Open(part.Path)
	if err != nil {
		return 0, nil, nil, err
	}
	defer f.Close()
	method := req.Method
	if method == "" {
		method = http.MethodPut
	}
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, f)
	if err != nil {
		return 0, nil, nil, err
	}
	hr.ContentLength = part.FileSize
	for k, v := range req.Headers {
		if v != "" { // the spec lets a header's value be null: nothing to send
			hr.Header.Set(k, v)
		}
	}
	hr.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, nil, nil, transportError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, body, nil
}

// CloseBatchSession closes the batch session (starts processing).
func (c *Client) CloseBatchSession(ctx context.Context, sessionRef string) error {
	return c.closeSession(ctx, "batch", sessionRef)
}
