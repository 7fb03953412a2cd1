package ksefsim

import "fmt"

// Self-billing (samofakturowanie): the buyer issues the invoice in the seller's name, marked P_17 =
// 1, and sends it in its own context. The seller allows it by granting the buyer the entity
// permission SelfInvoicing ("SelfInvoicing – wystawianie faktur w trybie samofakturowania",
// open-api.json, the permission lists); without it KSeF ends the invoice with 410 "Nieprawidłowy
// zakres uprawnień" (open-api.json, invoice status codes). The simulator keeps the grants in memory
// only (GrantSelfInvoicing); it does not serve the permission endpoints.

// selfBilledBy reports whether f is a self-billed invoice the context buyer may send: P_17 = 1
// with the context as the buyer (Podmiot2 NIP).
func selfBilledBy(f *invoiceFacts, buyer string) bool {
	return f.SelfInvoicing && f.BuyerIDType == "Nip" && f.BuyerID == buyer
}

// GrantSelfInvoicing lets the context buyer send invoices self-billed in seller's name.
func (s *Server) GrantSelfInvoicing(seller, buyer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.selfBilling == nil {
		s.selfBilling = map[string]bool{}
	}
	s.selfBilling[seller+"|"+buyer] = true
}

// checkSelfBillingLocked refuses an invoice the context sends in another seller's name without
// that seller's grant. Callers hold s.mu.
func (s *Server) checkSelfBillingLocked(f *invoiceFacts, context string) *invoiceError {
	if f == nil || f.SellerNIP == context || s.selfBilling[f.SellerNIP+"|"+context] {
		return nil
	}
	// Production's detail for a self-billed invoice without the grant is not quoted (ksef-client-java
	// #91 gives only "410 - Nieprawidłowy zakres uprawnień"); the simulator assumes the words it
	// gives a context that is not the seller (notEntitledToIssue).
	return notEntitledToIssue(context, f.SellerNIP)
}

// notEntitledToIssue is KSeF's answer to an invoice that the context sends in another seller's
// (Podmiot1's) name without the right to: 410 "Nieprawidłowy zakres uprawnień" (open-api.json,
// invoice status codes), in production's words {"code":410,"description":"Nieprawidłowy zakres
// uprawnień","details":["Kontekst NIP2 nie jest uprawniony do wystawienia faktury w imieniu
// sprzedawcy (NIP: NIP1)"]} (CIRFMF/ksef-api #826, PROD). Issuing is tied to the context: an
// invoice of seller B sent in context A got "błąd 410 – nieprawidłowy zakres uprawnień" even after
// B let A issue its invoices, and only "samofakturowanie" worked (#578, TEST). An earlier
// production answered the same case with the detail "Brak uprawnienia fakturowego" (#142, 2025-10).
func notEntitledToIssue(context, seller string) *invoiceError {
	return &invoiceError{Code: 410, Description: "Nieprawidłowy zakres uprawnień",
		Details: []string{fmt.Sprintf("Kontekst %s nie jest uprawniony do wystawienia faktury w imieniu sprzedawcy (NIP: %s)", context, seller)}}
}
