package ksefsim

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

// Permissions in another context (issue 13: an accounting office working for its clients).
//
// CIRFMF/ksef-docs uprawnienia.md: "Dostęp do funkcji systemu zależy [od] kontekstu, w którym
// nastąpiło uwierzytelnienie oraz od zakresu uprawnień, jakie nadano uwierzytelnionemu
// podmiotowi/osobie w tym kontekście"; the owner ("Właściciel") has full access only in the context
// carrying the same NIP as the credential, and a company working with an accounting office "powinna
// nadać uprawnienia […] na to biuro rachunkowe" (InvoiceWrite, InvoiceRead, granted to the office's
// NIP in the company's context). So an office logs in with its certificate and the client's NIP as
// contextIdentifier; without a grant there KSeF ends the authentication with status 415
// (AuthenticationOperationStatusResponse: "415 | Uwierzytelnianie zakończone niepowodzeniem | Brak
// przypisanych uprawnień").
//
// A KSeF token is not such a credential: it is bound to the context it was generated in ("kontekst,
// do którego można się uwierzytelnić, jest jednoznacznie określony w samym tokenie (kontekst jest
// "w nim zaszyty")", MF in CIRFMF/ksef-api #741; open-api.json TokenStatusResponse.contextIdentifier:
// "Identyfikator kontekstu, w którym został wygenerowany token i do którego daje dostęp"). A token
// used with another contextIdentifier ends its login with 450 "Nieprawidłowy token" here; which
// status production gives (or whether it ignores the contextIdentifier) is not documented.
//
// The simulator models a grant as "the certificates of OWNER may act in CONTEXT" with a set of
// invoice permissions: InvoiceWrite and InvoiceRead together unless the grant names fewer. A company
// grants an entity exactly these two, in any combination (open-api.json POST
// /permissions/entities/grants: "W żądaniu określane są nadawane uprawnienia ze zbioru:
// InvoiceWrite – wystawianie faktur, InvoiceRead – przeglądanie faktur. Metoda pozwala na wybór
// dowolnej kombinacji powyższych uprawnień"), and an office is often given InvoiceRead only
// (uprawnienia.md: the company "powinna nadać uprawnienia do odczytu faktur na to biuro
// rachunkowe"). Any one of them lets the login succeed (uwierzytelnianie.md: "system sprawdzi, czy
// wskazany podmiot posiada co najmniej jedno aktywne uprawnienie do wybranego kontekstu"); each
// operation then checks its own (permissions.go).

// The invoice permissions a company can grant another entity, in the order grants are listed.
const (
	PermissionInvoiceWrite = "InvoiceWrite"
	PermissionInvoiceRead  = "InvoiceRead"
)

// invoicePermissions is a full grant: what Grant gives and a grant naming no permissions means.
var invoicePermissions = []string{PermissionInvoiceWrite, PermissionInvoiceRead}

// Grant lets the certificates of owner act in context (both NIPs) with InvoiceWrite and InvoiceRead.
func (s *Server) Grant(owner, context string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grantLocked(owner, context, invoicePermissions)
}

// GrantPermissions lets the certificates of owner act in context with perms only (a non-empty
// subset of InvoiceWrite and InvoiceRead), replacing what owner held there.
func (s *Server) GrantPermissions(owner, context string, perms ...string) error {
	perms, err := normalizePermissions(perms)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grantLocked(owner, context, perms)
	return nil
}

func (s *Server) grantLocked(owner, context string, perms []string) {
	if s.st.Grants[owner] == nil {
		s.st.Grants[owner] = map[string]bool{}
	}
	s.st.Grants[owner][context] = true
	if s.st.GrantPermissions == nil {
		s.st.GrantPermissions = map[string]map[string][]string{}
	}
	if s.st.GrantPermissions[owner] == nil {
		s.st.GrantPermissions[owner] = map[string][]string{}
	}
	if slices.Equal(perms, invoicePermissions) {
		delete(s.st.GrantPermissions[owner], context) // a full grant, as snapshots from before scopes hold it
	} else {
		s.st.GrantPermissions[owner][context] = perms
	}
	s.markDirty()
}

// grantedPermissionsLocked is what owner holds in context by grant (none without one).
func (s *Server) grantedPermissionsLocked(owner, context string) []string {
	if !s.st.Grants[owner][context] {
		return []string{}
	}
	if perms, ok := s.st.GrantPermissions[owner][context]; ok {
		return perms
	}
	return invoicePermissions
}

// Grants lists, per owner NIP, the contexts its credentials may act in, as -grants takes them:
// CLIENT_NIP for InvoiceWrite and InvoiceRead, CLIENT_NIP:InvoiceRead for a narrower grant.
func (s *Server) Grants() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for owner, ctxs := range s.st.Grants {
		for c := range ctxs {
			out[owner] = append(out[owner], grantTarget(c, s.grantedPermissionsLocked(owner, c)))
		}
		sort.Strings(out[owner])
	}
	return out
}

