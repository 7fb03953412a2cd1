package ksefsim

import (
	"net/http"
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
		{"/invoices/fail?status=440&n=1", http.StatusBadRequest}, // a duplicate comes from content, not on demand
		{"/batches/fail?status=440&n=1", http.StatusNoContent},
		{"/batches/fail?status=200&n=1", http.StatusBadRequest},
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
	if got := s.statusFaults; len(got.invoices) != 3 || len(got.batches) != 1 || len(got.logins) != 1 {
		t.Errorf("faults queued %+v; want 3 invoices, 1 batch, 1 login", got)
	}
}
