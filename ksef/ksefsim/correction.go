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
// A correction sent without offlineMode is refused, with the message production gives
// ("HashOfCorrectedInvoice can only be provided for offline invoices", CIRFMF/ksef-api #582); no
// document names its code, so the simulator uses the generic 21405 "Błąd walidacji danych
// wejściowych." (an assumption). A correction naming a hash KSeF never rejected is accepted:
// KSeF keeps no record of earlier rejections to check it against ("system w ogóle nie odnotowuje
// odrzuceń wcześniejszych, więc nie weryfikuje też, czy korekta jest autentyczna czy fikcyjna",
// CIRFMF/ksef-api #404, open).

// checkCorrectionLocked refuses a technical correction that breaks a rule above, writing the
// answer; it reports whether the send may go on.
func (s *Server) checkCorrectionLocked(w http.ResponseWriter, r *http.Request, contextNIP, hash string, offlineMode bool) bool {
	if !offlineMode {
		writeException(w, r, 400, 21405, "Błąd walidacji danych wejściowych.",
			"HashOfCorrectedInvoice can only be provided for offline invoices")
		return false
	}
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
		}
	}
	return true
}
