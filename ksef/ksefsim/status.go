package ksefsim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// invoiceView is an invoice as visible at now (the asynchronous 100 → 150 → final progression).
func (s *Server) invoiceView(inv *invoice, now time.Time) (code int, final bool) {
	if inv.Mode == "online" && !inv.Seeded {
		d := s.invoiceDelay(inv)
		switch {
		case now.Before(inv.Received.Add(d)):
			return 100, false
		case now.Before(inv.Received.Add(2 * d)):
			return 150, false
		}
	}
	return inv.Code, true
}

func invoiceCodeDescription(code int) string {
	switch code {
	case 100:
		return "Faktura przyjęta do dalszego przetwarzania"
	case 150:
		return "Trwa przetwarzanie"
	}
	return ""
}

// sessionView computes the session status visible at now; callers hold s.mu.
func (s *Server) sessionView(sess *session, now time.Time) (int, string, []string) {
	s.autoCloseLocked(sess, now)
	if sess.KeyError {
		return 415, "Błąd odszyfrowania dostarczonego klucza", nil
	}
	if sess.FailCode != 0 {
		return sess.FailCode, sess.FailDesc, sess.FailDetails
	}
	d := s.sessionDelay(sess)
	if sess.Kind == "Online" {
		if !sess.Closed {
			return 100, "Sesja interaktywna otwarta", nil
		}
		if now.Before(sess.ClosedAt.Add(d)) {
			return 170, "Sesja interaktywna zamknięta", nil
		}
		for _, ref := range sess.Invoices {
			if _, final := s.invoiceView(s.st.Invoices[ref], now); !final {
				return 170, "Sesja interaktywna zamknięta", nil
			}
		}
	} else {
		if !sess.Closed {
			return 100, "Sesja wsadowa rozpoczęta", nil
		}
		if !sess.Batch.Processed || now.Before(sess.ClosedAt.Add(d)) {
			return 150, "Trwa przetwarzanie", nil
		}
	}
	if len(sess.Invoices) == 0 {
		return 440, "Sesja anulowana", []string{"Nie przesłano faktur"}
	}
	if s.countInvoices(sess, now, func(c int) bool { return c == 200 }) == 0 {
		return 445, "Błąd weryfikacji, brak poprawnych faktur", nil
	}
	if sess.Kind == "Online" {
		return 200, "Sesja interaktywna przetworzona pomyślnie", nil
	}
	return 200, "Sesja wsadowa przetworzona pomyślnie", nil
}

// sessionValidUntil is the end of a session's life. A batch session's status carries it too, 12 h
// after the open (production, CIRFMF/ksef-api #308: a batch session's body with "validUntil"; #54:
// "do końca życia sesji (aktualnie 12h)").
func sessionValidUntil(sess *session) time.Time {
	if sess.Kind == "Batch" {
		return sess.Created.Add(onlineSessionTTL)
	}
	return sess.ValidUntil
}

func (s *Server) countInvoices(sess *session, now time.Time, pred func(int) bool) int {
	n := 0
	for _, ref := range sess.Invoices {
		if c, final := s.invoiceView(s.st.Invoices[ref], now); final && pred(c) {
			n++
		}
	}
	return n
}

// callerSessionLocked finds the session the path names for the caller; nil means the answer was
// written. A session KSeF does not know is 400 21173; a session opened in another context is
// refused as a resource the caller may not reach, 403 insufficient-resource-access (see
// writeNoResourceAccess). Within a context the simulator has one subject, so #841's other readers
// (the context's owner, a holder of Introspection) are always the caller.
func (s *Server) callerSessionLocked(w http.ResponseWriter, ar *apiRequest) *session {
	sess := s.st.Sessions[ar.params["referenceNumber"]]
	switch {
	case sess == nil:
		writeNoSession(w, ar)
		return nil
	case sess.NIP != ar.bearer.NIP:
		writeNoResourceAccess(w, ar.r)
		return nil
	}
	return sess
}

// writeNoSession answers open-api.json's 21173: "Brak sesji o wskazanym numerze referencyjnym." |
// "Sesja o numerze referencyjnym {referenceNumber} nie została znaleziona." (the online send and
// close say "odnaleziona").
func writeNoSession(w http.ResponseWriter, ar *apiRequest) {
	found := "znaleziona"
	if strings.Contains(ar.r.URL.Path, "/sessions/online/") {
		found = "odnaleziona"
	}
	ref := ar.params["referenceNumber"]
	writeException(w, ar.r, 400, 21173, "Brak sesji o wskazanym numerze referencyjnym.", "Sesja o numerze referencyjnym "+ref+" nie została "+found+".")
}

