package ksefsim

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// exportFaults make exports misbehave as production KSeF's do: some stay at status 100 for days
// (CIRFMF/ksef-api #307, #366, #846) and still count towards the limit of 10 concurrent exports
// (21182); others end with 210 (expired), 415, 500, 550 or a code the spec does not list (410);
// some packages cut at the invoice limit claim to be complete (CIRFMF/ksef-api #821); and a context
// may be refused exports for a subject type (21181). Guarded by Server.mu.
type exportFaults struct {
	hang int   // the next hang exports never finish
	fail []int // the next exports end with these status codes, in order
	// untruncated: the next this many packages cut at the invoice limit report isTruncated=false
	untruncated int
	// refused are the subject types whose exports are refused with 400 21181
	refused map[string]bool
	// extraMeta are fields added to the export's metadata records (AddExportMetadataFields)
	extraMeta map[string]any
}

// exportFaultCodes are the final export statuses the admin may ask for, with KSeF's descriptions:
// those of open-api.json's table for GET /invoices/exports/{referenceNumber}, and 410, which is not
// in it but which KSeF answered in an HTTP 200 status body (CIRFMF/ksef-api #245: "API zawsze
// zwraca \"410 Błąd walidacji danych wejściowych\" [...] sam response ma 200 OK. Tego nawet nie ma
// dokumentacji"; again in #259).
var exportFaultCodes = map[int]string{
	210: "Eksport wygasł",
	410: "Błąd walidacji danych wejściowych",
	415: "Błąd odszyfrowania dostarczonego klucza",
	500: "Nieznany błąd",
	550: "Operacja została anulowana przez system",
}

// HangExports leaves the next n exports at status 100 forever; they keep counting as running.
func (s *Server) HangExports(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exportFaults.hang = n
}

// FailExports makes the next n exports end with status code (210, 410, 415, 500 or 550).
func (s *Server) FailExports(code, n int) error {
	return queueStatus(s, exportFaultCodes, &s.exportFaults.fail, "export", "210, 410, 415, 500 or 550", code, n)
}

// ReportCutPackagesUntruncated makes the next n export packages that are cut at the invoice limit
// (the -truncate setting, 10 000 by default) say they are complete: isTruncated false and no
// lastPermanentStorageDate, while they hold only the first invoices. Production KSeF answered so
// (CIRFMF/ksef-api #821, PROD: "eksport [...] zwraca 10_001 rekordów i dalej nie dzieli na paczki,
// jeśli faktur jest więcej"; its log shows "InvoiceCount: 10001, [...] IsTruncated: False,
// [...] LastPermanentStorageDate: \"\""). The simulator's package keeps the limit's count rather
// than one more, so its answer still meets open-api.json (InvoicePackage.invoiceCount "maximum":
// 10000) and the answer check stays on.
func (s *Server) ReportCutPackagesUntruncated(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exportFaults.untruncated = n
}

// takeUntruncatedLocked consumes the fault for a package that is being cut at the limit.
func (s *Server) takeUntruncatedLocked() bool {
	if s.exportFaults.untruncated == 0 {
		return false
	}
	s.exportFaults.untruncated--
	return true
}

// RefuseExportSubjects makes KSeF refuse every export for these subject types (Subject1, Subject2,
// Subject3, SubjectAuthorized) in every context, with 400 21181; none: exports are allowed again.
// open-api.json, POST /invoices/exports, 400: "21181 | Nieprawidłowe żądanie eksportu faktur. | Nie
// można wyeksportować paczki faktur dla wybranego podmiotu ({subjecttype}) i zalogowanego
// identyfikatora kontekstu ({type})." The spec does not say which pairs KSeF refuses, so the
// simulator refuses the ones it is told to.
func (s *Server) RefuseExportSubjects(subjectTypes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exportFaults.refused = map[string]bool{}
	for _, t := range subjectTypes {
		s.exportFaults.refused[t] = true
	}
}

// refusedSubjectLocked reports whether exports for subjectType are refused (21181).
func (s *Server) refusedSubjectLocked(subjectType string) bool {
	return s.exportFaults.refused[subjectType]
}

