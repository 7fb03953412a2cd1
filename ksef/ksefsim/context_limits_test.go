package ksefsim

import (
	"encoding/json"
	"testing"
)

// TestContextLimitsSetAndReset: GET /limits/context answers KSeF's defaults; POST
// /testdata/limits/context/session changes them for the caller's context only (other contexts keep
// the defaults); values outside the request schema's bounds are refused with 21405; DELETE restores
// the defaults.
func TestContextLimitsSetAndReset(t *testing.T) {
	s := startSim(t, Options{RateLimits: "off"})
	access, _ := login(t, s, testNIP)
	get := func(bearer string) contextLimits {
		t.Helper()
		var l contextLimits
		if err := json.Unmarshal(must(t, call(t, "GET", s.URL()+"/limits/context", bearer, nil), 200).body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if got := get(access); got != defaultContextLimits() || got.BatchSession.MaxInvoices != 10000 {
		t.Fatalf("defaults: %+v", got)
	}
	lowered := contextLimits{
		OnlineSession: sessionLimits{MaxInvoiceSizeInMB: 1, MaxInvoiceWithAttachmentSizeInMB: 3, MaxInvoices: 5},
		BatchSession:  sessionLimits{MaxInvoiceSizeInMB: 2, MaxInvoiceWithAttachmentSizeInMB: 4, MaxInvoices: 3},
	}
	must(t, call(t, "POST", s.URL()+"/testdata/limits/context/session", access, lowered), 200)
	if got := get(access); got != lowered {
		t.Errorf("after POST: %+v, want %+v", got, lowered)
	}
	other, _ := login(t, s, "3861610227")
	if got := get(other); got != defaultContextLimits() {
		t.Errorf("another context: %+v, want the defaults", got)
	}
	tooMany := lowered
	tooMany.BatchSession.MaxInvoices = 100_001
	r := must(t, call(t, "POST", s.URL()+"/testdata/limits/context/session", access, tooMany), 400)
	if code := r.exceptionCode(t); code != 21405 {
		t.Errorf("out of range: %d, want 21405", code)
	}
	must(t, call(t, "DELETE", s.URL()+"/testdata/limits/context/session", access, nil), 200)
	if got := get(access); got != defaultContextLimits() {
		t.Errorf("after DELETE: %+v, want the defaults", got)
	}
}