// writeNoResourceAccess answers a request about a session of another context as production KSeF
// does (CIRFMF/ksef-api #826, a send into a session opened in another context): "403 Forbidden
// {"title":"Forbidden","status":403,"detail":"Brak dostępu do wskazanego zasobu.","instance":
// "/v2/sessions/online/…/invoices","reasonCode":"insufficient-resource-access","traceId":…,
// "timestamp":…}". MF on who may read a session's status and UPO (#841): "podmiot (Subject), który
// otworzył sesję w uwierzytelnionym kontekście (Context); … będący właścicielem uwierzytelnionego
// kontekstu …; … posiadający uprawnienie Introspection w uwierzytelnionym kontekście". The body is
// open-api.json's ForbiddenProblemDetails, whatever X-Error-Format says.
func writeNoResourceAccess(w http.ResponseWriter, r *http.Request) {
	writeJSONType(w, "application/problem+json", http.StatusForbidden, map[string]any{
		"title": "Forbidden", "status": http.StatusForbidden, "detail": "Brak dostępu do wskazanego zasobu.",
		"instance": r.URL.Path, "reasonCode": "insufficient-resource-access",
		"timestamp": fmtTime(time.Now()), "traceId": strings.ToLower(randomHex(16)),
	})
}

// withCallerSession runs h under s.mu with the session the path names, when it is the caller's
// (otherwise 21173 or 403 was answered).
func (s *Server) withCallerSession(w http.ResponseWriter, ar *apiRequest, h func(http.ResponseWriter, *apiRequest, *session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess := s.callerSessionLocked(w, ar); sess != nil {
		h(w, ar, sess)
	}
}

func (s *Server) handleSessionStatus(w http.ResponseWriter, ar *apiRequest) {
	s.withCallerSession(w, ar, s.sessionStatusLocked)
}

func (s *Server) sessionStatusLocked(w http.ResponseWriter, ar *apiRequest, sess *session) {
	code, desc, details := s.sessionView(sess, ar.now)
	status := map[string]any{"code": code, "description": desc}
	if len(details) > 0 {
		status["details"] = details
	}
	body := map[string]any{"status": status, "dateCreated": fmtTime(sess.Created), "dateUpdated": fmtTime(sess.Updated)}
	body["validUntil"] = fmtTime(sessionValidUntil(sess))
	visible := 0
	for _, ref := range sess.Invoices {
		if _, final := s.invoiceView(s.st.Invoices[ref], ar.now); final || sess.Kind == "Online" {
			visible++
		}
	}
	body["invoiceCount"] = visible
	body["successfulInvoiceCount"] = s.countInvoices(sess, ar.now, func(c int) bool { return c == 200 })
	body["failedInvoiceCount"] = s.countInvoices(sess, ar.now, func(c int) bool { return c >= 300 })
	if code == 200 {
		pages := s.upoPagesLocked(sess)
		out := make([]map[string]any, 0, len(pages))
		exp := ar.now.Add(s.opts.UPOURLTTL)
		for _, p := range pages {
			out = append(out, map[string]any{"referenceNumber": p, "downloadUrl": s.storageURL(ar.r, "/storage/upo/session/"+sess.Ref+"/"+p, exp), "downloadUrlExpirationDate": fmtTime(exp)})
		}
		body["upo"] = map[string]any{"pages": out}
	}
	writeJSON(w, 200, body)
}

// upoPagesLocked assigns the session UPO page references once the session succeeded.
func (s *Server) upoPagesLocked(sess *session) []string {
	if sess.UpoPages != nil {
		return sess.UpoPages
	}
	n := 0
	for _, ref := range sess.Invoices {
		if s.st.Invoices[ref].Code == 200 {
			n++
		}
	}
	pages := max(1, (n+upoPageSize-1)/upoPageSize)
	for i := 1; i <= pages; i++ {
		ref := newReferenceNumber(sess.ClosedAt, "EU")
		sess.UpoPages = append(sess.UpoPages, ref)
		s.st.UpoPages[ref] = upoPage{SessionRef: sess.Ref, Page: i}
	}
	s.markDirty()
	return sess.UpoPages
}

// invoiceStatusBody renders SessionInvoiceStatusResponse; callers hold s.mu.
func (s *Server) invoiceStatusBody(r *http.Request, inv *invoice, now time.Time) map[string]any {
	code, final := s.invoiceView(inv, now)
	status := map[string]any{"code": code}
	if final {
		status["description"] = inv.Description
		if len(inv.Details) > 0 {
			status["details"] = inv.Details
		}
		if len(inv.Extensions) > 0 {
			status["extensions"] = inv.Extensions
		}
	} else {
		status["description"] = invoiceCodeDescription(code)
	}
	body := map[string]any{"ordinalNumber": inv.Ordinal, "referenceNumber": inv.Ref, "invoiceHash": inv.InvoiceHash, "invoicingDate": fmtTime(inv.Received), "status": status}
	if inv.FileName != "" {
		body["invoiceFileName"] = inv.FileName
	}
	if inv.InvoiceNumber != "" {
		body["invoiceNumber"] = inv.InvoiceNumber
	}
	if final && code == 200 {
		body["ksefNumber"] = inv.KsefNumber
		body["acquisitionDate"] = fmtTime(inv.Acquisition)
		if !now.Before(inv.Storage) {
			body["permanentStorageDate"] = fmtTime(inv.Storage)
		}
		exp := now.Add(s.opts.UPOURLTTL)
		body["upoDownloadUrl"] = s.storageURL(r, "/storage/upo/invoice/"+inv.SessionRef+"/"+inv.Ref, exp)
		body["upoDownloadUrlExpirationDate"] = fmtTime(exp)
		body["invoicingMode"] = invoicingMode(inv)
	}
	return body
}

func invoicingMode(inv *invoice) string {
	if inv.Offline {
		return "Offline"
	}
	return "Online"
}

func (s *Server) handleInvoiceStatus(w http.ResponseWriter, ar *apiRequest) {
	s.withCallerSession(w, ar, s.invoiceStatusLocked)
}

func (s *Server) invoiceStatusLocked(w http.ResponseWriter, ar *apiRequest, sess *session) {
	inv := s.st.Invoices[ar.params["invoiceReferenceNumber"]]
	if inv == nil || inv.SessionRef != sess.Ref {
		writeException(w, ar.r, 400, 21175, "Brak faktury o wskazanym numerze referencyjnym.", "invoice not found in session")
		return
	}
	writeJSON(w, 200, s.invoiceStatusBody(ar.r, inv, ar.now))
}

// handleSessionInvoices lists (failed) invoices with x-continuation-token paging.
func (s *Server) handleSessionInvoices(failedOnly bool) handlerFunc {
	return func(w http.ResponseWriter, ar *apiRequest) {
		pageSize, start, ok := continuedPage(w, ar, ar.params["referenceNumber"])
		if !ok {
			return
		}
		s.withCallerSession(w, ar, func(w http.ResponseWriter, ar *apiRequest, sess *session) {
			var items []map[string]any
			i := start
			for ; i < len(sess.Invoices) && len(items) < pageSize; i++ {
				inv := s.st.Invoices[sess.Invoices[i]]
				code, final := s.invoiceView(inv, ar.now)
				if failedOnly && (!final || code < 300) {
					continue
				}
				items = append(items, s.invoiceStatusBody(ar.r, inv, ar.now))
			}
			if items == nil {
				items = []map[string]any{}
			}
			body := map[string]any{"invoices": items}
			if i < len(sess.Invoices) {
				body["continuationToken"] = encodeContinuation(i, sess.Ref)
			}
			writeJSON(w, 200, body)
		})
	}
}

func encodeContinuation(pos int, scope string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d|%s", pos, scope))
}

func decodeContinuation(tok, scope string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	posText, sc, ok := strings.Cut(string(raw), "|")
	pos, err := strconv.Atoi(posText)
	if !ok || err != nil || sc != scope || pos < 0 {
		return 0, false
	}
	return pos, true
}

// continuedPage reads the page a continued list asks for: pageSize (10 when not given) and the
// position its x-continuation-token for scope names (0 without one); ok=false means the token was
// not ours and the 21418 answer is written.
func continuedPage(w http.ResponseWriter, ar *apiRequest, scope string) (pageSize, start int, ok bool) {
	pageSize = 10
	if v := ar.r.URL.Query().Get("pageSize"); v != "" {
		pageSize, _ = strconv.Atoi(v)
	}
	tok := ar.r.Header.Get("x-continuation-token")
	if tok == "" {
		return pageSize, 0, true
	}
	if start, ok = decodeContinuation(tok, scope); !ok {
		writeException(w, ar.r, 400, 21418, "Przekazany token kontynuacji ma nieprawidłowy format.", "invalid x-continuation-token")
	}
	return pageSize, start, ok
}

func (s *Server) handleListSessions(w http.ResponseWriter, ar *apiRequest) {
	q := ar.r.URL.Query()
	kind := q.Get("sessionType")
	pageSize, start, ok := continuedPage(w, ar, "sessions:"+kind)
	if !ok {
		return
	}
	statuses := q["statuses"]
	refFilter := q.Get("referenceNumber")
	createdFrom, _ := time.Parse(time.RFC3339Nano, q.Get("dateCreatedFrom")) // zero when absent
	s.mu.Lock()
	defer s.mu.Unlock()
	// Newest first: walk the creation-order list backwards; the cursor counts skipped positions.
	var items []map[string]any
	i := start
	list := s.st.SessionList
	for ; i < len(list) && len(items) < pageSize; i++ {
		sess := s.st.Sessions[list[len(list)-1-i]]
		if sess.Kind != kind || sess.NIP != ar.bearer.NIP || (refFilter != "" && sess.Ref != refFilter) || sess.Created.Before(createdFrom) {
			continue
		}
		code, desc, details := s.sessionView(sess, ar.now)
		if len(statuses) > 0 && !contains(statuses, sessionStatusGroup(code)) {
			continue
		}
		status := map[string]any{"code": code, "description": desc}
		if len(details) > 0 {
			status["details"] = details
		}
		item := map[string]any{"referenceNumber": sess.Ref, "status": status, "dateCreated": fmtTime(sess.Created), "dateUpdated": fmtTime(sess.Updated),
			"totalInvoiceCount":      len(sess.Invoices),
			"successfulInvoiceCount": s.countInvoices(sess, ar.now, func(c int) bool { return c == 200 }),
			"failedInvoiceCount":     s.countInvoices(sess, ar.now, func(c int) bool { return c >= 300 })}
		if sess.Kind == "Online" {
			item["validUntil"] = fmtTime(sess.ValidUntil)
		}
		items = append(items, item)
	}
	if items == nil {
		items = []map[string]any{}
	}
	body := map[string]any{"sessions": items}
	if i < len(list) {
		body["continuationToken"] = encodeContinuation(i, "sessions:"+kind)
	}
	writeJSON(w, 200, body)
}

func sessionStatusGroup(code int) string {
	switch {
	case code < 200:
		return "InProgress"
	case code == 200:
		return "Succeeded"
	case code == 440:
		return "Cancelled"
	}
	return "Failed"
}

// ---- UPO ----

type upoDocument struct {
	NipSprzedawcy           string `xml:"NipSprzedawcy"`
	NumerKSeFDokumentu      string `xml:"NumerKSeFDokumentu"`
	NumerFaktury            string `xml:"NumerFaktury"`
	DataWystawieniaFaktury  string `xml:"DataWystawieniaFaktury"`
	DataPrzeslaniaDokumentu string `xml:"DataPrzeslaniaDokumentu"`
	DataNadaniaNumeruKSeF   string `xml:"DataNadaniaNumeruKSeF"`
	SkrotDokumentu          string `xml:"SkrotDokumentu"`
	TrybWysylki             string `xml:"TrybWysylki"`
}

// upoPageInfo is OpisPotwierdzenia: which page of a paged UPO this is and the documents it covers.
type upoPageInfo struct {
	Strona                    int `xml:"Strona"`
	LiczbaStron               int `xml:"LiczbaStron"`
	ZakresDokumentowOd        int `xml:"ZakresDokumentowOd"`
	ZakresDokumentowDo        int `xml:"ZakresDokumentowDo"`
	CalkowitaLiczbaDokumentow int `xml:"CalkowitaLiczbaDokumentow"`
}

type upoXML struct {
	XMLName                    xml.Name `xml:"http://upo.schematy.mf.gov.pl/KSeF/v4-3 Potwierdzenie"`
	NazwaPodmiotuPrzyjmujacego string   `xml:"NazwaPodmiotuPrzyjmujacego"`
	NumerReferencyjnySesji     string   `xml:"NumerReferencyjnySesji"`
	Uwierzytelnienie           struct {
		IdKontekstu struct {
			Nip string `xml:"Nip"`
		} `xml:"IdKontekstu"`
		NumerReferencyjnyTokenaKSeF       string `xml:"NumerReferencyjnyTokenaKSeF,omitempty"`
		SkrotDokumentuUwierzytelniajacego string `xml:"SkrotDokumentuUwierzytelniajacego,omitempty"`
	} `xml:"Uwierzytelnienie"`
	OpisPotwierdzenia       *upoPageInfo  `xml:"OpisPotwierdzenia,omitempty"`
	NazwaStrukturyLogicznej string        `xml:"NazwaStrukturyLogicznej"`
	KodFormularza           string        `xml:"KodFormularza"`
	Dokument                []upoDocument `xml:"Dokument"`
}

// buildUPO renders a UPO v4-3 for the given accepted invoices of sess; callers hold s.mu.
func (s *Server) buildUPO(sess *session, invs []*invoice, page, pages, from, total int) []byte {
	u := upoXML{NazwaPodmiotuPrzyjmujacego: "Ministerstwo Finansów - środowisko testowe (TE)", NumerReferencyjnySesji: sess.Ref,
		NazwaStrukturyLogicznej: sess.Form.Structure, KodFormularza: sess.Form.SystemCode}
	u.Uwierzytelnienie.IdKontekstu.Nip = sess.NIP
	if op := s.st.Auths[sess.AuthRef]; op != nil && op.TokenRef != "" {
		u.Uwierzytelnienie.NumerReferencyjnyTokenaKSeF = op.TokenRef
	} else if op != nil {
		u.Uwierzytelnienie.SkrotDokumentuUwierzytelniajacego = op.DocumentHash
	}
	if pages > 0 {
		u.OpisPotwierdzenia = &upoPageInfo{page, pages, from, from + len(invs) - 1, total}
	}
	for _, inv := range invs {
		issue := ""
		if inv.Facts != nil {
			issue = inv.Facts.IssueDate
		}
		u.Dokument = append(u.Dokument, upoDocument{NipSprzedawcy: inv.Facts.SellerNIP, NumerKSeFDokumentu: inv.KsefNumber, NumerFaktury: inv.InvoiceNumber,
			DataWystawieniaFaktury: issue, DataPrzeslaniaDokumentu: fmtTime(inv.Received), DataNadaniaNumeruKSeF: fmtTime(inv.Acquisition),
			SkrotDokumentu: inv.InvoiceHash, TrybWysylki: invoicingMode(inv)})
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "\t")
	_ = enc.Encode(u)
	return buf.Bytes()
}

func writeXML(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-ms-meta-hash", sha256B64(data))
	w.WriteHeader(200)
	_, _ = w.Write(data)
}

// invoiceUPOLocked returns the per-invoice UPO or "" with a reason.
func (s *Server) invoiceUPOLocked(sess *session, inv *invoice, now time.Time) ([]byte, string) {
	if inv == nil || inv.SessionRef != sess.Ref {
		return nil, "invoice not found in session"
	}
	if code, final := s.invoiceView(inv, now); !final || code != 200 {
		return nil, "UPO is not available for this invoice (status " + strconv.Itoa(code) + ")"
	}
	return s.buildUPO(sess, []*invoice{inv}, 0, 0, 0, 0), ""
}

func (s *Server) handleInvoiceUPO(w http.ResponseWriter, ar *apiRequest) {
	s.withCallerSession(w, ar, func(w http.ResponseWriter, ar *apiRequest, sess *session) {
		s.writeInvoiceUPOLocked(w, ar, sess, s.st.Invoices[ar.params["invoiceReferenceNumber"]])
	})
}

func (s *Server) handleInvoiceUPOByKsef(w http.ResponseWriter, ar *apiRequest) {
	s.withCallerSession(w, ar, func(w http.ResponseWriter, ar *apiRequest, sess *session) {
		s.writeInvoiceUPOLocked(w, ar, sess, s.st.Invoices[s.st.ByKsef[ar.params["ksefNumber"]]])
	})
}

func (s *Server) writeInvoiceUPOLocked(w http.ResponseWriter, ar *apiRequest, sess *session, inv *invoice) {
	data, why := s.invoiceUPOLocked(sess, inv, ar.now)
	if data == nil {
		writeException(w, ar.r, 400, 21178, "Nie znaleziono UPO dla podanych kryteriów.", why)
		return
	}
	writeXML(w, data)
}

// sessionUPOPageLocked renders page p (1-based) of the session UPO.
func (s *Server) sessionUPOPageLocked(sess *session, page int) []byte {
	var ok []*invoice
	for _, ref := range sess.Invoices {
		if inv := s.st.Invoices[ref]; inv.Code == 200 {
			ok = append(ok, inv)
		}
	}
	pages := len(s.upoPagesLocked(sess))
	from := (page - 1) * upoPageSize
	to := min(from+upoPageSize, len(ok))
	if from > to {
		from = to
	}
	return s.buildUPO(sess, ok[from:to], page, pages, from+1, len(ok))
}

func (s *Server) handleSessionUPO(w http.ResponseWriter, ar *apiRequest) {
	s.withCallerSession(w, ar, s.sessionUPOLocked)
}

func (s *Server) sessionUPOLocked(w http.ResponseWriter, ar *apiRequest, sess *session) {
	p, ok := s.st.UpoPages[ar.params["upoReferenceNumber"]]
	if code, _, _ := s.sessionView(sess, ar.now); !ok || p.SessionRef != sess.Ref || code != 200 {
		writeException(w, ar.r, 400, 21178, "Nie znaleziono UPO dla podanych kryteriów.", "UPO page not found")
		return
	}
	writeXML(w, s.sessionUPOPageLocked(sess, p.Page))
}

// ---- storage ----

// storageError answers as Azure Blob Storage, which serves KSeF's pre-signed URLs (they carry its
// SAS parameters sv, se, sr, sp, sig; a batch part upload asks for its x-ms-blob-type header): an
// XML error body naming the storage error code, <?xml version="1.0" encoding="utf-8"?><Error>
// <Code>string-value</Code><Message>string-value</Message></Error>
// (learn.microsoft.com/rest/api/storageservices/status-and-error-codes2), and for an
// authentication failure such as an expired link <AuthenticationErrorDetail> ("Signed expiry time
// [...] must be after signed start time [...]", "Troubleshoot 403 errors in Azure Blob Storage").
func storageError(w http.ResponseWriter, status int, code, message, detail string) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><Error><Code>`)
	xml.EscapeText(&b, []byte(code))
	b.WriteString(`</Code><Message>`)
	xml.EscapeText(&b, []byte(message+"\nRequestId:"+newUUID()+"\nTime:"+time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z")))
	b.WriteString(`</Message>`)
	if detail != "" {
		b.WriteString(`<AuthenticationErrorDetail>`)
		xml.EscapeText(&b, []byte(detail))
		b.WriteString(`</AuthenticationErrorDetail>`)
	}
	b.WriteString(`</Error>`)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	s.mu.Lock()
	ok, why := s.checkSignature(r, now)
	s.mu.Unlock()
	if !ok {
		storageError(w, http.StatusForbidden, "AuthenticationFailed",
			"Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.", why)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/storage/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "batch":
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			http.NotFound(w, r)
			return
		}
		s.handlePartUpload(w, r, parts[1], n)
	case r.Method != http.MethodGet:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case len(parts) == 4 && parts[0] == "upo":
		s.serveUPOBlob(w, r, parts[1], parts[2], parts[3], now)
	case len(parts) == 3 && parts[0] == "export":
		s.serveExportPart(w, r, parts[1], parts[2])
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveUPOBlob(w http.ResponseWriter, r *http.Request, kind, sessRef, ref string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.st.Sessions[sessRef]
	if sess == nil {
		http.NotFound(w, r)
		return
	}
	var data []byte
	switch kind {
	case "invoice":
		data, _ = s.invoiceUPOLocked(sess, s.st.Invoices[ref], now)
	case "session":
		if p, ok := s.st.UpoPages[ref]; ok && p.SessionRef == sessRef {
			data = s.sessionUPOPageLocked(sess, p.Page)
		}
	}
	if data == nil {
		http.NotFound(w, r)
		return
	}
	writeXML(w, data)
}
