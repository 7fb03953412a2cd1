package ksefsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// statusFaults end invoices and batch sessions with the documented status codes that our content
// checks never produce, so a client can be tried on every code KSeF lists. Guarded by Server.mu.
type statusFaults struct {
	logins   []int // the next logins that would succeed end with these codes, in order
	held     int   // the next logins that stay at status 100 until ReleaseLogins
	invoices []int // the next invoices end with these codes, in order
	batches  []int // the next closed batch sessions end with these codes, in order
	// ownSession: the next batch duplicates (440) name their own session as the original's.
	ownSession int
	// closes: the next closes of complete batch sessions are refused with these codes, in order.
	closes []int
	// unavailable: the online sessions of the next sends become temporarily unavailable (21184).
	unavailable int
	// keyErrors: the next sessions opened cannot have their key decrypted (status 415).
	keyErrors int
}

// invoiceFaultCodes are the invoice statuses FailInvoices injects, with their descriptions and
// details as open-api.json (SessionInvoiceStatusResponse.status) gives them:
//
//	| 405 | Przetwarzanie anulowane z powodu błędu sesji | - | - |
//	| 410 | Nieprawidłowy zakres uprawnień | - |  - |
//	| 435 | Błąd odszyfrowania pliku | - | - |
//	| 500 | Nieznany błąd ({statusCode}) | - | - |
//	| 550 | Operacja została anulowana przez system | Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie |- |
var invoiceFaultCodes = map[int]faultStatus{
	405: {Description: "Przetwarzanie anulowane z powodu błędu sesji"},
	410: {Description: "Nieprawidłowy zakres uprawnień"},
	// 435 for a file the simulator could decrypt: KSeF failing on its side, as production KSeF has
	// for correctly encrypted files now and then (CIRFMF/ksef-api #677) and then accepted the same
	// invoice sent again (#575). KSeF's details there: "Plik niepoprawnie zaszyfrowany".
	435: {Description: "Błąd odszyfrowania pliku", Details: []string{"Plik niepoprawnie zaszyfrowany"}},
	500: {Description: "Nieznany błąd (500)"},
	550: {Description: "Operacja została anulowana przez system",
		Details: []string{"Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie"}},
}

// batchFaultCodes are the batch session statuses FailBatches injects after a correct close
// (open-api.json, SessionStatusResponse.status, "Sesja wsadowa"):
//
//	| 440 | Sesja anulowana | Przekroczono czas wysyłki |
//	| 500 | Nieznany błąd ({statusCode}) | - |
//
// KSeF has answered 440 "Przekroczono czas wysyłki" seconds after a correct upload and close, the
// session having been at 150 in between (CIRFMF/ksef-api #308); nothing in it was registered.
var batchFaultCodes = map[int]faultStatus{
	440: {Description: "Sesja anulowana", Details: []string{"Przekroczono czas wysyłki"}},
	500: {Description: "Nieznany błąd (500)"},
}

// faultStatus is an injected status's description and details, as KSeF writes them.
type faultStatus struct {
	Description string
	Details     []string
}

// loginFaultCodes are the authentication statuses FailLogins injects, with their details as
// open-api.json (AuthenticationOperationStatusResponse.status) gives them:
//
//	| 470 | Uwierzytelnianie zakończone niepowodzeniem | Próba wykorzystania metod autoryzacyjnych osoby zmarłej |
//	| 480 | Uwierzytelnienie zablokowane | Podejrzenie incydentu bezpieczeństwa. Skontaktuj się z Ministerstwem Finansów przez formularz zgłoszeniowy. |
//	| 500 | Nieznany błąd | - |
//	| 550 | Operacja została anulowana przez system | Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie |
//
// The descriptions are authDescription's.
var loginFaultCodes = map[int][]string{
	470: {"Próba wykorzystania metod autoryzacyjnych osoby zmarłej"},
	480: {"Podejrzenie incydentu bezpieczeństwa. Skontaktuj się z Ministerstwem Finansów przez formularz zgłoszeniowy."},
	500: nil,
	550: {"Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie"},
}

// FailLogins makes the next n logins whose credentials KSeF would accept end with status code
// (470, 480, 500 or 550) instead.
func (s *Server) FailLogins(code, n int) error {
	return queueStatus(s, loginFaultCodes, &s.statusFaults.logins, "authentication", "470, 480, 500 or 550", code, n)
}

// queueStatus adds n injections of code to queue, under s.mu, when allowed lists it.
func queueStatus[V any](s *Server, allowed map[int]V, queue *[]int, what, use string, code, n int) error {
	if _, ok := allowed[code]; !ok {
		return fmt.Errorf("ksefsim: %s status %d cannot be injected (use %s)", what, code, use)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		*queue = append(*queue, code)
	}
	return nil
}

// takeLoginFaultLocked ends a login that succeeded with the next injected status, if any is left.
func (s *Server) takeLoginFaultLocked(op *authOp) {
	if op.Code != 200 {
		return
	}
	code := nextCode(&s.statusFaults.logins)
	if code == 0 {
		return
	}
	op.Code, op.Description, op.Details = code, authDescription(code), loginFaultCodes[code]
}

