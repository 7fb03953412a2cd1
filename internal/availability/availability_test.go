package availability

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/offline"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim/simtest"
)

// simOptions: these tests probe the status service, not KSeF's rate limits.
var simOptions = ksefsim.Options{RateLimits: "off"}

// newSim is a simulator that does not listen: synctest bubbles reach it in memory (memClient).
func newSim(t *testing.T) *ksefsim.Server {
	t.Helper()
	sim, err := ksefsim.New(simOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func startSim(t *testing.T) *ksefsim.Server {
	t.Helper()
	return simtest.Start(t, simOptions)
}

func latarniaURL(sim *ksefsim.Server) string {
	return strings.TrimSuffix(sim.URL(), "/v2") + "/latarnia"
}

func TestBaseURL(t *testing.T) {
	for env, want := range map[string]string{"test": TestURL, "demo": TestURL, "prod": ProdURL, "mars": ""} {
		if got := BaseURL(env); got != want {
			t.Errorf("BaseURL(%q) = %q, want %q", env, got, want)
		}
	}
}

// TestClientAgainstSimulator reads the simulator's status service over real HTTP while a failure is
// announced and ended, with a full API outage that must not reach the status service.
func TestClientAgainstSimulator(t *testing.T) {
	sim := startSim(t)
	c := NewClient(latarniaURL(sim)+"/", nil)
	ctx := context.Background()

	r, err := c.Status(ctx)
	if err != nil || r.Status != StatusAvailable || len(r.Messages) != 0 {
		t.Fatalf("Status = %+v, %v; want AVAILABLE without messages", r, err)
	}
	sim.SetFaults(ksefsim.Faults{Outage: true})
	if err := sim.AnnounceLatarnia("FAILURE", "Awaria KSeF", "Trwa awaria systemu."); err != nil {
		t.Fatal(err)
	}
	r, err = c.Status(ctx)
	if err != nil || r.Status != StatusFailure || len(r.Messages) != 1 {
		t.Fatalf("Status = %+v, %v; want FAILURE with one message", r, err)
	}
	m := r.Messages[0]
	if m.Title != "Awaria KSeF" || m.Text != "Trwa awaria systemu." || m.ID == "" || m.Start.IsZero() || !m.End.IsZero() {
		t.Errorf("message = %+v", m)
	}
	if err := sim.AnnounceLatarnia("AVAILABLE", "", ""); err != nil {
		t.Fatal(err)
	}
	r, err = c.Status(ctx)
	if err != nil || r.Status != StatusAvailable || len(r.Messages) != 0 {
		t.Fatalf("after the end: Status = %+v, %v", r, err)
	}
	ms, err := c.Messages(ctx)
	if err != nil || len(ms) != 1 || ms[0].End.IsZero() || ms[0].Version != "2" {
		t.Fatalf("Messages = %+v, %v; want the ended announcement, version 2", ms, err)
	}
}

func TestClientUnusableAnswers(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		code              int
		garbled           bool
	}{
		{"HTML challenge page", "text/html", "<html><body>Request blocked</body></html>", 200, true},
		{"gateway error", "text/html", "<html>502 Bad Gateway</html>", 502, true},
		{"truncated JSON", "application/json", `{"status": "AVAI`, 200, true},
		{"unknown status", "application/json", `{"status": "PARTIAL", "messages": []}`, 200, true},
		{"empty body", "application/json", "", 200, true},
		{"wrong shape", "application/json", `{"status": 3}`, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := NewClient(srv.URL, nil).Status(context.Background())
			if err == nil || errors.Is(err, ErrGarbled) != tt.garbled {
				t.Fatalf("err = %v, want garbled=%v", err, tt.garbled)
			}
			if strings.Contains(err.Error(), "Request blocked") {
				t.Errorf("error echoes the page: %v", err)
			}
		})
	}
	t.Run("numbers as identifiers and odd dates", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"status":"MAINTENANCE","messages":[{"id":17,"eventId":"e-3","version":2,"title":"Prace","text":"Prace serwisowe","start":"2026-12-02T22:00:00+01:00","end":"jutro","published":null}]}`)
		}))
		defer srv.Close()
		r, err := NewClient(srv.URL, nil).Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		m := r.Messages[0]
		if r.Status != StatusMaintenance || m.ID != "17" || m.EventID != "e-3" || m.Version != "2" || m.Start.IsZero() || !m.End.IsZero() {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := NewClient(url, nil).Status(context.Background())
		if err == nil || errors.Is(err, ErrGarbled) {
			t.Fatalf("err = %v, want a connection error", err)
		}
	})
}

// handlerTransport serves requests in memory, so the tracker's loop runs inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r.RemoteAddr = "127.0.0.1:1"
	ht.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func memClient(sim *ksefsim.Server) *Client {
	return NewClient("http://sim/latarnia", &http.Client{Transport: handlerTransport{sim.Handler()}})
}

var errConn = errors.New("dial tcp: connection refused")

func TestTrackerFollowsAnnouncements(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var changes []State
		tr := NewTracker(memClient(sim), Options{Interval: 5 * time.Minute, FailingInterval: time.Minute,
			OnChange: func(_, s Snapshot) { changes = append(changes, s.State) }})
		done := make(chan error)
		go func() { done <- tr.Run(ctx) }()
		synctest.Wait()
		if s := tr.Snapshot(); s.State != Available || s.Announced != StatusAvailable {
			t.Fatalf("at start: %+v", s)
		}

		// Announced between two checks: seen at the next check, five minutes later.
		time.Sleep(time.Minute)
		announced := time.Now()
		if err := sim.AnnounceLatarnia("FAILURE", "Awaria", "KSeF nie działa."); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4*time.Minute - time.Nanosecond)
		synctest.Wait()
		if s := tr.Snapshot(); s.State != Available {
			t.Fatalf("before the next check: %s", s.State)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		s := tr.Snapshot()
		if s.State != Failure || !s.Since.Equal(announced) || s.Text() != "Awaria: KSeF nie działa." {
			t.Fatalf("after the check: state %s since %v (want %v), text %q", s.State, s.Since, announced, s.Text())
		}

		// While the failure lasts the service is asked every minute.
		time.Sleep(10*time.Minute + 30*time.Second)
		ended := time.Now()
		if err := sim.AnnounceLatarnia("AVAILABLE", "", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if s := tr.Snapshot(); s.State != Available {
			t.Fatalf("a minute after the end: %s", s.State)
		}
		c := tr.ModeAt(announced.Add(time.Minute))
		// The outage ends when the status service says it did (its announcement's end), not at
		// the check 30 s later that learnt of it.
		if !c.Offline || c.Mode != offline.Failure || !c.Outage.Start.Equal(announced) || !c.Outage.End.Equal(ended) || c.Text == "" {
			t.Errorf("ModeAt during the failure = %+v", c)
		}
		if c := tr.ModeAt(announced.Add(-time.Second)); c.Offline {
			t.Errorf("ModeAt before the failure = %+v", c)
		}
		if got, want := changes, []State{Available, Failure, Available}; !equal(got, want) {
			t.Errorf("changes = %v, want %v", got, want)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
}

func equal(a, b []State) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTrackerKickedWhenKSeFStopsAnswering: the first failed request makes the tracker ask the status
// service at once instead of waiting for the next check.
func TestTrackerKickedWhenKSeFStopsAnswering(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := NewTracker(memClient(sim), Options{Interval: 5 * time.Minute})
		go tr.Run(ctx)
		synctest.Wait()
		time.Sleep(time.Minute)
		if err := sim.AnnounceLatarnia("TOTAL_FAILURE", "Awaria całkowita", "Komunikat w mediach."); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		tr.Observe(false, errConn, at)
		synctest.Wait()
		s := tr.Snapshot()
		if s.State != TotalFailure || !s.CheckedAt.Equal(at) || s.LastError != errConn.Error() {
			t.Fatalf("after the kick: %+v", s)
		}
		if c := tr.ModeAt(at); c.Mode != offline.TotalFailure || !c.Offline {
			t.Errorf("ModeAt = %+v", c)
		}
	})
}

// TestTrackerUnannounced: KSeF stops answering while the status service says AVAILABLE, and while
// the status service itself is down.
func TestTrackerUnannounced(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(map[bool]string{false: "status service says AVAILABLE", true: "status service down"}[down], func(t *testing.T) {
			sim := newSim(t)
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if err := sim.SetLatarnia(ksefsim.LatarniaControl{Status: "AVAILABLE", Down: down}); err != nil {
					t.Fatal(err)
				}
				tr := NewTracker(memClient(sim), Options{FailThreshold: 3})
				go tr.Run(ctx)
				synctest.Wait()
				if s := tr.Snapshot(); s.State != Available || (s.StatusError != "") != down {
					t.Fatalf("at start: %+v", s)
				}
				first := time.Now()
				tr.Observe(false, errConn, first)
				time.Sleep(time.Second)
				tr.Observe(false, errConn, time.Now())
				synctest.Wait()
				if s := tr.Snapshot(); s.State != Available {
					t.Fatalf("after two failures: %s", s.State)
				}
				tr.Observe(false, errConn, time.Now())
				synctest.Wait()
				s := tr.Snapshot()
				if s.State != Unannounced || !s.Since.Equal(first) || s.Failures != 3 {
					t.Fatalf("after three failures: %+v", s)
				}
				c := tr.ModeAt(first.Add(2 * time.Second))
				if !c.Offline || c.Mode != offline.Offline24 || !c.Outage.Start.Equal(first) || !c.Outage.End.IsZero() {
					t.Errorf("ModeAt = %+v", c)
				}
				time.Sleep(time.Minute)
				back := time.Now()
				tr.Observe(true, nil, back)
				if s := tr.Snapshot(); s.State != Available || !s.Since.Equal(back) {
					t.Fatalf("after a success: %+v", s)
				}
				if c := tr.ModeAt(first.Add(time.Second)); !c.Outage.End.Equal(back) {
					t.Errorf("ModeAt after the end = %+v", c)
				}
			})
		})
	}
}

// TestLateAnnouncementCoversObservedOutage: we see KSeF fail, then the ministry announces a failure
// that started before; invoices claimed in between are in the failure mode, and the deadline is
// computed from the announced period.
func TestLateAnnouncementCoversObservedOutage(t *testing.T) {
	sim := newSim(t)
	synctest.Test(t, func(t *testing.T) {
		tr := NewTracker(memClient(sim), Options{FailThreshold: 1})
		ctx := context.Background()
		if err := tr.Check(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(10 * time.Minute)
		tr.Observe(false, errConn, time.Now())
		if tr.Snapshot().State != Unannounced {
			t.Fatalf("state %s", tr.Snapshot().State)
		}
		claimed := time.Now().Add(time.Minute)
		time.Sleep(30 * time.Minute)
		err := sim.SetLatarnia(ksefsim.LatarniaControl{Status: "FAILURE", Messages: []ksefsim.LatarniaMessage{{
			Title: "Awaria", Text: "Od rana.", Start: start.Add(5 * time.Minute).UTC().Format(time.RFC3339)}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Check(ctx); err != nil {
			t.Fatal(err)
		}
		c := tr.ModeAt(claimed)
		if c.Mode != offline.Failure || !c.Outage.Start.Equal(start.Add(5*time.Minute)) || !c.Outage.End.IsZero() {
			t.Fatalf("ModeAt = %+v", c)
		}
		if d, err := offline.Compute(c.Mode, claimed, c.Outage, nil); err != nil || !d.Open {
			t.Errorf("deadline = %v, %v; want open while the failure lasts", d, err)
		}
		if fs := tr.Failures(); len(fs) != 1 || !fs[0].Start.Equal(c.Outage.Start) {
			t.Errorf("Failures = %v", fs)
		}
	})
}

func TestSimulatorAdminValidates(t *testing.T) {
	sim := startSim(t)
	admin := strings.TrimSuffix(sim.URL(), "/v2") + "/admin/latarnia"
	for _, body := range []string{
		`{"status": "BROKEN"}`,
		`{"status": "FAILURE", "messages": [{"title": "no text"}]}`,
		`{"status": "FAILURE", "messages": [{"title": "t", "text": "x", "start": "yesterday"}]}`,
		`{"status": "FAILURE", "extra": 1}`,
	} {
		resp, err := http.Post(admin, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", body, resp.StatusCode)
		}
	}
	resp, err := http.Post(admin, "application/json", strings.NewReader(`{"status": "MAINTENANCE", "messages": [{"title": "Prace", "text": "Prace planowe"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	r, err := NewClient(latarniaURL(sim), nil).Status(context.Background())
	if err != nil || r.Status != StatusMaintenance || r.Messages[0].Category != "MAINTENANCE" {
		t.Fatalf("Status = %+v, %v", r, err)
	}
	if err := sim.SetLatarnia(ksefsim.LatarniaControl{Status: "AVAILABLE", HTML: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(latarniaURL(sim), nil).Status(context.Background()); !errors.Is(err, ErrGarbled) {
		t.Errorf("HTML answer: err = %v", err)
	}
}
