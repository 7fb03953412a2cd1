package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestPullOneOffBareDatesAreDaysInPoland drives `pull -since D1 -until D2 -out DIR` with bare dates,
// as README's Commands table shows them: the range is every invoice stored from the start of D1 to
// the end of D2 in Poland, the days the inbox's {yyyy}/{mm} folders count in. Read as UTC midnights,
// -until left out the whole last day and -since the first hour of the first one.
func TestPullOneOffBareDatesAreDaysInPoland(t *testing.T) {
	p := newPullE2E(t, 0, time.Now().AddDate(0, 0, -40), "")
	n := time.Now().In(plzone.Warsaw).AddDate(0, 0, -20)
	last := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, plzone.Warsaw) // D2, midnight in Poland
	first := last.AddDate(0, 0, -2)                                            // D1
	at := func(day time.Time, h, m int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}

	want := p.seed("sales", []time.Time{
		at(first, 0, 30), // the first half hour of D1 in Poland: still D1-1 in UTC
		at(last, 12, 0),  // midday of the last day
		at(last, 23, 30), // the last half hour of D2 in Poland
	})
	p.seed("sales", []time.Time{
		at(first, -1, 0),                 // 23:00 the day before D1
		at(last.AddDate(0, 0, 1), 0, 30), // after D2 in Poland, though still D2 in UTC
	})
	out := filepath.Join(p.dir, "redownload")
	res := p.pull(pullHangGuard, "-since", first.Format("2006-01-02"), "-until", last.Format("2006-01-02"), "-out", out)
	if !strings.Contains(res, "written: 3\n") {
		t.Errorf("one-off output:\n%s", res)
	}
	assertPullInbox(t, out, want)
	assertPullInbox(t, p.inbox, nil)
}

// TestPullWaitsOutA429 puts KSeF's 429 (open-api.json: TooManyRequestsResponse with Retry-After in
// seconds, on POST /invoices/exports and GET /invoices/exports/{referenceNumber}) in front of the
// simulator for the first export start and the first status question: `pull` waits Retry-After and
// goes on in the same cycle, with every invoice in the inbox once and no subject left behind. A 429
// is KSeF refusing the request, so the refused start is not an export and is not repeated twice.
func TestPullWaitsOutA429(t *testing.T) {
	p := newPullE2E(t, 0, time.Now().AddDate(0, 0, -10), "")
	want := p.seedBoth(time.Now().Add(-5*24*time.Hour), time.Hour, time.Minute, 3, 2)

	cfg := string(testutil.ReadFile(t, p.cfgPath))
	i := strings.Index(cfg, "url = \"")
	upstream, _, _ := strings.Cut(cfg[i+len("url = \""):], "\"")
	target, err := url.Parse(strings.TrimSuffix(upstream, "/v2"))
	if err != nil {
		t.Fatal(err)
	}
	fwd := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	refused := map[string]int{}
	limiter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := ""
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v2/invoices/exports":
			kind = "start"
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/invoices/exports/"):
			kind = "status"
		}
		mu.Lock()
		first := kind != "" && refused[kind] == 0
		if first {
			refused[kind]++
		}
		mu.Unlock()
		if !first {
			fwd.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"status":{"code":429,"description":"Too Many Requests","details":["Przekroczono limit 20 żądań na godzinę. Spróbuj ponownie po 1 sekundach."]}}`)
	}))
	t.Cleanup(limiter.Close)
	editConfig(t, p.cfgPath, upstream, limiter.URL+"/v2")

	res := p.pull(pullHangGuard)
	if !strings.Contains(res, "written: 5\n") || strings.Contains(res, "behind") {
		t.Errorf("pull output:\n%s", res)
	}
	mu.Lock()
	if refused["start"] != 1 || refused["status"] != 1 {
		t.Errorf("429s answered: %v, want one start and one status", refused)
	}
	mu.Unlock()
	if n := p.exports.count(); n != 2 {
		t.Errorf("exports started at KSeF: %d, want 2 (one per subject)", n)
	}
	assertPullInbox(t, p.inbox, want)
	p.assertClean()
}

// TestPullDeliversAKSeFNumberOncePerCompany pins README's Inbox section: an invoice the company
// both sold and bought (KSeF lists it for Subject1 and Subject2) lands once, under the first
// subject of pull.subjects, so the ERP does not import it twice; a second pull writes nothing.
func TestPullDeliversAKSeFNumberOncePerCompany(t *testing.T) {
	p := newPullE2E(t, 0, time.Now().AddDate(0, 0, -10), "")
	day := time.Now().Add(-5 * 24 * time.Hour)
	seeded, err := p.sim.Seed(ksefsim.SeedsBetween(testNIP, testNIP, day)...)
	if err != nil {
		t.Fatal(err)
	}
	want := []pullSeeded{{SeededInvoice: seeded[0], subject: "cost", ps: day}} // cost is listed first
	want = append(want, p.seedBoth(day.Add(time.Hour), time.Hour, time.Minute, 1, 1)...)

	if res := p.pull(pullHangGuard); !strings.Contains(res, "written: 3\n") || !strings.Contains(res, "already delivered: 1\n") {
		t.Errorf("first pull:\n%s", res)
	}
	if res := p.pull(pullHangGuard); !strings.Contains(res, "written: 0\n") {
		t.Errorf("second pull:\n%s", res)
	}
	assertPullInbox(t, p.inbox, want)
	p.assertClean()
}