// HoldLogins keeps the next n logins at authentication status 100 ("Uwierzytelnianie w toku") until
// ReleaseLogins, whatever their outcome will be. Production KSeF has kept certificate logins at 100
// for half an hour (CIRFMF/ksef-api #567, "Po 30min problem ustąpił"); redeeming meanwhile is refused
// with 21301 "Status uwierzytelniania (100) nie pozwala na pobranie tokenów".
func (s *Server) HoldLogins(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusFaults.held += n
}

// ReleaseLogins lets every held login show its outcome, and holds no more.
func (s *Server) ReleaseLogins() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusFaults.held = 0
	for _, op := range s.st.Auths {
		op.Held = false
	}
	s.markDirty()
}

// ForgetLogins drops every login KSeF has not finished (held at status 100), as a KSeF that lost
// them: asking their status is answered 400 21304 "Brak uwierzytelnienia" (open-api.json, GET
// /auth/{referenceNumber}), and only a new login goes on.
func (s *Server) ForgetLogins() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ref, op := range s.st.Auths {
		if op.Held {
			delete(s.st.Auths, ref)
		}
	}
	s.statusFaults.held = 0
	s.markDirty()
}

// takeLoginHoldLocked holds op at status 100 when a hold is left.
func (s *Server) takeLoginHoldLocked(op *authOp) {
	if s.statusFaults.held > 0 {
		s.statusFaults.held--
		op.Held = true
	}
}

// FailInvoices makes the next n invoices (sent online or found in a batch) end with status code
// (405, 410, 435, 500 or 550) instead of being checked; they get no KSeF number.
func (s *Server) FailInvoices(code, n int) error {
	return queueStatus(s, invoiceFaultCodes, &s.statusFaults.invoices, "invoice", "405, 410, 435, 500 or 550", code, n)
}

// FailBatches makes the next n batch sessions closed correctly end with status code (440 or 500)
// instead of being processed; none of their invoices is registered or listed.
func (s *Server) FailBatches(code, n int) error {
	return queueStatus(s, batchFaultCodes, &s.statusFaults.batches, "batch session", "440 or 500", code, n)
}

// nextCode takes the first code of an injected-status queue (0: the queue is empty).
func nextCode(queue *[]int) int {
	if len(*queue) == 0 {
		return 0
	}
	code := (*queue)[0]
	*queue = (*queue)[1:]
	return code
}

// takeInvoiceFaultLocked ends inv with the next injected invoice status, if any is left.
func (s *Server) takeInvoiceFaultLocked(inv *invoice) bool {
	code := nextCode(&s.statusFaults.invoices)
	if code == 0 {
		return false
	}
	st := invoiceFaultCodes[code]
	inv.Code, inv.Description, inv.Details = code, st.Description, st.Details
	return true
}

// takeBatchFaultLocked is the next injected batch session status (0: none).
func (s *Server) takeBatchFaultLocked() int {
	return nextCode(&s.statusFaults.batches)
}

// DuplicatesNameOwnSession makes the next n duplicates found in a batch session (440) name that
// session, the duplicate's own, as the original's: production KSeF has done so for a batch sent
// again ("dostałem błędną oryginalną referencję sesji. Była ta z wysyłki duplikatu", CIRFMF/ksef-api
// #450, open), where the original was registered in an earlier session. The KSeF number named is
// still the original's.
func (s *Server) DuplicatesNameOwnSession(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusFaults.ownSession = n
}

// originalSessionLocked is the session a duplicate's 440 names as its original's.
func (s *Server) originalSessionLocked(dup *invoice, orig dupEntry) string {
	if dup.Mode == "batch" && s.statusFaults.ownSession > 0 {
		s.statusFaults.ownSession--
		return dup.SessionRef
	}
	return orig.SessionRef
}

// closeRefusals are the answers RefuseBatchCloses gives to the close of a complete batch session
// (open-api.json, POST /sessions/batch/{referenceNumber}/close, 400):
//
//	| 21205 | Pakiet nie może być pusty. | Nie przesłano zadeklarowanej '{ordinalNumber}' części pliku. |
//	| 21173 | Brak sesji o wskazanym numerze referencyjnym. | Sesja o numerze referencyjnym {referenceNumber} nie została znaleziona. |
//
// Production KSeF has answered both right after an upload storage took: 21205 about every second
// time after a one-part upload (CIRFMF/ksef-client-java #77, "Problem dotyczy samego API", reported
// to MF as CIRFMF/ksef-docs#264), 21173 now and then three seconds after the open (CIRFMF/ksef-api
// #801: "wszystko trwało w sumie 3 sekundy"). A later close goes through.
var closeRefusals = map[int]faultStatus{
	21205: {Description: "Pakiet nie może być pusty.", Details: []string{"Nie przesłano zadeklarowanej '1' części pliku."}},
	21173: {Description: "Brak sesji o wskazanym numerze referencyjnym.", Details: []string{"Sesja o numerze referencyjnym {referenceNumber} nie została znaleziona."}},
}

