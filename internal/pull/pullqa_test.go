package pull

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
)

// TestPullOutageDoesNotSpendTheExportBudget: while KSeF answers the maintenance page (503, not
// JSON) on GET /security/public-key-certificates, the export request is never sent, so it must not
// take one of the 20 exports an hour (open-api.json, POST /invoices/exports: "20 req / h,
// invoiceExport"), or a long outage used up the hour for nothing; the cycle leaves the subject
// behind and the next one, after the outage, delivers everything once.
func TestPullOutageDoesNotSpendTheExportBudget(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	seeded := e.seed("cost", spread(now.Add(-time.Hour), time.Minute, 2)...)
	var down atomic.Bool
	down.Store(true)
	h := e.sim.Handler()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() && strings.HasSuffix(r.URL.Path, "/security/public-key-certificates") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<html><body>Przerwa techniczna</body></html>"))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	o := e.stepped(now.Add(-2*time.Hour), "cost")
	c, err := ksef.New(ksef.Options{BaseURL: proxy.URL + "/v2", Context: ksef.ContextIdentifier{Type: "Nip", Value: pullNIP},
		Auth: ksef.TokenAuth{Token: e.sim.Token(pullNIP)}, Clock: o.Clock})
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingClient{Client: c}
	o.Client = cc

	st, err := e.pull(o)
	if err != nil || len(st.Behind) != 1 || st.Exports != 0 {
		t.Fatalf("during the outage: stats %+v, err %v; want cost behind and no export", st, err)
	}
	if got := budgetUsed(t, e); got != 0 {
		t.Errorf("budget records %d exports after an outage that let none through, want 0", got)
	}
	down.Store(false)
	if st, err = e.pull(o); err != nil || st.Written != 2 {
		t.Fatalf("after the outage: %+v, %v", st, err)
	}
	assertInbox(t, e.inbox, seeded)
	if got := budgetUsed(t, e); got != 1 {
		t.Errorf("budget records %d exports, want 1", got)
	}
}

// TestPullAbandonsAHungExportOnTimeWithTheDefaultPoll: with the default poll interval (2 s) and
// export timeout (20 min), a hung export must be given up after 20 minutes, as README's "When KSeF
// misbehaves" promises. Polled every 2 s, it spent our share of GET /invoices/exports/{ref}'s 600
// requests an hour (open-api.json, group invoiceExportStatus: 10/s, 60/min, 600/h) after 18
// minutes, and the pacer then held the next question for about 40 more: abandoned after an hour.
func TestPullAbandonsAHungExportOnTimeWithTheDefaultPoll(t *testing.T) {
	e := newPullEnv(t)
	now := e.clock.Now()
	e.seed("cost", now.Add(-time.Hour))
	e.sim.HangExports(1)
	o := e.stepped(now.Add(-2*time.Hour), "cost")
	o.Poll = 2 * time.Second

	st, err := e.pull(o)
	if err != nil || len(st.Behind) != 1 {
		t.Fatalf("stats %+v, err %v; want cost behind", st, err)
	}
	if took := e.clock.Now().Sub(now); took > 21*time.Minute {
		t.Errorf("the hung export was abandoned after %s, want about the 20m export timeout", took)
	}
}
