package ksefsim

import (
	"net/http"
)

// sessionLimits are one kind of session's limits in a context (open-api.json
// OnlineSessionEffectiveContextLimits / BatchSessionEffectiveContextLimits).
type sessionLimits struct {
	MaxInvoiceSizeInMB               int `json:"maxInvoiceSizeInMB"`
	MaxInvoiceWithAttachmentSizeInMB int `json:"maxInvoiceWithAttachmentSizeInMB"`
	MaxInvoices                      int `json:"maxInvoices"`
}

// contextLimits are EffectiveContextLimits, what GET /limits/context answers.
type contextLimits struct {
	OnlineSession sessionLimits `json:"onlineSession"`
	BatchSession  sessionLimits `json:"batchSession"`
}

// defaultContextLimits are KSeF's defaults (CIRFMF/ksef-docs limity/limity.md, "Limity na
// kontekst": 1 MB, 3 MB with attachments, 10 000 invoices per online or batch session).
func defaultContextLimits() contextLimits {
	l := sessionLimits{MaxInvoiceSizeInMB: 1, MaxInvoiceWithAttachmentSizeInMB: 3, MaxInvoices: maxSessionInvoices}
	return contextLimits{OnlineSession: l, BatchSession: l}
}

// contextLimitsLocked are the limits in force for the context nip. Callers hold s.mu.
func (s *Server) contextLimitsLocked(nip string) contextLimits {
	if l, ok := s.ctxLimits[nip]; ok {
		return l
	}
	return defaultContextLimits()
}

// sessionLimitsLocked are the limits of the context nip's batch or online sessions. Callers hold s.mu.
func (s *Server) sessionLimitsLocked(nip string, batch bool) sessionLimits {
	l := s.contextLimitsLocked(nip)
	if batch {
		return l.BatchSession
	}
	return l.OnlineSession
}

func (s *Server) handleContextLimits(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	l := s.contextLimitsLocked(ar.bearer.NIP)
	s.mu.Unlock()
	writeJSON(w, 200, l)
}

// handleSetContextLimits is POST /testdata/limits/context/session (SetSessionLimitsRequest): the
// TEST environment lets a context change its own session limits (limity.md, "Modyfikacja limitów
// na środowisku testowym"); production changes them on request. The bounds are the request
// schema's (maxInvoices 0..100 000, sizes 0..5 MB, 0..10 MB with attachments).
func (s *Server) handleSetContextLimits(w http.ResponseWriter, ar *apiRequest) {
	var req contextLimits
	if !decodeBody(w, ar, &req) {
		return
	}
	for _, l := range []sessionLimits{req.OnlineSession, req.BatchSession} {
		if l.MaxInvoices < 0 || l.MaxInvoices > 100_000 || l.MaxInvoiceSizeInMB < 0 || l.MaxInvoiceSizeInMB > 5 ||
			l.MaxInvoiceWithAttachmentSizeInMB < 0 || l.MaxInvoiceWithAttachmentSizeInMB > 10 {
			writeInvalid(w, ar.r, "session limits out of range (maxInvoices 0..100000, maxInvoiceSizeInMB 0..5, maxInvoiceWithAttachmentSizeInMB 0..10)")
			return
		}
	}
	s.mu.Lock()
	s.setContextLimitsLocked(ar.bearer.NIP, req)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// handleResetContextLimits is DELETE /testdata/limits/context/session: back to the defaults.
func (s *Server) handleResetContextLimits(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	delete(s.ctxLimits, ar.bearer.NIP)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// SetMaxSessionInvoices sets how many invoices one online or batch session of the context nip may
// hold, as POST /testdata/limits/context/session does for a logged-in context.
func (s *Server) SetMaxSessionInvoices(nip string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.contextLimitsLocked(nip)
	l.OnlineSession.MaxInvoices, l.BatchSession.MaxInvoices = n, n
	s.setContextLimitsLocked(nip, l)
}

// SetMaxInvoiceSizes sets the largest invoice, without and with an attachment (in MB, as KSeF
// gives them), that the context nip's online and batch sessions accept, as POST
// /testdata/limits/context/session does for a logged-in context and KSeF on request in production.
func (s *Server) SetMaxInvoiceSizes(nip string, plainMB, withAttachmentMB int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.contextLimitsLocked(nip)
	for _, sl := range []*sessionLimits{&l.OnlineSession, &l.BatchSession} {
		sl.MaxInvoiceSizeInMB, sl.MaxInvoiceWithAttachmentSizeInMB = plainMB, withAttachmentMB
	}
	s.setContextLimitsLocked(nip, l)
}

// setContextLimitsLocked keeps l as the context nip's limits. Callers hold s.mu.
func (s *Server) setContextLimitsLocked(nip string, l contextLimits) {
	if s.ctxLimits == nil {
		s.ctxLimits = map[string]contextLimits{}
	}
	s.ctxLimits[nip] = l
}