// grantTarget writes a grant in context as ParseGrantTarget reads it.
func grantTarget(context string, perms []string) string {
	if slices.Equal(perms, invoicePermissions) {
		return context
	}
	return context + ":" + strings.Join(perms, "+")
}

// ParseGrantTarget reads the part of a grant after the owner's NIP: CLIENT_NIP (InvoiceWrite and
// InvoiceRead) or CLIENT_NIP:PERMISSION+PERMISSION (e.g. 5265877635:InvoiceRead).
func ParseGrantTarget(target string) (context string, perms []string, err error) {
	context, list, scoped := strings.Cut(target, ":")
	if context == "" {
		return "", nil, fmt.Errorf("grant %q: the context NIP is missing", target)
	}
	if !scoped {
		return context, invoicePermissions, nil
	}
	perms, err = normalizePermissions(strings.Split(list, "+"))
	if err != nil {
		return "", nil, fmt.Errorf("grant %q: %w", target, err)
	}
	return context, perms, nil
}

// normalizePermissions checks perms against the invoice permissions and puts them in their order.
func normalizePermissions(perms []string) ([]string, error) {
	var out []string
	for _, known := range invoicePermissions {
		if slices.Contains(perms, known) {
			out = append(out, known)
		}
	}
	for _, p := range perms {
		if !slices.Contains(invoicePermissions, p) {
			return nil, fmt.Errorf("unknown permission %q (a company grants another entity %s)", p, strings.Join(invoicePermissions, " or "))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("a grant needs at least one permission")
	}
	return out, nil
}

// grantOptionsLocked applies Options.Grants (owner → ParseGrantTarget's targets).
func (s *Server) grantOptionsLocked() error {
	for owner, targets := range s.opts.Grants {
		for _, t := range targets {
			context, perms, err := ParseGrantTarget(t)
			if err != nil {
				return fmt.Errorf("ksefsim: Grants[%s]: %w", owner, err)
			}
			s.grantLocked(owner, context, perms)
		}
	}
	return nil
}

// RevokeToken makes KSeF refuse token from now on (status 450 at login, as a token revoked in the
// KSeF application is); it reports whether the token was known.
func (s *Server) RevokeToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Tokens[token]; !ok {
		return false
	}
	ref := s.st.TokenRefs[token]
	for _, op := range s.st.Auths {
		if op.TokenRef != "" && op.TokenRef == ref {
			op.TokenRevoked = true // handleRefresh: no more access tokens from logins made with it
		}
	}
	delete(s.st.Tokens, token)
	delete(s.st.TokenRefs, token)
	s.markDirty()
	return true
}

// certGrantedLocked reports whether cert belongs to an owner (registered with -certs / TrustedCerts,
// or self-signed carrying the owner's NIP when any self-signed certificate is trusted) that has a
// grant in context.
func (s *Server) certGrantedLocked(cert *x509.Certificate, context string) bool {
	return s.certGrantOwnerLocked(cert, context) != ""
}

// certGrantOwnerLocked is the owner whose grant in context cert logs in with ("" for none).
func (s *Server) certGrantOwnerLocked(cert *x509.Certificate, context string) string {
	fp := certFingerprint(cert)
	for owner, ctxs := range s.st.Grants {
		if !ctxs[context] {
			continue
		}
		for _, c := range s.opts.TrustedCerts[owner] {
			if certFingerprint(c) == fp {
				return owner
			}
		}
		if nip, ok := xades.CertificateNIP(cert); ok && nip == owner && s.opts.TrustAnySelfSigned {
			return owner
		}
	}
	return ""
}

// loginGrantOwnerLocked is the owner whose grant a certificate login in ctx acts on, as
// trustCertificateLocked decides it first; "" for a login with the context's own credentials,
// whose owner holds every permission there.
func (s *Server) loginGrantOwnerLocked(cert *x509.Certificate, ctx contextIdentifier) string {
	if ctx.Type != "Nip" {
		return ""
	}
	return s.certGrantOwnerLocked(cert, ctx.Value)
}

// serveGrantsAdmin is POST /admin/grants: {"owner", "context"} grants InvoiceWrite and InvoiceRead,
// and "permissions": ["InvoiceRead"] only those named. It answers every grant (Grants).
func (s *Server) serveGrantsAdmin(w http.ResponseWriter, body []byte) {
	var req struct {
		Owner       string   `json:"owner"`
		Context     string   `json:"context"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Owner == "" || req.Context == "" {
		http.Error(w, `grants: body must be {"owner": "OFFICE_NIP", "context": "CLIENT_NIP"} and optionally "permissions": ["InvoiceRead"]`, 400)
		return
	}
	perms := req.Permissions
	if perms == nil {
		perms = invoicePermissions
	}
	if err := s.GrantPermissions(req.Owner, req.Context, perms...); err != nil {
		http.Error(w, "grants: "+err.Error(), 400)
		return
	}
	writeJSON(w, 200, s.Grants())
}
