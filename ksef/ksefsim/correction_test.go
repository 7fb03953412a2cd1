package ksefsim

import (
	"strings"
	"testing"
	"time"
)

// TestTechnicalCorrection follows korekta-techniczna.md: an offline invoice KSeF rejected is
// corrected once, online, with offlineMode true and hashOfCorrectedInvoice; the correction is
// linked to it; a second correction gets 21166, a correction of an accepted invoice 21167, and a
// correction without offlineMode is refused. One naming a hash KSeF never saw is accepted: KSeF
// does not check it (CIRFMF/ksef-api #404).
func TestTechnicalCorrection(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	good := sampleInvoice(t, testNIP, "KT-1")
	bad := []byte(strings.Replace(string(good), "<NIP>3861610227</NIP>", "<NIP>3861610228</NIP>", 1)) // buyer NIP check digit
	send := func(data []byte, offline bool, corrected string) resp {
		body := sendRequest(t, k, data)
		body["offlineMode"] = offline
		if corrected != "" {
			body["hashOfCorrectedInvoice"] = corrected
		}
		return call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, body)
	}
	ref := must(t, send(bad, true, ""), 202).json(t)["referenceNumber"].(string)
	c.Advance(2 * time.Second)
	if got := statusCode(invoiceStatus(t, s, access, sess, ref)); got != 450 {
		t.Fatalf("invoice with a wrong buyer NIP: status %d, want 450", got)
	}
	badHash := sha256B64(bad)

	if code := must(t, send(good, false, badHash), 400).exceptionCode(t); code != 21405 {
		t.Errorf("correction without offlineMode: %d, want 21405", code)
	}
	fictitious := must(t, send(sampleInvoice(t, testNIP, "KT-2"), true, sha256B64([]byte("never sent"))), 202).json(t)["referenceNumber"].(string)
	fixed := must(t, send(good, true, badHash), 202).json(t)["referenceNumber"].(string)
	c.Advance(2 * time.Second)
	if st := invoiceStatus(t, s, access, sess, fictitious); statusCode(st) != 200 {
		t.Errorf("correction naming a hash KSeF never saw: %v, want accepted", st)
	}
	st := invoiceStatus(t, s, access, sess, fixed)
	if statusCode(st) != 200 || st["invoicingMode"] != "Offline" {
		t.Fatalf("technical correction: %v", st)
	}
	var linked int
	for _, a := range s.Stats().Accepted {
		if a.HashOfCorrectedInvoice == badHash && a.Offline {
			linked++
		}
	}
	if linked != 1 {
		t.Errorf("accepted %+v, want one correction linked to %s", s.Stats().Accepted, badHash)
	}

	again := []byte(strings.Replace(string(good), "<P_2>", "<P_2 >", 1))
	if code := must(t, send(again, true, badHash), 400).exceptionCode(t); code != 21166 {
		t.Errorf("second correction: %d, want 21166", code)
	}
	if code := must(t, send(again, true, sha256B64(good)), 400).exceptionCode(t); code != 21167 {
		t.Errorf("correction of an accepted invoice: %d, want 21167", code)
	}
}

// TestAutoOfflineCountsPolishDays: KSeF marks an invoice sent as online Offline when the day of
// its P_1 is before the day it was sent (automatyczne-okreslanie-trybu-offline.md); the days are
// Poland's. At 23:30 UTC on 10 March it is already 11 March in Warsaw.
func TestAutoOfflineCountsPolishDays(t *testing.T) {
	c := newClockAt(time.Date(2026, 3, 10, 22, 30, 0, 0, time.UTC)) // 23:30 in Warsaw
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, ProcessingDelay: time.Second})
	c.Advance(time.Second)
	access, _ := login2(t, s, c)
	sess, k := openOnline(t, s, access)
	modeOf := func(number string) any {
		t.Helper()
		inv := sendInvoice(t, s, access, sess, k, sampleInvoice(t, testNIP, number)) // P_1 2026-03-10
		c.Advance(3 * time.Second)
		return invoiceStatus(t, s, access, sess, inv)["invoicingMode"]
	}
	if got := modeOf("LATE-1"); got != "Online" {
		t.Errorf("sent at 23:30 in Warsaw on the day of P_1: invoicingMode %v, want Online", got)
	}
	c.Advance(time.Hour)
	access, _ = login2(t, s, c) // the first access token has expired
	if got := modeOf("LATE-2"); got != "Offline" {
		t.Errorf("sent at 00:30 in Warsaw the day after P_1 (23:30 UTC): invoicingMode %v, want Offline", got)
	}
}

// TestSelfBillingNeedsTheSellersGrant: a buyer's context sends an invoice self-billed in its
// seller's name: 410 without the seller's SelfInvoicing grant, registered under the seller with it;
// an invoice of another seller that is not self-billed is a 410 too (CIRFMF/ksef-api #826).
func TestSelfBillingNeedsTheSellersGrant(t *testing.T) {
	c, s, access, sess, k := startOnline(t)
	const seller = "3861610227"
	send := func(number string, selfBilled bool) map[string]any {
		t.Helper()
		x := strings.ReplaceAll(string(sampleInvoice(t, seller, number)), "<NIP>3861610227</NIP>", "<NIP>"+testNIP+"</NIP>") // the buyer: us
		x = strings.Replace(x, "<NIP>"+testNIP+"</NIP>", "<NIP>"+seller+"</NIP>", 1)                                         // the seller again
		if selfBilled {
			x = strings.Replace(x, "<P_17>2</P_17>", "<P_17>1</P_17>", 1)
		}
		inv := sendInvoice(t, s, access, sess, k, []byte(x))
		c.Advance(3 * time.Second)
		return invoiceStatus(t, s, access, sess, inv)
	}
	if st := send("SB-1", true); statusCode(st) != 410 {
		t.Errorf("self-billed without a grant: %v, want 410", st)
	}
	if st := send("SB-2", false); statusCode(st) != 410 {
		t.Errorf("another seller's invoice, not self-billed: %v, want 410", st)
	}
	s.GrantSelfInvoicing(seller, testNIP)
	if st := send("SB-3", true); statusCode(st) != 200 || !strings.HasPrefix(st["ksefNumber"].(string), seller+"-") {
		t.Errorf("self-billed with the grant: %v, want 200 under the seller's NIP", st)
	}
}
