package ksefsim

import (
	"encoding/json"
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
	announce(t, s, "FAILURE", "Awaria", "Trwa awaria.")
	var st struct {
		Status   string            `json:"status"`
		Messages []LatarniaMessage `json:"messages"`
	}
	latarniaGetJSON(t, base+"/latarnia/status", 200, &st)
	if st.Status != "FAILURE" || len(st.Messages) != 1 || st.Messages[0].Title != "Awaria" {
		t.Fatalf("status = %+v", st)
	}
	if r := call(t, "GET", s.URL()+"/security/public-key-certificates", "", nil); r.code != 503 {
		t.Errorf("API during the outage: HTTP %d", r.code)
	}

	s.SetFaults(Faults{})
	if err := s.SetLatarnia(LatarniaControl{Status: "AVAILABLE", Down: true}); err != nil {
		t.Fatal(err)
	}
	if r := call(t, "GET", base+"/latarnia/status", "", nil); r.code != 503 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("status service down: HTTP %d %s", r.code, r.header.Get("Content-Type"))
	}
	if r := call(t, "GET", s.URL()+"/security/public-key-certificates", "", nil); r.code != 200 {
		t.Errorf("API while the status service is down: HTTP %d", r.code)
	}
	var c LatarniaControl
	latarniaGetJSON(t, base+"/admin/latarnia", 200, &c)
	if c.Status != "AVAILABLE" || !c.Down {
		t.Errorf("admin state = %+v", c)
	}
}

func latarniaGetJSON(t *testing.T, url string, code int, v any) {
	t.Helper()
	r := call(t, "GET", url, "", nil)
	if r.code != code {
		t.Fatalf("GET %s: HTTP %d, want %d", url, r.code, code)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatal(err)
	}
}

// announce publishes an announcement of status on the simulator's status service.
func announce(t *testing.T, s *Server, status, title, text string) {
	t.Helper()
	if err := s.AnnounceLatarnia(status, title, text); err != nil {
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
	announce(t, s, "MAINTENANCE", "Prace serwisowe", "Przerwa techniczna.")
	announce(t, s, "FAILURE", "Awaria", "Trwa awaria.")
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
