package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// These tests drive the binary the way README's "Outputs" and "Commands" sections tell an ERP and
// an administrator to, and check what README promises, key by key.

// rawJSON reads one output file as a map, so a key that is missing differs from one that is empty.
func rawJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(testutil.ReadFile(t, path), &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// TestOutputRecordsCarryREADMEKeys: README lists the keys of sent/*.ksef.json (among them
// `conversion`) and error/*.error.json (`invoiceNumber`, `sessionReferenceNumber`,
// `referenceNumber`, …) without exceptions, and says `.ksef.json` records `invoicingMode` (what
// KSeF said). A validation rejection used to leave out the invoice number even when the file
// named it (a wrong seller NIP, a schema error, a future issue date), and the three keys
// altogether; `conversion` was missing whenever nothing was converted; and a file whose bytes KSeF
// had already accepted got a `.ksef.json` without `invoicingMode`.
func TestOutputRecordsCarryREADMEKeys(t *testing.T) {
	e := newLongE2E(t, ksefsim.Options{}, "")
	now := time.Now()
	number := func(tag string) string { return "FA/GRQMB-" + tag + "/05/2025" } // the templates' P_2
	e.drop("FV_ok.xml", invoice(0, "FLOW-OK"))
	e.drop("FV_wrong_nip.xml", samples.Invoice(0, samples.BuyerNIP, now, "FLOW-WNIP"))
	e.drop("FV_future.xml", samples.Invoice(0, testNIP, now.AddDate(0, 0, 3), "FLOW-FUTURE"))
	schemaBad := strings.Replace(string(samples.Invoice(1, testNIP, now, "FLOW-SCHEMA")), "</P_2>", "</P_2><Nieznany>1</Nieznany>", 1)
	e.drop("FV_schema.xml", []byte(schemaBad))
	e.drop("FV_not_xml.xml", []byte("not an invoice\n"))
	if code, out, errOut := e.send(2 * time.Minute); code != exitRejected {
		t.Fatalf("send exit %d, want %d\n%s\n%s", code, exitRejected, out, tail(errOut))
	}
	// The same bytes again, under another name: not sent again, outputs with the known number.
	e.drop("FV_ok_again.xml", invoice(0, "FLOW-OK"))
	if code, out, errOut := e.send(2 * time.Minute); code != exitOK {
		t.Fatalf("second send exit %d, want 0\n%s\n%s", code, out, tail(errOut))
	}

	wantErr := map[string]struct{ code, number string }{
		"FV_wrong_nip": {"wrong-seller-nip", number("FLOW-WNIP")},
		"FV_future":    {"future-issue-date", number("FLOW-FUTURE")},
		"FV_schema":    {"schema", number("FLOW-SCHEMA")},
		"FV_not_xml":   {"not-xml", ""},
	}
	for stem, want := range wantErr {
		r := rawJSON(t, filepath.Join(e.errDir, stem+".error.json"))
		for _, k := range []string{"code", "description", "details", "stage", "hint", "fileName", "invoiceNumber",
			"sessionReferenceNumber", "referenceNumber", "time", "company"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s.error.json has no %q: %v", stem, k, r)
			}
		}
		if r["code"] != want.code || r["invoiceNumber"] != want.number || r["sessionReferenceNumber"] != "" || r["referenceNumber"] != "" {
			t.Errorf("%s.error.json: code %v invoiceNumber %q session %q reference %q; want %s, %q and no KSeF references",
				stem, r["code"], r["invoiceNumber"], r["sessionReferenceNumber"], r["referenceNumber"], want.code, want.number)
		}
	}

	first := rawJSON(t, filepath.Join(e.sent, "FV_ok.ksef.json"))
	again := rawJSON(t, filepath.Join(e.sent, "FV_ok_again.ksef.json"))
	for name, r := range map[string]map[string]any{"FV_ok": first, "FV_ok_again": again} {
		for _, k := range []string{"ksefNumber", "invoiceNumber", "invoiceHash", "sessionReferenceNumber", "referenceNumber",
			"acquisitionDate", "mode", "qrCodeI", "sellerNip", "company", "issueDate", "fileName", "upoFile", "conversion",
			"offlineMode", "invoicingMode"} {
			if _, ok := r[k]; !ok {
				t.Errorf("%s.ksef.json has no %q: %v", name, k, r)
			}
		}
	}
	if first["conversion"] != "" || first["invoicingMode"] != "Online" {
		t.Errorf("FV_ok.ksef.json: conversion %q invoicingMode %q, want \"\" and Online", first["conversion"], first["invoicingMode"])
	}
	if again["ksefNumber"] != first["ksefNumber"] || again["invoicingMode"] != first["invoicingMode"] {
		t.Errorf("FV_ok_again.ksef.json: %v / %v, want the original's KSeF number %v and invoicingMode %v",
			again["ksefNumber"], again["invoicingMode"], first["ksefNumber"], first["invoicingMode"])
	}
}
