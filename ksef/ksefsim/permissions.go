package ksefsim

import (
	"net/http"
	"slices"
	"strings"
)

// Every operation checks the permissions of the login in its context. open-api.json ends each
// operation's description with "**Wymagane uprawnienia**: …", any one of which suffices; a login
// holding none of them gets 403 problem+json ForbiddenProblemDetails with reasonCode
// "missing-permissions" ("Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.")
// and security {requiredAnyOfPermissions, presentPermissions}, as production answered in
// CIRFMF/ksef-api #833: "reasonCode":"missing-permissions","security":{"requiredAnyOfPermissions":
// ["InvoiceRead"],"presentPermissions":[]}.
//
// A login with the context's own credentials (its token, or a certificate carrying its NIP) is the
// owner's and holds every permission. An office's certificate holds what the client granted it
// (grants.go), read at each request: production writes the permissions into the access token
// (the "per" claim of the JWT in CIRFMF/ksef-api #482) and invalidates tokens "w przypadku utraty
// uprawnień" (uwierzytelnianie.md); whether a permission granted later reaches a refreshed token
// without a new login is not documented.

// Permissions named by open-api.json besides the invoice ones a company grants an entity.
const (
	permPefInvoiceWrite       = "PefInvoiceWrite"
	permEnforcementOperations = "EnforcementOperations"
	permIntrospection         = "Introspection"
)

var (
	// onlineSessionPermissions: POST /sessions/online, …/invoices, …/close: "Wymagane uprawnienia:
	// InvoiceWrite, PefInvoiceWrite, EnforcementOperations".
	onlineSessionPermissions = []string{PermissionInvoiceWrite, permPefInvoiceWrite, permEnforcementOperations}
	// batchSessionPermissions: POST /sessions/batch, …/close: "InvoiceWrite, EnforcementOperations".
	batchSessionPermissions = []string{PermissionInvoiceWrite, permEnforcementOperations}
	// sessionReadPermissions: GET /sessions/{referenceNumber} and what lies under it (status,
	// invoices, UPOs): "InvoiceWrite, Introspection, PefInvoiceWrite, EnforcementOperations".
	sessionReadPermissions = []string{PermissionInvoiceWrite, permIntrospection, permPefInvoiceWrite, permEnforcementOperations}
	// sessionListPermissions: GET /sessions: "Introspection/EnforcementOperations – … wszystkie
	// sesje w bieżącym kontekście", "InvoiceWrite – … wyłącznie sesje utworzone przez podmiot
	// uwierzytelniający".
	sessionListPermissions = []string{permIntrospection, permEnforcementOperations, PermissionInvoiceWrite}
	// invoiceReadPermissions: POST /invoices/query/metadata, GET /invoices/ksef/{ksefNumber},
	// POST /invoices/exports, GET /invoices/exports/{referenceNumber}: "InvoiceRead".
	invoiceReadPermissions = []string{PermissionInvoiceRead}
)

// requiredPermissions is, per operation the simulator serves (method and path template), the
// permissions any one of which it needs; operations absent need none.
var requiredPermissions = map[string][]string{
	"POST /sessions/online":                                                 onlineSessionPermissions,
	"POST /sessions/online/{referenceNumber}/invoices":                      onlineSessionPermissions,
	"POST /sessions/online/{referenceNumber}/close":                         onlineSessionPermissions,
	"POST /sessions/batch":                                                  batchSessionPermissions,
	"POST /sessions/batch/{referenceNumber}/close":                          batchSessionPermissions,
	"GET /sessions":                                                         sessionListPermissions,
	"GET /sessions/{referenceNumber}":                                       sessionReadPermissions,
	"GET /sessions/{referenceNumber}/invoices":                              sessionReadPermissions,
	"GET /sessions/{referenceNumber}/invoices/failed":                       sessionReadPermissions,
	"GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}":     sessionReadPermissions,
	"GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo": sessionReadPermissions,
	"GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo":        sessionReadPermissions,
	"GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}":              sessionReadPermissions,
	"POST /invoices/query/metadata":                                         invoiceReadPermissions,
	"GET /invoices/ksef/{ksefNumber}":                                       invoiceReadPermissions,
	"POST /invoices/exports":                                                invoiceReadPermissions,
	"GET /invoices/exports/{referenceNumber}":                               invoiceReadPermissions,
}

// admitPermissions answers 403 missing-permissions when the login behind the request's access
// token holds none of the permissions its operation needs, and reports whether the request may go
// on. A request without a live access token goes on to be answered 401 (authed).
func (s *Server) admitPermissions(w http.ResponseWriter, ar *apiRequest) bool {
	required := requiredPermissions[ar.r.Method+" "+ar.tmpl]
	if required == nil || ar.bearer == nil || ar.bearer.Kind != "access" {
		return true
	}
	s.mu.Lock()
	present, limited := s.loginPermissionsLocked(ar.bearer)
	s.mu.Unlock()
	if !limited || holdsAny(present, required) {
		return true
	}
	writeMissingPermissions(w, ar, required, present)
	return false
}

// loginPermissionsLocked is what the login of b holds in its context; limited is false for the
// context's own credentials, which hold every permission.
func (s *Server) loginPermissionsLocked(b *bearer) (present []string, limited bool) {
	op := s.st.Auths[b.AuthRef]
	if op == nil || op.GrantOwner == "" {
		return nil, false
	}
	return s.grantedPermissionsLocked(op.GrantOwner, op.NIP), true
}

func holdsAny(present, required []string) bool {
	return slices.ContainsFunc(required, func(p string) bool { return slices.Contains(present, p) })
}

// writeMissingPermissions is ForbiddenProblemDetails with reasonCode missing-permissions
// (open-api.json; its example and CIRFMF/ksef-api #833). It is problem+json whatever
// X-Error-Format says: the spec gives 403 only in that form.
func writeMissingPermissions(w http.ResponseWriter, ar *apiRequest, required, present []string) {
	writeJSONType(w, "application/problem+json", http.StatusForbidden, map[string]any{
		"title": "Forbidden", "status": http.StatusForbidden, "instance": ar.r.URL.Path,
		"detail":     "Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.",
		"reasonCode": "missing-permissions",
		"security":   map[string]any{"requiredAnyOfPermissions": required, "presentPermissions": present},
		"timestamp":  fmtTime(ar.now), "traceId": strings.ToLower(randomHex(16)),
	})
}
