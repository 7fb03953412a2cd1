package ksefsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
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

// TestInvoiceSizeFollowsTheContextLimits: an invoice over KSeF's default 1 MB is refused, and the
// same size is accepted once the context's limit was raised (limity.md, "Dostosowanie limitów").
func TestInvoiceSizeFollowsTheContextLimits(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	finalStatus := func(number string) map[string]any {
		t.Helper()
		inv := sendInvoice(t, s, access, sess, k, padInvoice(t, sampleInvoice(t, testNIP, number), 1_500_000))
		c.Advance(3 * time.Second)
		return invoiceStatus(t, s, access, sess, inv)
	}
	if st := finalStatus("BIG-1"); statusCode(st) != 430 || !strings.Contains(fmt.Sprint(st), "exceeds the limit of 1000000 bytes") {
		t.Errorf("1.5 MB with the default limits: %v, want 430 over 1000000 bytes", st)
	}
	s.SetMaxInvoiceSizes(testNIP, 2, 3)
	if st := finalStatus("BIG-2"); statusCode(st) != 200 {
		t.Errorf("1.5 MB with the limit raised to 2 MB: %v, want 200", st)
	}
}

// padInvoice makes invoice size bytes long with a comment before its last closing tag.
func padInvoice(t *testing.T, invoice []byte, size int) []byte {
	t.Helper()
	x := string(invoice)
	end, fill := strings.LastIndex(x, "</"), size-len(x)-len("<!---->")
	if end < 0 || fill < 0 {
		t.Fatalf("cannot pad a %d-byte invoice to %d bytes", len(x), size)
	}
	return []byte(x[:end] + "<!--" + strings.Repeat("x", fill) + "-->" + x[end:])
}
