package ksefsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
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

// officialMessage is a Latarnia announcement as the ministry's clients read it
// (ksef-client-csharp KSeF.Client.Core/Models/Lighthouse/Message.cs, ksef-client-java
// model/lighthouse/Message.java): eventId and version are numbers, the times offsets.
type officialMessage struct {
	ID        string     `json:"id"`
	EventID   int        `json:"eventId"`
	Category  string     `json:"category"`
	Type      string     `json:"type"`
	Title     string     `json:"title"`
	Text      string     `json:"text"`
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end"`
	Version   int        `json:"version"`
	Published time.Time  `json:"published"`
}

// TestLatarniaMessagesAsOfficialClientsReadThem: the announcements decode into the official
// clients' types, which take eventId as a number (a string there fails their JSON readers).
func TestLatarniaMessagesAsOfficialClientsReadThem(t *testing.T) {
	s := startSim(t, Options{})
	base := strings.TrimSuffix(s.URL(), "/v2")
	if err := s.AnnounceLatarnia("MAINTENANCE", "Prace serwisowe", "Przerwa techniczna."); err != nil {
		t.Fatal(err)
	}
	if err := s.AnnounceLatarnia("FAILURE", "Awaria", "Trwa awaria."); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status   string            `json:"status"`
		Messages []officialMessage `json:"messages"`
	}
	latarniaGetJSON(t, base+"/latarnia/status", 200, &st)
	var all []officialMessage
	latarniaGetJSON(t, base+"/latarnia/messages", 200, &all)
	if st.Status != "FAILURE" || len(st.Messages) != 1 || len(all) != 2 {
		t.Fatalf("status %q with %d messages, %d in /messages", st.Status, len(st.Messages), len(all))
	}
	want := map[string]string{"FAILURE": "FAILURE_START", "MAINTENANCE": "MAINTENANCE_ANNOUNCEMENT"}
	for _, m := range all {
		if m.EventID == 0 || m.Version == 0 || m.Start.IsZero() || m.Published.IsZero() || m.Type != want[m.Category] {
			t.Errorf("message %+v", m)
		}
	}
	if all[1].End == nil {
		t.Errorf("the maintenance announcement was not ended by the failure: %+v", all[1])
	}
}
