package ksefsim

import (
	"fmt"
	"unicode/utf8"
)

// Checks production KSeF makes on the invoice content that a schema alone does not express.

// checkRealism applies the NIP check digit and the discouraged-character rule.
func checkRealism(data []byte, f *invoiceFacts) *invoiceError {
	if ie := checkDiscouraged(data); ie != nil {
		return ie
	}
	return checkNIPs(f)
}

// checkNIPs verifies the check digit of every NIP in the invoice. The schema's TNrNIP pattern does
// not; KSeF does: "Sprawdzenie sumy kontrolnej NIP dla: Podmiot1, Podmiot2, Podmiot3 oraz
// PodmiotUpowazniony (jeśli występuje)" and "Sprawdzenie sumy kontrolnej NIP w identyfikatorze
// wewnętrznym (InternalId) dla Podmiot3" (weryfikacja-faktury.md, "Walidacja numeru NIP"; since
// API 2.0.1, CIRFMF/ksef-api #559). The docs say PROD only; the simulator checks everywhere,
// which is stricter, and its clients target PROD. The status is 450 "Błąd weryfikacji semantyki
// dokumentu faktury" (open-api.json SessionInvoiceStatusResponse.status); no production detail is
// quoted, so the Polish words are the simulator's own. The digit is the weighted sum
// 6,5,7,2,3,4,5,6,7 of the first nine digits modulo 11 (a remainder of 10 is never issued).
func checkNIPs(f *invoiceFacts) *invoiceError {
	nips := []partyNIP{{"Podmiot1/DaneIdentyfikacyjne/NIP", f.SellerNIP}}
	if f.BuyerIDType == "Nip" {
		nips = append(nips, partyNIP{"Podmiot2/DaneIdentyfikacyjne/NIP", f.BuyerID})
	}
	for _, p := range append(nips, f.OtherNIPs...) {
		if !validNIP(p.NIP) {
			return semanticError("Nieprawidłowa suma kontrolna numeru NIP %s (%s).", p.NIP, p.Where)
		}
	}
	return nil
}

func semanticError(format string, a ...any) *invoiceError {
	return &invoiceError{Code: 450, Description: "Błąd weryfikacji semantyki dokumentu faktury", Details: []string{fmt.Sprintf(format, a...)}}
}

func validNIP(nip string) bool {
	if len(nip) != 10 {
		return false
	}
	weights := [9]int{6, 5, 7, 2, 3, 4, 5, 6, 7}
	sum := 0
	for i, w := range weights {
		c := nip[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * w
	}
	last := nip[9]
	return last >= '0' && last <= '9' && sum%11 != 10 && sum%11 == int(last-'0')
}

// discouraged is the rule KSeF applies since API 2.4.0 (on PRD from 16.07.2026, digest §13): no
// character that XML 1.0 §2.2 (https://www.w3.org/TR/xml/#charsets) discourages — the controls
// #x7F–#x84 and #x86–#x9F (U+0085, NEL, is allowed), the non-characters #xFDD0–#xFDEF and the last
// two code points of every plane. Characters XML forbids outright never parse in the first place.
func discouraged(r rune) bool {
	switch {
	case r >= 0x7F && r <= 0x84, r >= 0x86 && r <= 0x9F:
		return true
	case r >= 0xFDD0 && r <= 0xFDEF:
		return true
	}
	return r > 0xFFFF && r&0xFFFE == 0xFFFE
}

// checkDiscouraged answers 430 "Błąd weryfikacji pliku faktury" (open-api.json, invoice status) for a
// discouraged character, naming the first one.
func checkDiscouraged(data []byte) *invoiceError {
	line := 1
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == '\n' {
			line++
		}
		if discouraged(r) || (r >= 0xFFFE && r <= 0xFFFF) {
			return &invoiceError{Code: 430, Description: "Błąd weryfikacji pliku faktury",
				Details: []string{fmt.Sprintf("discouraged character U+%04X in line %d", r, line)}}
		}
		i += n
	}
	return nil
}
