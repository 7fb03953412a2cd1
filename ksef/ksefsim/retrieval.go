package ksefsim

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	queryCap          = 10000
	maxRange          = 3  // months
	maxRunningExports = 10 // more → 400 21182; hung exports count too
	exportRetention   = 7 * 24 * time.Hour
)

type queryFilters struct {
	SubjectType string `json:"subjectType"`
	DateRange   struct {
		DateType                          string     `json:"dateType"`
		From                              time.Time  `json:"from"`
		To                                *time.Time `json:"to"`
		RestrictToPermanentStorageHwmDate bool       `json:"restrictToPermanentStorageHwmDate"`
	} `json:"dateRange"`
	KsefNumber    string   `json:"ksefNumber"`
	InvoiceNumber string   `json:"invoiceNumber"`
	SellerNip     string   `json:"sellerNip"`
	CurrencyCodes []string `json:"currencyCodes"`
	InvoicingMode string   `json:"invoicingMode"`
	InvoiceTypes  []string `json:"invoiceTypes"`
	FormType      string   `json:"formType"`
	IsSelfInvoice *bool    `json:"isSelfInvoicing"`
	HasAttachment *bool    `json:"hasAttachment"`
	Amount        *struct {
		Type string   `json:"type"`
		From *float64 `json:"from"`
		To   *float64 `json:"to"`
	} `json:"amount"`
	BuyerIdentifier *struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"buyerIdentifier"`
}

// hwm is the permanent-storage high-water mark at now.
func (s *Server) hwm(now time.Time) time.Time { return now.Add(-s.opts.HWMLag) }

// reportedHWM is the permanentStorageHwmDate of a query or export whose effective range ends at
// to. open-api.json (InvoicePackage.permanentStorageHwmDate): "Jeśli zapytanie dotyczyło
// najnowszego okresu, wartość ta może być wartością nieznacznie skorygowaną względem górnej granicy
// podanej w warunkach zapytania. Dla okresów starszych, będzie to zgodne z warunkami zapytania." So
// an older window reports its own upper bound, and only the recent period reports the system HWM.
func (s *Server) reportedHWM(to, now time.Time) time.Time {
	if h := s.hwm(now); h.Before(to) {
		return h
	}
	return to
}

// resolveRange validates the filter's range and returns the effective [from, to]; code 0 = ok.
func (s *Server) resolveRange(f *queryFilters, now time.Time) (from, to time.Time, code int, msg string) {
	from = f.DateRange.From
	to = now
	if f.DateRange.To != nil {
		to = *f.DateRange.To
	}
	if to.Before(from) {
		return from, to, 21405, "dateRange.to is before dateRange.from"
	}
	if from.AddDate(0, maxRange, 0).Before(to) {
		return from, to, 21405, "dateRange exceeds 3 months"
	}
	if f.DateRange.RestrictToPermanentStorageHwmDate && f.DateRange.DateType == "PermanentStorage" {
		h := s.hwm(now)
		if from.After(h) {
			return from, to, 21183, "dateRange.from is later than permanentStorageHwmDate"
		}
		if to.After(h) {
			to = h
		}
	}
	return from, to, 0, ""
}

func filterDate(inv *invoice, dateType string) time.Time {
	switch dateType {
	case "Issue":
		t, _ := time.Parse("2006-01-02", inv.Facts.IssueDate)
		return t
	case "Invoicing":
		return inv.Received
	}
	return inv.Storage
}

// matchLocked returns the invoices of the caller matching f in ascending filter-date order.
func (s *Server) matchLocked(nip string, f *queryFilters, from, to, now time.Time) []*invoice {
	var out []*invoice
	for _, ref := range s.st.Stored {
		inv := s.st.Invoices[ref]
		if now.Before(inv.Storage) || !s.matches(inv, nip, f) {
			continue
		}
		d := filterDate(inv, f.DateRange.DateType)
		if d.Before(from) || d.After(to) {
			continue
		}
		out = append(out, inv)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := filterDate(out[i], f.DateRange.DateType), filterDate(out[j], f.DateRange.DateType)
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].KsefNumber < out[j].KsefNumber
	})
	return out
}

func (s *Server) matches(inv *invoice, nip string, f *queryFilters) bool {
	fa := inv.Facts
	switch f.SubjectType {
	case "Subject1":
		if fa.SellerNIP != nip {
			return false
		}
	case "Subject2":
		if fa.BuyerIDType != "Nip" || fa.BuyerID != nip {
			return false
		}
	case "Subject3", "SubjectAuthorized":
		if !s.partiesLocked(inv).matches(f.SubjectType, nip) {
			return false
		}
	default:
		return false
	}
	if f.KsefNumber != "" && !strings.EqualFold(f.KsefNumber, inv.KsefNumber) {
		return false
	}
	if f.InvoiceNumber != "" && f.InvoiceNumber != fa.InvoiceNumber {
		return false
	}
	if f.SellerNip != "" && f.SellerNip != fa.SellerNIP {
		return false
	}
	if len(f.CurrencyCodes) > 0 && !contains(f.CurrencyCodes, fa.Currency) {
		return false
	}
	if f.InvoicingMode != "" && f.InvoicingMode != invoicingMode(inv) {
		return false
	}
	if len(f.InvoiceTypes) > 0 && !contains(f.InvoiceTypes, invoiceType(fa.InvoiceKind)) {
		return false
	}
	if f.FormType != "" && f.FormType != inv.Form.Value {
		return false
	}
	if f.IsSelfInvoice != nil && *f.IsSelfInvoice != fa.SelfInvoicing {
		return false
	}
	if f.HasAttachment != nil && *f.HasAttachment != fa.HasAttachment {
		return false
	}
	if b := f.BuyerIdentifier; b != nil && (b.Type != fa.BuyerIDType || (b.Value != "" && b.Value != fa.BuyerID)) {
		return false
	}
	if a := f.Amount; a != nil {
		v := fa.Gross
		switch a.Type {
		case "Netto":
			v = fa.Net
		case "Vat":
			v = fa.Vat
		}
		if (a.From != nil && v < *a.From) || (a.To != nil && v > *a.To) {
			return false
		}
	}
	return true
}

func invoiceType(kind string) string {
	switch kind {
	case "VAT":
		return "Vat"
	case "ZAL":
		return "Zal"
	case "KOR":
		return "Kor"
	case "ROZ":
		return "Roz"
	case "UPR":
		return "Upr"
	case "KOR_ZAL":
		return "KorZal"
	case "KOR_ROZ":
		return "KorRoz"
	}
	return kind
}

func round2(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	return v
}

// metadata renders InvoiceMetadata.
func metadata(inv *invoice) map[string]any {
	fa := inv.Facts
	buyerID := map[string]any{"type": fa.BuyerIDType}
	if fa.BuyerID != "" {
		buyerID["value"] = fa.BuyerID
	}
	seller := map[string]any{"nip": fa.SellerNIP}
	if fa.SellerName != "" {
		seller["name"] = fa.SellerName
	}
	buyer := map[string]any{"identifier": buyerID}
	if fa.BuyerName != "" {
		buyer["name"] = fa.BuyerName
	}
	m := map[string]any{
		"ksefNumber": inv.KsefNumber, "invoiceNumber": fa.InvoiceNumber, "issueDate": fa.IssueDate,
		"invoicingDate": fmtTime(inv.Received), "acquisitionDate": fmtTime(inv.Acquisition), "permanentStorageDate": fmtTime(inv.Storage),
		"seller": seller, "buyer": buyer,
		"netAmount": round2(fa.Net), "grossAmount": round2(fa.Gross), "vatAmount": round2(fa.Vat), "currency": fa.Currency,
		"invoicingMode": invoicingMode(inv), "invoiceType": invoiceType(fa.InvoiceKind),
		"formCode":        map[string]any{"systemCode": inv.Form.SystemCode, "schemaVersion": inv.Form.SchemaVersion, "value": inv.Form.Value},
		"isSelfInvoicing": fa.SelfInvoicing, "hasAttachment": fa.HasAttachment, "invoiceHash": inv.InvoiceHash,
	}
	if inv.CorrectedHash != "" {
		m["hashOfCorrectedInvoice"] = inv.CorrectedHash // the link of a technical correction (correction.go)
	}
	return m
}

// metadataLocked is metadata with the third and authorized subjects KSeF lists.
func (s *Server) metadataLocked(inv *invoice) map[string]any {
	m := metadata(inv)
	s.partiesLocked(inv).addTo(m)
	return m
}

// queryPageRefused is why KSeF refuses a metadata query's page ("" when it does not): the page
// parameters' bounds (open-api.json, POST /invoices/query/metadata: pageSize "minimum": 10,
// "maximum": 250; pageOffset "minimum": 0), and a page starting at the 10,000-record technical
// limit ("Limit techniczny: ≤ 10 000 rekordów na zestaw filtrów"), which production answers with
// 21405 "You cannot retrieve invoices starting from number 10 000 or higher. Please narrow your
// filters." (marcinbojko/ksef-gui#36; CIRFMF/ksef-api #165) rather than an empty page.
func queryPageRefused(pageSize, pageOffset int) string {
	switch {
	case pageSize < 10 || pageSize > 250:
		return fmt.Sprintf("pageSize must be between 10 and 250 (got %d)", pageSize)
	case pageOffset < 0:
		return fmt.Sprintf("pageOffset must be 0 or more (got %d)", pageOffset)
	case pageOffset*pageSize >= queryCap:
		return "You cannot retrieve invoices starting from number 10 000 or higher. Please narrow your filters."
	}
	return ""
}

func (s *Server) handleQueryMetadata(w http.ResponseWriter, ar *apiRequest) {
	var f queryFilters
	if !decodeBody(w, ar, &f) {
		return
	}
	q := ar.r.URL.Query()
	pageSize, pageOffset := 10, 0
	if v := q.Get("pageSize"); v != "" {
		pageSize, _ = strconv.Atoi(v)
	}
	if v := q.Get("pageOffset"); v != "" {
		pageOffset, _ = strconv.Atoi(v)
	}
	if msg := queryPageRefused(pageSize, pageOffset); msg != "" {
		writeException(w, ar.r, 400, 21405, "Błąd walidacji danych wejściowych.", msg)
		return
	}
	from, to, code, msg := s.resolveRange(&f, ar.now)
	if code != 0 {
		writeException(w, ar.r, 400, code, "Błąd walidacji danych wejściowych.", msg)
		return
	}
	s.mu.Lock()
	all := s.matchLocked(ar.bearer.NIP, &f, from, to, ar.now)
	if q.Get("sortOrder") == "Desc" {
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
	}
	capped := all[:min(len(all), queryCap)]
	start := min(pageOffset*pageSize, len(capped))
	end := min(start+pageSize, len(capped))
	items := make([]map[string]any, 0, end-start)
	for _, inv := range capped[start:end] {
		items = append(items, s.metadataLocked(inv))
	}
	s.mu.Unlock()
	truncated := len(all) > queryCap && end == len(capped)
	body := map[string]any{"hasMore": end < len(capped) || truncated, "isTruncated": truncated, "invoices": items}
	if f.DateRange.DateType == "PermanentStorage" {
		body["permanentStorageHwmDate"] = fmtTime(s.reportedHWM(to, ar.now))
	}
	writeJSON(w, 200, body)
}

func (s *Server) handleGetInvoice(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := ar.params["ksefNumber"]
	inv := s.st.Invoices[s.st.ByKsef[n]]
	if inv == nil || (inv.Facts.SellerNIP != ar.bearer.NIP && inv.Facts.BuyerID != ar.bearer.NIP) {
		writeException(w, ar.r, 400, 21164, "Faktura o podanym identyfikatorze nie istnieje.", "invoice "+n+" not found")
		return
	}
	// KSeF shows an invoice's number before it stores it for good (permanentStorageDate "uzupełniana
	// asynchronicznie … Podczas sprawdzania statusu może być jeszcze niedostępna",
	// SessionInvoiceStatusResponse) and serves it by number only once stored: until then 400 21165
	// with the details of open-api.json's table for GET /invoices/ksef/{ksefNumber}. Production
	// answers it right after the number is assigned (CIRFMF/ksef-api #96).
	if code, final := s.invoiceView(inv, ar.now); !final || code != 200 || ar.now.Before(inv.Storage) {
		writeException(w, ar.r, 400, 21165, "Faktura o podanym numerze KSeF nie jest jeszcze dostępna.",
			"Faktura o numerze KSeF "+n+" została przetworzona, ale nie jest jeszcze dostępna do pobrania. Spróbuj ponownie później.")
		return
	}
	data, ok := s.blobs.get(s.st, "inv/"+inv.KsefNumber)
	if !ok {
		writeException(w, ar.r, 500, 0, "invoice content lost")
		return
	}
	writeXML(w, data)
}

// ---- exports ----

func (s *Server) handleCreateExport(w http.ResponseWriter, ar *apiRequest) {
	var req struct {
		Encryption      encryptionInfo `json:"encryption"`
		Filters         queryFilters   `json:"filters"`
		OnlyMetadata    bool           `json:"onlyMetadata"`
		CompressionType string         `json:"compressionType"`
	}
	if !decodeBody(w, ar, &req) {
		return
	}
	from, to, code, msg := s.resolveRange(&req.Filters, ar.now)
	if code != 0 && code != 21183 {
		writeException(w, ar.r, 400, code, "Błąd walidacji danych wejściowych.", msg)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := req.Filters.SubjectType; s.refusedSubjectLocked(t) {
		// An admin fault (export_faults.go RefuseExportSubjects), in the words of open-api.json's table;
		// every context the simulator logs in is a NIP.
		writeException(w, ar.r, 400, 21181, "Nieprawidłowe żądanie eksportu faktur.",
			"Nie można wyeksportować paczki faktur dla wybranego podmiotu ("+t+") i zalogowanego identyfikatora kontekstu (Nip).")
		return
	}
	running := 0
	for _, e := range s.st.Exports {
		if e.NIP == ar.bearer.NIP && !s.exportDone(e, ar.now) {
			running++
		}
	}
	if running >= maxRunningExports {
		writeException(w, ar.r, 400, 21182, "Osiągnięto limit trwających eksportów.", fmt.Sprintf("at most %d concurrent exports", maxRunningExports))
		return
	}
	key, iv, keyErr, ok := s.unwrapKeyLocked(w, ar, req.Encryption)
	if !ok {
		return
	}
	e := &export{Ref: newReferenceNumber(ar.now, "EH"), NIP: ar.bearer.NIP, Created: ar.now}
	s.st.Exports[e.Ref] = e
	s.markDirty()
	hang, failCode := s.takeExportFaultLocked()
	switch {
	case hang:
		// Never built: the export stays at 100 and counts as running, as KSeF's stuck ones do.
		s.log.Info("export hangs (admin fault)", "export", e.Ref)
	case failCode != 0:
		e.Done, e.Completed, e.Code, e.Description = true, ar.now, failCode, exportFaultCodes[failCode]
	case keyErr:
		e.Done, e.Completed, e.Code, e.Description = true, ar.now, 415, "Błąd odszyfrowania dostarczonego klucza"
	case code == 21183:
		e.Done, e.Completed, e.Code, e.Description = true, ar.now, 420, "Zakres filtrowania wykracza poza dostępny zakres danych"
		e.Details = []string{"Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym restrictToPermanentStorageHwmDate."}
	default:
		invs := s.matchLocked(ar.bearer.NIP, &req.Filters, from, to, ar.now)
		comp := req.CompressionType
		if comp == "" {
			comp = "Zip"
		}
		job := exportJob{ref: e.Ref, invs: invs, key: key, iv: iv, compression: comp, onlyMetadata: req.OnlyMetadata,
			dateType: req.Filters.DateRange.DateType, truncateAt: s.truncate, hwm: to, hasHWM: req.Filters.DateRange.DateType == "PermanentStorage"}
		job.claimsComplete = len(invs) > s.truncate && s.takeUntruncatedLocked()
		if job.hasHWM {
			job.hwm = s.reportedHWM(to, ar.now)
		}
		s.startJob(func() { s.buildExport(job) })
	}
	s.log.Info("export created", "export", e.Ref, "nip", e.NIP)
	writeJSON(w, 201, map[string]any{"referenceNumber": e.Ref})
}

type exportJob struct {
	ref          string
	invs         []*invoice
	key, iv      []byte
	compression  string
	onlyMetadata bool
	dateType     string
	truncateAt   int
	// claimsComplete: the package is cut at truncateAt but says it is not (an admin fault, #821)
	claimsComplete bool
	hwm            time.Time
	hasHWM         bool
}

func (s *Server) exportDone(e *export, now time.Time) bool {
	return e.Done && !now.Before(e.Created.Add(s.opts.ProcessingDelay))
}

// buildExport packages the matched invoices, splits and encrypts the parts.
func (s *Server) buildExport(job exportJob) {
	truncated := len(job.invs) > job.truncateAt && !job.claimsComplete
	invs := job.invs[:min(len(job.invs), job.truncateAt)]
	s.mu.Lock()
	contents := make([][]byte, len(invs))
	metas := make([]map[string]any, len(invs))
	for i, inv := range invs {
		metas[i] = s.metadataLocked(inv)
		for k, v := range s.exportFaults.extraMeta {
			if _, ok := metas[i][k]; !ok {
				metas[i][k] = v
			}
		}
		if !job.onlyMetadata {
			contents[i], _ = s.blobs.get(s.st, "inv/"+inv.KsefNumber)
		}
	}
	s.mu.Unlock()
	archive, err := writeExportArchive(invs, contents, metas, job.compression, job.onlyMetadata)
	pkg := &exportPackage{InvoiceCount: len(invs), Size: int64(len(archive)), IsTruncated: truncated, DateType: job.dateType, HWM: job.hwm, HasHWM: job.hasHWM}
	if truncated && len(invs) > 0 {
		pkg.LastDate = filterDate(invs[len(invs)-1], job.dateType)
	}
	ext := ".zip"
	if job.compression == "TarGz" {
		ext = ".tar.gz"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.Exports[job.ref]
	defer s.markDirty()
	if err != nil {
		e.Done, e.Completed, e.Code, e.Description, e.Details = true, s.now(), 500, "Nieznany błąd", []string{err.Error()}
		return
	}
	partSize := s.opts.ExportPartSize
	for i, off := 1, int64(0); off < int64(len(archive)); i, off = i+1, off+partSize {
		pt := archive[off:min(off+partSize, int64(len(archive)))]
		ct, err := aesCBCEncrypt(job.key, job.iv, pt)
		if err != nil {
			e.Done, e.Completed, e.Code, e.Description, e.Details = true, s.now(), 500, "Nieznany błąd", []string{err.Error()}
			return
		}
		key := fmt.Sprintf("export/%s/%d", job.ref, i)
		if err := s.blobs.put(s.st, key, ct); err != nil {
			e.Done, e.Completed, e.Code, e.Description, e.Details = true, s.now(), 500, "Nieznany błąd", []string{err.Error()}
			return
		}
		pkg.Parts = append(pkg.Parts, exportPart{Ordinal: i, Name: fmt.Sprintf("%s-%03d%s.aes", job.ref, i, ext), Size: int64(len(pt)), Hash: sha256B64(pt),
			EncSize: int64(len(ct)), EncHash: sha256B64(ct), BlobKey: key})
	}
	e.Package = pkg
	e.Done, e.Completed, e.Code, e.Description = true, s.now(), 200, "Eksport faktur zakończony sukcesem"
	s.log.Info("export ready", "export", job.ref, "invoices", len(invs), "truncated", truncated, "parts", len(pkg.Parts))
}

func writeExportArchive(invs []*invoice, contents [][]byte, metas []map[string]any, compression string, onlyMetadata bool) ([]byte, error) {
	metaJSON, err := json.Marshal(map[string]any{"invoices": metas})
	if err != nil {
		return nil, fmt.Errorf("encode _metadata.json: %w", err)
	}
	var buf bytes.Buffer
	archive := zipWriter
	if compression == "TarGz" {
		archive = tarGzWriter
	}
	add, closeArchive := archive(&buf)
	for i, inv := range invs {
		if onlyMetadata {
			break
		}
		if err := add(inv.KsefNumber+".xml", contents[i]); err != nil {
			return nil, err
		}
	}
	if err := add("_metadata.json", metaJSON); err != nil {
		return nil, err
	}
	if err := closeArchive(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarGzWriter and zipWriter write an export package's files to w; close finishes the archive.
func tarGzWriter(w io.Writer) (add func(name string, data []byte) error, close func() error) {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	add = func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	return add, func() error {
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	}
}

func zipWriter(w io.Writer) (add func(name string, data []byte) error, close func() error) {
	zw := zip.NewWriter(w)
	add = func(name string, data []byte) error {
		f, err := zw.Create(name)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return err
	}
	return add, zw.Close
}

func (s *Server) handleExportStatus(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.Exports[ar.params["referenceNumber"]]
	if e == nil || e.NIP != ar.bearer.NIP {
		writeException(w, ar.r, 400, 21175, "Nie znaleziono eksportu o podanym numerze referencyjnym.", "export not found")
		return
	}
	if statusGone(w, ar, e.Created, exportRetention, "Export") {
		return
	}
	if !s.exportDone(e, ar.now) {
		writeJSON(w, 200, map[string]any{"status": map[string]any{"code": 100, "description": "Eksport faktur w toku"}})
		return
	}
	status := map[string]any{"code": e.Code, "description": e.Description}
	if len(e.Details) > 0 {
		status["details"] = e.Details
	}
	completed := maxTime(e.Completed, e.Created.Add(s.opts.ProcessingDelay))
	body := map[string]any{"status": status, "completedDate": fmtTime(completed)}
	if p := e.Package; p != nil && e.Code == 200 {
		exp := ar.now.Add(s.opts.ExportPartURLTTL) // from this status read, not the export's end (see New)
		parts := make([]map[string]any, 0, len(p.Parts))
		for _, part := range p.Parts {
			parts = append(parts, map[string]any{"ordinalNumber": part.Ordinal, "partName": part.Name, "method": "GET",
				"url": s.storageURL(ar.r, fmt.Sprintf("/storage/export/%s/%d", e.Ref, part.Ordinal), exp), "partSize": part.Size, "partHash": part.Hash,
				"encryptedPartSize": part.EncSize, "encryptedPartHash": part.EncHash, "expirationDate": fmtTime(exp)})
		}
		pkg := map[string]any{"invoiceCount": p.InvoiceCount, "size": p.Size, "isTruncated": p.IsTruncated, "parts": parts}
		if p.IsTruncated && !p.LastDate.IsZero() {
			switch p.DateType {
			case "Issue":
				pkg["lastIssueDate"] = p.LastDate.Format("2006-01-02")
			case "Invoicing":
				pkg["lastInvoicingDate"] = fmtTime(p.LastDate)
			default:
				pkg["lastPermanentStorageDate"] = fmtTime(p.LastDate)
			}
		}
		if p.HasHWM {
			pkg["permanentStorageHwmDate"] = fmtTime(p.HWM)
		}
		body["package"] = pkg
		body["packageExpirationDate"] = fmtTime(completed.Add(exportRetention))
	}
	writeJSON(w, 200, body)
}

func (s *Server) serveExportPart(w http.ResponseWriter, r *http.Request, ref, ordinal string) {
	n, err := strconv.Atoi(ordinal)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	data, ok := s.blobs.get(s.st, fmt.Sprintf("export/%s/%d", ref, n))
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("x-ms-meta-hash", sha256B64(data))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}