// AddExportMetadataFields adds fields to every record of the _metadata.json of the exports built
// from now on, as a newer KSeF would send fields this client does not model. A field KSeF already
// sends keeps its value. nil stops it.
func (s *Server) AddExportMetadataFields(fields map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exportFaults.extraMeta = fields
}

// takeExportFaultLocked consumes the fault for the export being created: hang, or a final status
// code (0: none).
func (s *Server) takeExportFaultLocked() (hang bool, code int) {
	f := &s.exportFaults
	if f.hang > 0 {
		f.hang--
		return true, 0
	}
	if len(f.fail) > 0 {
		code, f.fail = f.fail[0], f.fail[1:]
		return false, code
	}
	return false, 0
}

// serveExportAdmin implements the export controls of the admin API:
//
//	POST /admin/exports/hang?n=3            the next 3 exports stay at status 100 forever
//	POST /admin/exports/fail?status=500&n=2 the next 2 exports end with status 500 (210, 410, 415, 500, 550)
//	POST /admin/exports/lie-untruncated?n=1 the next package cut at the limit says isTruncated=false
//	POST /admin/exports/refuse-subject?type=SubjectAuthorized,Subject3
//	                                        exports for those subject types get 400 21181 (no type: none)
func (s *Server) serveExportAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/exports/refuse-subject" {
		s.serveRefuseSubject(w, r)
		return
	}
	n, ok := adminCount(w, r, "exports: POST with n, a count of exports (0 or more)")
	if !ok {
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/admin/exports/hang":
		s.HangExports(n)
	case "/admin/exports/fail":
		code, _ := strconv.Atoi(q.Get("status"))
		if err := s.FailExports(code, n); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
	case "/admin/exports/lie-untruncated":
		s.ReportCutPackagesUntruncated(n)
	default:
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// exportSubjectTypes are the subject types of an export's filter (open-api.json
// InvoiceQuerySubjectType).
var exportSubjectTypes = map[string]bool{"Subject1": true, "Subject2": true, "Subject3": true, "SubjectAuthorized": true}

// serveRefuseSubject sets the subject types refused with 21181: POST ?type=A,B (none: clear).
func (s *Server) serveRefuseSubject(w http.ResponseWriter, r *http.Request) {
	if !adminLoopback(w, r) {
		return
	}
	var types []string
	if v := r.URL.Query().Get("type"); v != "" {
		types = strings.Split(v, ",")
	}
	for _, t := range types {
		if !exportSubjectTypes[t] {
			http.Error(w, fmt.Sprintf("refuse-subject: type %q is not Subject1, Subject2, Subject3 or SubjectAuthorized", t), 400)
			return
		}
	}
	if r.Method != http.MethodPost {
		http.Error(w, "refuse-subject: POST ?type=SubjectAuthorized,Subject3 (none: refuse none)", 400)
		return
	}
	s.RefuseExportSubjects(types...)
	w.WriteHeader(http.StatusNoContent)
}

// WaitJobs blocks until the asynchronous work started so far (export building, batch processing)
// is done. A test that moves time by hand calls it before each step, so its clock never runs ahead
// of work the simulator has not had the CPU to finish.
func (s *Server) WaitJobs() { s.jobs.Wait() }

// adminCount starts a counting admin control (POST ...?n=N): loopback only, POST, and n a count of
// 0 or more. It answers the request itself, with usage, when any of that is not so.
func adminCount(w http.ResponseWriter, r *http.Request, usage string) (int, bool) {
	if !adminLoopback(w, r) {
		return 0, false
	}
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || r.Method != http.MethodPost {
		http.Error(w, usage, http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

// adminLoopback answers 403 and reports false when the admin request does not come from loopback.
func adminLoopback(w http.ResponseWriter, r *http.Request) bool {
	if ip := net.ParseIP(clientIP(r)); ip == nil || !ip.IsLoopback() {
		http.Error(w, "admin API is loopback-only", http.StatusForbidden)
		return false
	}
	return true
}
