package ksefsim

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Another tool registering an invoice for the same seller (issue 10 §7). KSeF checks uniqueness
// globally, by seller NIP, invoice type and number, whoever sends (faktury/weryfikacja-faktury.md in
// CIRFMF/ksef-docs: "KSeF wykrywa duplikaty faktur globalnie, w oparciu o dane przechowywane w
// systemie. Kryterium identyfikacji duplikatu stanowi kombinacja: NIP sprzedawcy (Podmiot1:NIP),
// Rodzaj faktury (RodzajFaktury), Numer faktury (P_2). W przypadku duplikatu zwracany jest kod błędu
// 440 („Duplikat faktury”)", and "w imieniu tego samego podmiotu faktury wystawiają różne jednostki
// (np. oddziały, jednostki organizacyjne JST, inne uprawnione podmioty)"). The 440 names the original
// in extensions.originalSessionReferenceNumber and originalKsefNumber (open-api.json, the invoice
// status table). The other tool's session belongs to its own context, so the seller's context cannot
// list it or fetch UPOs from it (403 insufficient-resource-access, status.go), but can fetch the
// invoice itself by its KSeF number.

// OtherToolInvoice is an invoice another tool registers for its seller, from ContextNIP's context
// (an accounting office or a branch with the right to invoice for the seller).
type OtherToolInvoice struct {
	XML        []byte `json:"xml"`        // the invoice (JSON: Base64)
	ContextNIP string `json:"contextNip"` // the other tool's context; "" = 1111111111
}

// RegisteredInvoice is what RegisterByOtherTool created.
type RegisteredInvoice struct {
	KsefNumber             string `json:"ksefNumber"`
	InvoiceHash            string `json:"invoiceHash"`
	SessionReferenceNumber string `json:"sessionReferenceNumber"`
}

// RegisterByOtherTool registers an invoice as if another tool had sent it in an online session of
// its own context, which is closed at once. The seller's own later copies of it get 440.
func (s *Server) RegisterByOtherTool(o OtherToolInvoice) (*RegisteredInvoice, error) {
	if o.ContextNIP == "" {
		o.ContextNIP = "1111111111"
	}
	facts, err := parseInvoice(o.XML)
	if err != nil {
		return nil, fmt.Errorf("register by other tool: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	form := supportedForms[0]
	sess := &session{Ref: newReferenceNumber(now, "SO"), Kind: "Online", NIP: o.ContextNIP, AuthRef: "other-tool", Form: form,
		Created: now, Updated: now, ValidUntil: now.Add(onlineSessionTTL), Closed: true, ClosedAt: now}
	// Content rules are checked as for the seller: the other tool invoices on the seller's behalf.
	inv := &invoice{Ref: newReferenceNumber(now, "EE"), SessionRef: sess.Ref, Ordinal: 1, InvoiceHash: sha256B64(o.XML),
		Size: len(o.XML), Mode: "online", Received: now, Form: form, ContextNIP: facts.SellerNIP}
	if err := s.processInvoiceLocked(inv, o.XML, false, now); err != nil {
		return nil, fmt.Errorf("register by other tool: %w", err)
	}
	if inv.Code != 200 {
		return nil, fmt.Errorf("register by other tool: KSeF would answer %d %s %v", inv.Code, inv.Description, inv.Details)
	}
	sess.Invoices = []string{inv.Ref}
	s.addSessionLocked(sess)
	if err := s.addInvoiceLocked(inv); err != nil {
		return nil, err
	}
	s.log.Info("invoice registered by another tool", "session", sess.Ref, "context", o.ContextNIP, "ksef_number", inv.KsefNumber)
	return &RegisteredInvoice{KsefNumber: inv.KsefNumber, InvoiceHash: inv.InvoiceHash, SessionReferenceNumber: sess.Ref}, nil
}

// serveOtherToolAdmin implements POST /admin/other-tool (body: OtherToolInvoice → RegisteredInvoice).
func (s *Server) serveOtherToolAdmin(w http.ResponseWriter, body []byte) {
	var o OtherToolInvoice
	if err := json.Unmarshal(body, &o); err != nil || len(o.XML) == 0 {
		http.Error(w, `other-tool: body must be {"xml": "<Base64 of the invoice>", "contextNip": "..."}`, 400)
		return
	}
	reg, err := s.RegisterByOtherTool(o)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	writeJSON(w, 200, reg)
}
