package ksefsim

import (
	"net/http"
	"testing"
)

// TestSessionOfAnotherContext: a session opened in another context is not the caller's to send
// into, close or read. Production answers 403 problem+json with reasonCode
// insufficient-resource-access ("Brak dostępu do wskazanego zasobu.", CIRFMF/ksef-api #826); a
// session KSeF does not know at all stays 400 21173.
func TestSessionOfAnotherContext(t *testing.T) {
	s := startSim(t, Options{})
	const otherNIP = "3861610227"
	theirs, _ := login(t, s, otherNIP)
	sess, k := openOnline(t, s, theirs)
	ours, _ := login(t, s, testNIP)
	xmlData := sampleInvoice(t, testNIP, "FOREIGN-1")
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/sessions/online/" + sess + "/invoices", sendRequest(t, k, xmlData)},
		{"POST", "/sessions/online/" + sess + "/close", nil},
		{"GET", "/sessions/" + sess, nil},
		{"GET", "/sessions/" + sess + "/invoices", nil},
	} {
		r := call(t, tc.method, s.URL()+tc.path, ours, tc.body)
		if r.code != http.StatusForbidden || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: %d %s %s; want 403 problem+json", tc.method, tc.path, r.code, r.header.Get("Content-Type"), r.body)
		}
		if m := r.json(t); m["reasonCode"] != "insufficient-resource-access" || m["detail"] != "Brak dostępu do wskazanego zasobu." {
			t.Errorf("%s %s: %s; want KSeF's insufficient-resource-access", tc.method, tc.path, r.body)
		}
	}
	// The session is still theirs: the refused close did not close it.
	sendInvoice(t, s, theirs, sess, k, sampleInvoice(t, otherNIP, "THEIRS-1"))
	unknown := "20260310-SO-0000000000-0000000000-00"
	if code := must(t, call(t, "GET", s.URL()+"/sessions/"+unknown, ours, nil), 400).exceptionCode(t); code != 21173 {
		t.Errorf("unknown session: %d; want 21173", code)
	}
}

// TestUndecryptableSessionKey: a session whose key KSeF cannot decrypt is still opened (201), shows
// status 415, and refuses sends and its close with 21180 naming the status, in production's words
// ("Status sesji (415) uniemożliwia wysyłkę faktur.", CIRFMF/ksef-api #689, #653). Only the next n
// sessions are spoiled.
func TestUndecryptableSessionKey(t *testing.T) {
	s := startSim(t, Options{})
	must(t, call(t, "POST", s.AdminURL()+"/invoices/session-key-error?n=1", "", nil), http.StatusNoContent)
	access, _ := login(t, s, testNIP)
	sess, k := openOnline(t, s, access)
	xmlData := sampleInvoice(t, testNIP, "KEY-1")
	send := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/invoices", access, sendRequest(t, k, xmlData)), 400)
	if got := firstDetail(t, send); send.exceptionCode(t) != 21180 || got != "Status sesji (415) uniemożliwia wysyłkę faktur." {
		t.Errorf("send: %s; want 21180 naming status 415", send.body)
	}
	if st := must(t, call(t, "GET", s.URL()+"/sessions/"+sess, access, nil), 200).json(t); statusCode(st) != 415 {
		t.Errorf("session status %v; want 415", st["status"])
	}
	closing := must(t, call(t, "POST", s.URL()+"/sessions/online/"+sess+"/close", access, nil), 400)
	if got := firstDetail(t, closing); closing.exceptionCode(t) != 21180 || got != "Status sesji (415) uniemożliwia jej zamknięcie." {
		t.Errorf("close: %s; want 21180 naming status 415", closing.body)
	}
	next, nk := openOnline(t, s, access)
	sendInvoice(t, s, access, next, nk, xmlData)
}

// firstDetail is the first detail of a KSeF 400 body's first exception.
func firstDetail(t *testing.T, r resp) string {
	t.Helper()
	ex, _ := r.json(t)["exception"].(map[string]any)
	list, _ := ex["exceptionDetailList"].([]any)
	if len(list) == 0 {
		return ""
	}
	details, _ := list[0].(map[string]any)["details"].([]any)
	if len(details) == 0 {
		return ""
	}
	s, _ := details[0].(string)
	return s
}
