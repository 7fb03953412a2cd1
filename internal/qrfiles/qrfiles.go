// Package qrfiles writes the QR codes of an invoice into a folder the ERP prints from, as soon as
// the invoice is claimed and even while KSeF is down (kody-qr.md):
//
//	<stem>.qr.json   {"kodI": ..., "kodII": ..., "sellerNip": ..., "issueDate": ..., "invoiceHash": ...}
//	<stem>.kod1.png  KOD I (invoice verification) with the label OFFLINE under it
//	<stem>.kod2.png  KOD II (issuer verification, signed with a KSeF Offline certificate) with the
//	                 label CERTYFIKAT; only when an Offline certificate is configured
//
// Every file is written atomically, the PNGs first and .qr.json last: an ERP that waits for
// .qr.json finds the pictures complete.
package qrfiles

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/atomicfile"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// The labels printed under the codes (kody-qr.md): KOD I carries the KSeF number once there is
// one, "OFFLINE" until then; KOD II carries "CERTYFIKAT".
const (
	LabelOffline     = "OFFLINE"
	LabelCertificate = "CERTYFIKAT"
)

// File name suffixes after the invoice's stem.
const (
	SuffixJSON  = ".qr.json"
	SuffixKodI  = ".kod1.png"
	SuffixKodII = ".kod2.png"
)

// Invoice is what the codes are made of.
type Invoice struct {
	Stem      string    // file name without extension, e.g. "FV_2026_0042"
	XML       []byte    // the invoice file exactly as it is sent to KSeF
	SellerNIP string    // Podmiot1 NIP
	IssueDate time.Time // P_1
	// QRBase is the environment's verification site, e.g. https://qr.ksef.mf.gov.pl
	// (config.QRBaseURL).
	QRBase string
	// The context KOD II names: type Nip, InternalId, NipVatUe or PeppolId, and its value.
	ContextType, ContextValue string
}

// Links is the content of <stem>.qr.json.
type Links struct {
	KodI      string `json:"kodI"`
	KodII     string `json:"kodII,omitempty"`
	SellerNIP string `json:"sellerNip"`
	IssueDate string `json:"issueDate"` // YYYY-MM-DD
	// InvoiceHash is the SHA-256 of the invoice file in Base64, as KSeF reports invoiceHash.
	InvoiceHash string `json:"invoiceHash"`
}

// Build computes the links; signer may be nil (then there is no KOD II).
func Build(inv Invoice, signer *ksef.OfflineSigner) (Links, error) {
	if inv.QRBase == "" || inv.SellerNIP == "" || inv.IssueDate.IsZero() {
		return Links{}, errors.New("qr codes: the verification site, the seller's NIP and the issue date are all needed")
	}
	sum := ksef.InvoiceSHA256(inv.XML)
	l := Links{
		KodI:        ksef.QRCodeI(inv.QRBase, inv.SellerNIP, inv.IssueDate, sum),
		SellerNIP:   inv.SellerNIP,
		IssueDate:   inv.IssueDate.Format("2006-01-02"),
		InvoiceHash: base64.StdEncoding.EncodeToString(sum),
	}
	if signer != nil {
		if inv.ContextType == "" || inv.ContextValue == "" {
			return Links{}, errors.New("qr codes: KOD II needs the context type and value")
		}
		k2, err := signer.QRCodeII(inv.QRBase, inv.ContextType, inv.ContextValue, inv.SellerNIP, sum)
		if err != nil {
			return Links{}, err
		}
		l.KodII = k2
	}
	return l, nil
}

// Write builds the links and writes the files for inv into dir (created if missing); signer may be
// nil. A KOD II picture left by an earlier write without a certificate is not removed: the stem is
// the same invoice.
func Write(dir string, inv Invoice, signer *ksef.OfflineSigner) (Links, error) {
	if inv.Stem == "" || filepath.Base(inv.Stem) != inv.Stem {
		return Links{}, fmt.Errorf("qr codes: bad file stem %q", inv.Stem)
	}
	l, err := Build(inv, signer)
	if err != nil {
		return Links{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Links{}, fmt.Errorf("qr codes: %w", err)
	}
	png1, err := PNG(l.KodI, LabelOffline)
	if err != nil {
		return Links{}, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, inv.Stem+SuffixKodI), png1, 0o644); err != nil {
		return Links{}, fmt.Errorf("qr codes: %w", err)
	}
	if l.KodII != "" {
		png2, err := PNG(l.KodII, LabelCertificate)
		if err != nil {
			return Links{}, err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, inv.Stem+SuffixKodII), png2, 0o644); err != nil {
			return Links{}, fmt.Errorf("qr codes: %w", err)
		}
	}
	js, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return Links{}, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, inv.Stem+SuffixJSON), append(js, '\n'), 0o644); err != nil {
		return Links{}, fmt.Errorf("qr codes: %w", err)
	}
	return l, nil
}
