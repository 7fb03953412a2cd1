package ksefsim

import (
	"net/http"
)

// Technical correction (korekta techniczna) of an offline invoice KSeF rejected, CIRFMF/ksef-docs
// offline/korekta-techniczna.md (20.08.2025):
//
//   - "Korekta techniczna może być przesyłana wyłącznie w sesji interaktywnej" — only the online
//     send (POST /sessions/online/{ref}/invoices) carries hashOfCorrectedInvoice; the batch open
//     request has no such field, so a batch can never be one.
//   - "Wskazuje w polu hashOfCorrectedInvoice skrót SHA-256 pierwotnej, odrzuconej faktury offline.
//     Parametr offlineMode ustawiony jest na true."
//   - "Niedozwolone jest korygowanie technicznie faktury offline, dla której została już przyjęta
//     inna prawidłowa korekta." — open-api.json, send invoice (online), exception 21166
//     "Korekta techniczna niedostępna." / "Faktura posiada już przetworzoną prawidłowo korektę
//     techniczną."
//   - open-api.json, same endpoint, exception 21167 "Status faktury nie pozwala na korektę
//     techniczną." / "Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury."
//   - "Faktura zostaje powiązana z pierwotną fakturą offline" — the corrected invoice's metadata
//     carries hashOfCorrectedInvoice (open-api.json InvoiceMetadata.hashOfCorrectedInvoice).
//
// Neither the documents nor open-api.json name a code for a correction sent without offlineMode or
// naming a hash KSeF never rejected for the seller; the simulator answers those with the generic
// 21405 "Błąd walidacji danych wejściowych." (an assumption, said so in the details).

// checkCorrectionLocked refuses a technical correction that breaks a rule above, writing the
// answer; it reports whether the send may go on.
func (s *Server) checkCorrectionLocked(w http.ResponseWriter, r *http.Request, contextNIP, hash string, offlineMode bool) bool {
	if !offlineMode {
		writeException(w, r, 400, 21405, "Błąd walidacji danych wejściowych.",
			"hashOfCorrectedInvoice requires offlineMode true (korekta-techniczna.md; simulator's choice of code)")
		return false
	}
	rejected := false
	for _, inv := range s.st.Invoices {
		if inv.ContextNIP != contextNIP {
			continue
		}
		switch {
		case inv.InvoiceHash == hash && inv.KsefNumber != "":
			writeException(w, r, 400, 21167, "Status faktury nie pozwala na korektę techniczną.",
				"Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury.")
			return false
		case inv.CorrectedHash == hash && inv.KsefNumber != "":
			writeException(w, r, 400, 21166, "Korekta techniczna niedostępna.",
				"Faktura posiada już przetworzoną prawidłowo korektę techniczną.")
			return false
		case inv.InvoiceHash == hash && inv.Code >= 400:
			rejected = true
		}
	}
	if !rejected {
		writeException(w, r, 400, 21405, "Błąd walidacji danych wejściowych.",
			"hashOfCorrectedInvoice names no invoice of this seller that KSeF rejected (simulator's choice of code)")
		return false
	}
	return true
}
