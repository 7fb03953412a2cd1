// Package render turns FA(3) invoices and KSeF UPOs into documents people can read: PDF (A4, an
// embedded font with every Polish letter, page numbers, repeated table headers, the KOD I / KOD II
// verification QR codes) or a self-contained HTML page. It is pure Go and has no state: every
// call parses the XML it is given and returns the finished file.
//
// The layout follows the official KSeF visualisation (CIRFMF/ksef-pdf-generator): header with the
// invoice and KSeF numbers, seller, buyer and third parties, dates, lines, the VAT summary per
// rate, totals, annotations, payment, footer, attachment summary and the QR codes.
package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// Lang is the language of the labels (the invoice's own data is never translated).
type Lang string

const (
	Polish  Lang = "pl"
	English Lang = "en"
)

// ParseLang accepts "pl" or "en" ("" means Polish).
func ParseLang(s string) (Lang, error) {
	l, err := msg.Parse(s) // the one parser of the language keys (internal/msg)
	if err != nil {
		return "", fmt.Errorf("render: %w", err)
	}
	return Lang(l), nil
}

func (l Lang) labels() *labels {
	if l == English {
		return &englishLabels
	}
	return &polishLabels
}

// Format is the output format.
type Format string

const (
	PDF  Format = "pdf"
	HTML Format = "html"
)

// Ext is the file extension of a format, with its dot: ".pdf" or ".html".
func (f Format) Ext() string {
	if f == HTML {
		return ".html"
	}
	return ".pdf"
}

// ParseFormat accepts "pdf" or "html".
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(strings.TrimSpace(s))) {
	case PDF:
		return PDF, nil
	case HTML:
		return HTML, nil
	}
	return "", fmt.Errorf("render: format %q (want pdf or html)", s)
}

// Options says how to render. The zero value renders a Polish PDF without KSeF number or QR codes
// (a preview before sending).
type Options struct {
	Lang       Lang   // labels: Polish (default) or English
	Format     Format // PDF (default) or HTML
	KsefNumber string // shown in the header and under KOD I; "" before registration
	// QRCodeI is the KOD I verification link (qrCodeI of .ksef.json). Its caption is the KSeF
	// number, or OFFLINE when KsefNumber is empty (an offline invoice).
	QRCodeI string
	// QRCodeII is the KOD II (issuer certificate) link of an offline invoice; its caption is
	// CERTYFIKAT / CERTIFICATE.
	QRCodeII string
}

// Invoice renders an FA(3) invoice (UTF-8 XML, as sent to or received from KSeF).
func Invoice(invoiceXML []byte, o Options) ([]byte, error) {
	return renderWith(invoiceXML, o, parseInvoice, buildInvoice)
}

// UPO renders an official acknowledgement of receipt (UPO v4-3, for one invoice or a session).
// Options.KsefNumber, QRCodeI and QRCodeII are ignored: the UPO carries its own numbers.
func UPO(upoXML []byte, o Options) ([]byte, error) {
	return renderWith(upoXML, o, parseUPO, buildUPO)
}

// renderWith is the one pipeline of both documents: parse the XML, lay it out, write the format.
func renderWith[T any](data []byte, o Options, parse func([]byte) (T, error), build func(T, Options) *doc) ([]byte, error) {
	o = o.normal()
	v, err := parse(data)
	if err != nil {
		return nil, err
	}
	return output(build(v, o), o)
}

// normal fills the defaults, so that the zero Options means Polish PDF everywhere below.
func (o Options) normal() Options {
	if o.Lang != English {
		o.Lang = Polish
	}
	if o.Format != HTML {
		o.Format = PDF
	}
	return o
}

func output(d *doc, o Options) ([]byte, error) {
	if o.Format == HTML {
		return writeHTML(d)
	}
	return writePDF(d)
}

// Facts are what an invoice's KOD I link is built from (with the SHA-256 of the file's bytes):
// the seller's NIP and the issue date P_1, plus the invoice number for file names and logs.
type Facts struct {
	SellerNIP string
	Number    string
	IssueDate time.Time
}

// InvoiceFacts reads the Facts of an FA(3) invoice, for example to build the KOD I link of a
// received invoice: ksef.QRCodeI(qrBase, f.SellerNIP, f.IssueDate, ksef.InvoiceSHA256(xml)).
func InvoiceFacts(invoiceXML []byte) (Facts, error) {
	f, err := parseInvoice(invoiceXML)
	if err != nil {
		return Facts{}, err
	}
	issue, err := time.Parse("2006-01-02", strings.TrimSpace(f.Fa.P1))
	if err != nil {
		return Facts{}, fmt.Errorf("read invoice XML: issue date P_1 %q: %w", f.Fa.P1, err)
	}
	return Facts{SellerNIP: strings.TrimSpace(f.Podmiot1.DaneIdentyfikacyjne.NIP), Number: strings.TrimSpace(f.Fa.P2), IssueDate: issue}, nil
}
