package ksefsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
)

// Attachment consent. "Możliwość wysyłki faktur z załącznikami wymaga uprzedniego zgłoszenia tej
// opcji w usłudze e-Urząd Skarbowy" (weryfikacja-faktury.md, "Ograniczenia dotyczące
// załączników"). The TEST environment switches it per NIP (open-api.json: POST /testdata/attachment
// "Umożliwienie wysyłania faktur z załącznikiem", POST /testdata/attachment/revoke "Odebranie
// możliwości wysyłania faktur z załącznikiem", optionally from expectedEndDate "Data wycofania
// zgody"), and a context reads its own with GET /permissions/attachments/status
// (CheckAttachmentPermissionStatusResponse: isAttachmentAllowed, revokedDate). The simulator lets
// every NIP send attachments until the consent is revoked, so clients that never touch it never
// meet the refusal; the switch is the context's, as the status endpoint's ("czy obecny kontekst
// posiada zgodę"). Revocations are kept in memory only.

// SetAttachmentsAllowed grants (allowed) or revokes, from now on, the consent of nip to send
// invoices with attachments (Zalacznik).
func (s *Server) SetAttachmentsAllowed(nip string, allowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setAttachmentConsentLocked(nip, allowed, s.now())
}

// setAttachmentConsentLocked grants nip's consent or revokes it from the moment end. Callers hold s.mu.
func (s *Server) setAttachmentConsentLocked(nip string, allowed bool, end time.Time) {
	if allowed {
		delete(s.attachmentsEnd, nip)
		return
	}
	if s.attachmentsEnd == nil {
		s.attachmentsEnd = map[string]time.Time{}
	}
	s.attachmentsEnd[nip] = end
}

// attachmentConsentLocked says whether nip may send attachments at t, and when its consent ends
// (zero: no end). Callers hold s.mu.
func (s *Server) attachmentConsentLocked(nip string, t time.Time) (allowed bool, end time.Time) {
	end, revoked := s.attachmentsEnd[nip]
	return !revoked || t.Before(end), end
}

// checkAttachmentConsentLocked refuses an invoice with a Zalacznik that the context nip sent
// without the consent, with invoice status 415 "Brak możliwości wysyłania faktury z załącznikiem"
// (open-api.json, SessionInvoiceStatusResponse.status). No production detail is quoted; the words
// are the simulator's own. Callers hold s.mu.
func (s *Server) checkAttachmentConsentLocked(f *invoiceFacts, nip string, received time.Time) *invoiceError {
	if !f.HasAttachment {
		return nil
	}
	if allowed, _ := s.attachmentConsentLocked(nip, received); allowed {
		return nil
	}
	return attachmentRefused(fmt.Sprintf("Podmiot (NIP: %s) nie zgłosił w usłudze e-Urząd Skarbowy możliwości wysyłania faktur z załącznikiem.", nip))
}

// attachmentRoute is the handler of the attachment endpoints of open-api.json, nil for any other.
func (s *Server) attachmentRoute(methodAndPath string) handlerFunc {
	switch methodAndPath {
	case "POST /testdata/attachment":
		return s.handleAttachmentConsent(true)
	case "POST /testdata/attachment/revoke":
		return s.handleAttachmentConsent(false)
	case "GET /permissions/attachments/status":
		return s.authed(s.handleAttachmentStatus)
	}
	return nil
}

// handleAttachmentConsent is POST /testdata/attachment (allowed) and /testdata/attachment/revoke
// (AttachmentPermissionGrantRequest / AttachmentPermissionRevokeRequest; neither needs a token in
// open-api.json). A revocation with expectedEndDate takes effect at the start of that day in
// Poland, without it at once.
func (s *Server) handleAttachmentConsent(allowed bool) handlerFunc {
	return func(w http.ResponseWriter, ar *apiRequest) {
		var req struct {
			NIP             string  `json:"nip"`
			ExpectedEndDate *string `json:"expectedEndDate"`
		}
		if !decodeBody(w, ar, &req) {
			return
		}
		end := ar.now
		if req.ExpectedEndDate != nil {
			day, err := time.ParseInLocation(time.DateOnly, *req.ExpectedEndDate, plzone.Warsaw)
			if err != nil {
				writeInvalid(w, ar.r, "expectedEndDate must be a date (YYYY-MM-DD)")
				return
			}
			end = day
		}
		s.mu.Lock()
		s.setAttachmentConsentLocked(req.NIP, allowed, end)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}
}

// handleAttachmentStatus is GET /permissions/attachments/status for the caller's context.
func (s *Server) handleAttachmentStatus(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	allowed, end := s.attachmentConsentLocked(ar.bearer.NIP, ar.now)
	s.mu.Unlock()
	var revoked *string
	if !end.IsZero() {
		t := fmtTime(end)
		revoked = &t
	}
	writeJSON(w, http.StatusOK, map[string]any{"isAttachmentAllowed": allowed, "revokedDate": revoked})
}

// serveAttachmentAdmin is POST /admin/attachments with {"nip": "…", "allowed": false}: the
// loopback-only switch of SetAttachmentsAllowed.
func (s *Server) serveAttachmentAdmin(w http.ResponseWriter, r *http.Request) {
	if !adminLoopback(w, r) {
		return
	}
	var req struct {
		NIP     string `json:"nip"`
		Allowed *bool  `json:"allowed"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.Method != http.MethodPost || err != nil || json.Unmarshal(body, &req) != nil || req.NIP == "" || req.Allowed == nil {
		http.Error(w, `attachments: POST with body {"nip": "1234567890", "allowed": false}`, http.StatusBadRequest)
		return
	}
	s.SetAttachmentsAllowed(req.NIP, *req.Allowed)
	w.WriteHeader(http.StatusNoContent)
}