// RefuseBatchCloses makes the next n closes of batch sessions whose parts all arrived answer 400
// with code (21205 or 21173) and KSeF's texts, as production KSeF has right after an upload.
func (s *Server) RefuseBatchCloses(code, n int) error {
	return queueStatus(s, closeRefusals, &s.statusFaults.closes, "batch close", "21205 or 21173", code, n)
}

// refuseCloseLocked answers the close of sess with the next injected refusal, if any is left.
func (s *Server) refuseCloseLocked(w http.ResponseWriter, ar *apiRequest, sess *session) bool {
	code := nextCode(&s.statusFaults.closes)
	if code == 0 {
		return false
	}
	st := closeRefusals[code]
	detail := strings.ReplaceAll(st.Details[0], "{referenceNumber}", sess.Ref)
	writeException(w, ar.r, 400, code, st.Description, detail)
	return true
}

// SessionsUnavailable makes the online sessions of the next n invoice sends temporarily
// unavailable: that send and every later one into the same session answer 400 21184, as MF
// announced for service work ("`21184` - Sesja tymczasowo niedostępna. Trwają prace serwisowe i
// sesja {referenceNumber} jest tymczasowo niedostępna. Spróbuj ponownie później lub otwórz nową
// sesję, aby wysłać kolejne faktury.", CIRFMF/ksef-api #864, newer than our open-api.json; "the
// recommended solution is to open a new session"). A new session takes invoices again.
func (s *Server) SessionsUnavailable(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusFaults.unavailable = n
}

// refuseUnavailableLocked answers a send into sess with 21184 when service work holds it.
func (s *Server) refuseUnavailableLocked(w http.ResponseWriter, ar *apiRequest, sess *session) bool {
	if !sess.Unavailable && s.statusFaults.unavailable > 0 {
		s.statusFaults.unavailable--
		sess.Unavailable = true
		s.markDirty()
	}
	if !sess.Unavailable {
		return false
	}
	writeException(w, ar.r, 400, 21184, "Sesja tymczasowo niedostępna.",
		"Trwają prace serwisowe i sesja "+sess.Ref+" jest tymczasowo niedostępna. Spróbuj ponownie później lub otwórz nową sesję, aby wysłać kolejne faktury.")
	return true
}

// UndecryptableSessionKeys makes the next n sessions opened (online or batch) fail to decrypt the
// symmetric key the client sent, however it was wrapped: the open is still answered 201, the
// session's status is 415 "Błąd odszyfrowania dostarczonego klucza" (open-api.json,
// SessionStatusResponse) and every send into it 400 21180 "Status sesji (415) uniemożliwia wysyłkę
// faktur.", as production has answered on the first send into a freshly opened session
// (CIRFMF/ksef-api #689, #653) for causes the client cannot see.
func (s *Server) UndecryptableSessionKeys(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusFaults.keyErrors = n
}

// takeKeyErrorLocked reports whether the session being opened is one UndecryptableSessionKeys
// spoils, and counts it.
func (s *Server) takeKeyErrorLocked() bool {
	if s.statusFaults.keyErrors <= 0 {
		return false
	}
	s.statusFaults.keyErrors--
	return true
}

// serveStatusFaultAdmin implements the status controls of the admin API:
//
//	POST /admin/logins/fail?status=500&n=1   the next login ends with 500 (470, 480, 500, 550)
//	POST /admin/logins/hold?n=1              the next login stays at 100 until …
//	POST /admin/logins/release               … every held login shows its outcome
//	POST /admin/invoices/fail?status=550&n=2 the next 2 invoices end with 550 (405, 410, 435, 500, 550)
//	POST /admin/batches/fail?status=440&n=1  the next closed batch session ends with 440 (440, 500)
//	POST /admin/batches/duplicates-own-session?n=1  the next batch duplicate names its own session
//	POST /admin/invoices/session-unavailable?n=1  the next send's online session answers 21184 from now on
//	POST /admin/invoices/session-key-error?n=1  the next session opened cannot decrypt its key (415)
//	POST /admin/batches/refuse-close?code=21205&n=1  the next close of a complete batch answers 21205 (21205, 21173)
func (s *Server) serveStatusFaultAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/logins/release" {
		if r.Method != http.MethodPost {
			http.Error(w, "release: POST", http.StatusBadRequest)
			return
		}
		s.ReleaseLogins()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	n, ok := adminCount(w, r, "fail: POST with status and n, a count (0 or more)")
	if !ok {
		return
	}
	code, _ := strconv.Atoi(r.URL.Query().Get("status"))
	var err error
	switch r.URL.Path {
	case "/admin/logins/fail":
		err = s.FailLogins(code, n)
	case "/admin/logins/hold":
		s.HoldLogins(n)
	case "/admin/invoices/fail":
		err = s.FailInvoices(code, n)
	case "/admin/batches/fail":
		err = s.FailBatches(code, n)
	case "/admin/batches/duplicates-own-session":
		s.DuplicatesNameOwnSession(n)
	case "/admin/invoices/session-unavailable":
		s.SessionsUnavailable(n)
	case "/admin/invoices/session-key-error":
		s.UndecryptableSessionKeys(n)
	case "/admin/batches/refuse-close":
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		err = s.RefuseBatchCloses(code, n)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
