package ksefsim

import (
	"github.com/ksef-sync/ksef-sync/internal/xsd"
)

// schemaErrorDescription is the invoice status KSeF gives an invoice that does not match its
// schema: code 450 "Błąd weryfikacji semantyki dokumentu faktury" (open-api.json, invoice status
// table: "| 450 | Błąd weryfikacji semantyki dokumentu faktury |"). Real KSeF puts the .NET
// validator's messages into details (e.g. "The element 'Adnotacje' in namespace '…' has invalid
// child element …", CIRFMF/ksef-api#281) or only "Nieprawidłowy XML" (CIRFMF/ksef-api#141, #556).
const schemaErrorDescription = "Błąd weryfikacji semantyki dokumentu faktury"

// maxSchemaDetails bounds the details of one schema rejection.
const maxSchemaDetails = 20

// checkSchema validates an FA(3) invoice against the official schema, as KSeF does before it
// accepts an invoice. Other forms are not checked (the simulator has only the FA(3) schema).
func checkSchema(data []byte, fs formSpec) *invoiceError {
	if fs.Namespace != nsFA3 {
		return nil
	}
	schema, err := xsd.FA3()
	if err != nil {
		return &invoiceError{Code: 500, Description: "Nieznany błąd (500)", Details: []string{err.Error()}}
	}
	errs := schema.Validate(data)
	if len(errs) == 0 {
		return nil
	}
	ie := &invoiceError{Code: 450, Description: schemaErrorDescription}
	for _, e := range errs[:min(len(errs), maxSchemaDetails)] {
		ie.Details = append(ie.Details, e.String())
	}
	return ie
}
