package render

import "errors"

// File is one rendered output: Suffix is what follows the invoice's stem (".pdf", ".upo.pdf",
// ".html", ".upo.html").
type File struct {
	Suffix string
	Data   []byte
}

// Outputs renders an invoice, and its UPO when upoXML is not nil, in every format asked for; it is
// what the daemon writes next to sent/<stem>.ksef.json or an inbox XML. Whatever renders is
// returned even when something else fails; the error joins all failures.
func Outputs(invoiceXML, upoXML []byte, formats []Format, o Options) ([]File, error) {
	var files []File
	var errs []error
	for _, f := range formats {
		o.Format = f
		if b, err := Invoice(invoiceXML, o); err != nil {
			errs = append(errs, err)
		} else {
			files = append(files, File{f.Ext(), b})
		}
		if upoXML == nil {
			continue
		}
		if b, err := UPO(upoXML, o); err != nil {
			errs = append(errs, err)
		} else {
			files = append(files, File{".upo" + f.Ext(), b})
		}
	}
	return files, errors.Join(errs...)
}
