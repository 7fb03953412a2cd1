package ksefsim

import (
	"net/http"
	"strings"
	"testing"
)

// TestStatusFaultAdmin: the admin API injects only the statuses open-api.json lists for each
// object, and refuses the rest naming the ones it takes.
func TestStatusFaultAdmin(t *testing.T) {
	s := startSim(t, Options{})
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/invoices/fail?status=550&n=1", http.StatusNoContent},
		{"/invoices/fail?status=405&n=2", http.StatusNoContent},
		{"/invoices/fail?status=435&n=1", http.StatusNoContent},
		{"/invoices/fail?status=440&n=1", http.StatusBadRequest}, // a duplicate comes from content, not on demand
		{"/batches/fail?status=440&n=1", http.StatusNoContent},
		{"/batches/fail?status=200&n=1", http.StatusBadRequest},
		{"/batches/duplicates-own-session?n=1", http.StatusNoContent},
		{"/batches/refuse-close?code=21173&n=1", http.StatusNoContent},
		{"/invoices/session-unavailable?n=1", http.StatusNoContent},
		{"/invoices/session-key-error?n=1", http.StatusNoContent},
		{"/batches/refuse-close?code=21208&n=1", http.StatusBadRequest}, // a late close is made by waiting
		{"/logins/fail?status=500&n=1", http.StatusNoContent},
		{"/logins/fail?status=450&n=1", http.StatusBadRequest}, // a bad token is made by revoking it
		{"/logins/fail?status=500", http.StatusBadRequest},
	} {
		resp, err := http.Post(s.AdminURL()+tc.path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s = %d; want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := s.statusFaults; len(got.invoices) != 4 || len(got.batches) != 1 || len(got.logins) != 1 || got.keyErrors != 1 {
		t.Errorf("faults queued %+v; want 4 invoices, 1 batch, 1 login, 1 key error", got)
	}
}

// TestHeldLogin: a login held by the admin API stays at status 100 and cannot be redeemed, with
// KSeF's 21301 and its words (CIRFMF/ksef-api #567), until it is released; then the same login
// completes. Only the next n logins are held.
func TestHeldLogin(t *testing.T) {
	s := startSim(t, Options{})
	must(t, call(t, "POST", s.AdminURL()+"/logins/hold?n=1", "", nil), http.StatusNoContent)
	ref, authTok := startAuth(t, s, testNIP, s.Token(testNIP))
	for range 3 {
		st := must(t, call(t, "GET", s.URL()+"/auth/"+ref, authTok, nil), 200).json(t)
		if c := statusCode(st); c != 100 {
			t.Fatalf("held login: status %d; want 100", c)
		}
	}
	r := must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 400)
	if code := r.exceptionCode(t); code != 21301 || !strings.Contains(string(r.body), "Status uwierzytelniania (100) nie pozwala na pobranie tokenów.") {
		t.Errorf("redeeming a held login: %d %s", code, r.body)
	}
	login(t, s, testNIP) // the next login is not held
	must(t, call(t, "POST", s.AdminURL()+"/logins/release", "", nil), http.StatusNoContent)
	if st := must(t, call(t, "GET", s.URL()+"/auth/"+ref, authTok, nil), 200).json(t); statusCode(st) != 200 {
		t.Fatalf("released login: %v", st["status"])
	}
	must(t, call(t, "POST", s.URL()+"/auth/token/redeem", authTok, nil), 200)
	if n := s.Stats().LoginsStarted; n != 2 {
		t.Errorf("Stats.LoginsStarted = %d; want 2", n)
	}
}
