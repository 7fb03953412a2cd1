package ksefsim

import (
	"net"
	"net/http"
	"strconv"
)

// exportFaults make exports misbehave as production KSeF's do: some stay at status 100 for days
// (CIRFMF/ksef-api #307, #366, #846) and still count towards the limit of 10 concurrent exports
// (21182); others end with 210 (expired), 415, 500 or 550. Guarded by Server.mu.
type exportFaults struct {
	hang int   // the next hang exports never finish
	fail []int // the next exports end with these status codes, in order
	// extraMeta are fields added to the export's metadata records (AddExportMetadataFields)
	extraMeta map[string]any
}

// exportFaultCodes are the final export statuses the admin may ask for, with KSeF's descriptions.
var exportFaultCodes = map[int]string{
	210: "Eksport wygasł",
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

// FailExports makes the next n exports end with status code (210, 415, 500 or 550).
func (s *Server) FailExports(code, n int) error {
	return queueStatus(s, exportFaultCodes, &s.exportFaults.fail, "export", "210, 415, 500 or 550", code, n)
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
//	POST /admin/exports/fail?status=500&n=2 the next 2 exports end with status 500 (210, 415, 500, 550)
func (s *Server) serveExportAdmin(w http.ResponseWriter, r *http.Request) {
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
	default:
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// WaitJobs blocks until the asynchronous work started so far (export building, batch processing)
// is done. A test that moves time by hand calls it before each step, so its clock never runs ahead
// of work the simulator has not had the CPU to finish.
func (s *Server) WaitJobs() { s.jobs.Wait() }

// adminCount starts a counting admin control (POST ...?n=N): loopback only, POST, and n a count of
// 0 or more. It answers the request itself, with usage, when any of that is not so.
func adminCount(w http.ResponseWriter, r *http.Request, usage string) (int, bool) {
	if ip := net.ParseIP(clientIP(r)); ip == nil || !ip.IsLoopback() {
		http.Error(w, "admin API is loopback-only", http.StatusForbidden)
		return 0, false
	}
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || r.Method != http.MethodPost {
		http.Error(w, usage, http.StatusBadRequest)
		return 0, false
	}
	return n, true
}
