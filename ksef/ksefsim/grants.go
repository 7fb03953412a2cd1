package ksefsim

import (
	"crypto/x509"
	"sort"

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
// The simulator models a grant as "the certificates of OWNER may act in CONTEXT" (InvoiceWrite and
// InvoiceRead together); finer permission scopes are not simulated.

// Grant lets the certificates of owner act in context (both NIPs).
func (s *Server) Grant(owner, context string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.Grants[owner] == nil {
		s.st.Grants[owner] = map[string]bool{}
	}
	s.st.Grants[owner][context] = true
	s.markDirty()
}

// Grants lists, per owner NIP, the contexts its credentials may act in.
func (s *Server) Grants() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for owner, ctxs := range s.st.Grants {
		for c := range ctxs {
			out[owner] = append(out[owner], c)
		}
		sort.Strings(out[owner])
	}
	return out
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
	fp := certFingerprint(cert)
	for owner, ctxs := range s.st.Grants {
		if !ctxs[context] {
			continue
		}
		for _, c := range s.opts.TrustedCerts[owner] {
			if certFingerprint(c) == fp {
				return true
			}
		}
		if nip, ok := xades.CertificateNIP(cert); ok && nip == owner && s.opts.TrustAnySelfSigned {
			return true
		}
	}
	return false
}
