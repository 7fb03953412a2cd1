package ksefsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestLatarniaOutsideAPIFaults: a full API outage leaves the status service answering, and its own
// outage (Down) leaves the API alone.
func TestLatarniaOutsideAPIFaults(t *testing.T) {
	s := startSim(t, Options{})
	base := strings.TrimSuffix(s.URL(), "/v2")
	s.SetFaults(Faults{Outage: true})
	if err := s.AnnounceLatarnia("FAILURE", "Awaria", "Trwa awaria."); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status   string            `json:"status"`
		Messages []LatarniaMessage `json:"messages"`
	}
	latarniaGetJSON(t, base+"/latarnia/status", 200, &st)
	if st.Status != "FAILURE" || len(st.Messages) != 1 || st.Messages[0].Title != "Awaria" {
		t.Fatalf("status = %+v", st)
	}
	resp, err := http.Get(s.URL() + "/security/public-key-certificates")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("API during the outage: HTTP %d", resp.StatusCode)
	}

	s.SetFaults(Faults{})
	if err := s.SetLatarnia(LatarniaControl{Status: "AVAILABLE", Down: true}); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(base + "/latarnia/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("status service down: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Get(s.URL() + "/security/public-key-certificates")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("API while the status service is down: HTTP %d", resp.StatusCode)
	}
	var c LatarniaControl
	latarniaGetJSON(t, base+"/admin/latarnia", 200, &c)
	if c.Status != "AVAILABLE" || !c.Down {
		t.Errorf("admin state = %+v", c)
	}
}

func latarniaGetJSON(t *testing.T, url string, code int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != code {
		t.Fatalf("GET %s: HTTP %d, want %d", url, resp.StatusCode, code)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
