package engine

import (
	"strings"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// hintFor turns a KSeF status into one line a bookkeeper can act on.
func hintFor(st ksef.Status) string {
	switch st.Code {
	case 410:
		return "The KSeF credentials in use have no right to issue invoices for this seller (uprawnienia): ask the administrator to grant InvoiceWrite."
	case 415:
		return "KSeF does not accept attachments (załączniki) from this seller yet: enable them in e-Urząd Skarbowy or remove the Zalacznik section."
	case 430:
		return "The invoice does not match the FA(3) schema: correct the fields named in details in the ERP and export the invoice again."
	case 435:
		return "KSeF could not decrypt the invoice: export it again; if it repeats, contact IT (this is not a content problem)."
	case 440:
		if strings.Contains(st.Description, "different content") {
			return "This invoice number (P_2) is already registered in KSeF with different content: give the invoice a new number, or issue a correction (korekta) instead."
		}
		return "This invoice number (P_2) is already registered in KSeF."
	case 450:
		return "KSeF found a content error (błąd semantyczny): check the details, correct the invoice in the ERP and export it again."
	case 500:
		return "KSeF reported an unknown error: export the invoice again later; if it repeats, contact KSeF support with the reference number."
	}
	return "KSeF rejected the invoice: read the description and details, correct the invoice in the ERP and export it again."
}

// joinHints puts hints one after another, skipping empty ones.
func joinHints(hs ...string) string {
	var out []string
	for _, h := range hs {
		if h != "" {
			out = append(out, h)
		}
	}
	return strings.Join(out, " ")
}
