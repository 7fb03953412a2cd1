package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ksef-sync/ksef-sync/internal/status"
)

func TestKSeFRequests(t *testing.T) {
	m := New(func(context.Context) (*status.Report, error) { return nil, errors.New("no journal") })
	acme, beta := m.KSeF.For("acme"), m.KSeF.For("beta")
	acme.Request("invoiceSend", 200, 30*time.Millisecond)
	acme.Request("invoiceSend", 429, time.Millisecond)
	acme.Request("invoiceSend", 0, 10*time.Second)
	acme.PacerWait("invoiceSend", 1500*time.Millisecond)
	acme.PacerWait("invoiceSend", 500*time.Millisecond)
	beta.Request("invoiceSend", 200, time.Millisecond)
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.KSeF.requests.WithLabelValues("acme", "invoiceSend", "200")), 1, "200"},
		{testutil.ToFloat64(m.KSeF.requests.WithLabelValues("acme", "invoiceSend", "429")), 1, "429"},
		{testutil.ToFloat64(m.KSeF.requests.WithLabelValues("acme", "invoiceSend", "error")), 1, "no answer"},
		{testutil.ToFloat64(m.KSeF.rateLimited.WithLabelValues("acme", "invoiceSend")), 1, "rate limited"},
		{testutil.ToFloat64(m.KSeF.pacerWait.WithLabelValues("acme", "invoiceSend")), 2, "pacer wait seconds"},
		{testutil.ToFloat64(m.KSeF.requests.WithLabelValues("beta", "invoiceSend", "200")), 1, "beta's own 200"},
		{testutil.ToFloat64(m.KSeF.rateLimited.WithLabelValues("beta", "invoiceSend")), 0, "beta not rate limited"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	// A journal that cannot be read is a metric, not a failed scrape.
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP ksef_sync_journal_up 1 when the journal could be read for this scrape.
# TYPE ksef_sync_journal_up gauge
ksef_sync_journal_up 0
`), "ksef_sync_journal_up"); err != nil {
		t.Error(err)
	}
}

func TestJournalMetrics(t *testing.T) {
	rep := &status.Report{GeneratedAt: "2026-12-02T12:00:00Z", Companies: []status.Company{{Name: "acme",
		Headline: status.Headline{NIP: "5265877635", Queue: map[string]int{"ready": 2}, LastSend: "2026-12-02T11:59:00Z"},
		Invoices: status.Counts{Accepted: 20, Rejected: 5},
		Standing: status.Standing{Cursors: map[string]string{"cost": "2026-12-02T11:00:00Z"}, CredsExpires: "2027-01-01"},
		KSeF:     status.KSeF{State: "unreachable"}}}}
	m := New(func(context.Context) (*status.Report, error) { return rep, nil })
	want := `
# HELP ksef_sync_invoices_total Invoices with a final KSeF verdict (or refused locally), by outcome.
# TYPE ksef_sync_invoices_total counter
ksef_sync_invoices_total{company="acme",nip="5265877635",outcome="accepted"} 20
ksef_sync_invoices_total{company="acme",nip="5265877635",outcome="rejected"} 5
# HELP ksef_sync_ksef_available 1 when KSeF answered the daemon's last request, 0 when it did not.
# TYPE ksef_sync_ksef_available gauge
ksef_sync_ksef_available{company="acme",nip="5265877635"} 0
# HELP ksef_sync_pull_cursor_lag_seconds How far each pull cursor is behind now.
# TYPE ksef_sync_pull_cursor_lag_seconds gauge
ksef_sync_pull_cursor_lag_seconds{company="acme",nip="5265877635",subject="cost"} 3600
# HELP ksef_sync_last_success_timestamp_seconds Unix time of the last successful send (outputs written) or pull.
# TYPE ksef_sync_last_success_timestamp_seconds gauge
ksef_sync_last_success_timestamp_seconds{company="acme",job="send",nip="5265877635"} 1.79621274e+09
# HELP ksef_sync_credentials_expiry_timestamp_seconds Unix time at which the configured credentials stop working.
# TYPE ksef_sync_credentials_expiry_timestamp_seconds gauge
ksef_sync_credentials_expiry_timestamp_seconds{company="acme",nip="5265877635"} 1.7987616e+09
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "ksef_sync_invoices_total",
		"ksef_sync_ksef_available", "ksef_sync_pull_cursor_lag_seconds", "ksef_sync_last_success_timestamp_seconds",
		"ksef_sync_credentials_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry, "ksef_sync_queue_invoices"); err != nil || n != len(status.States) {
		t.Errorf("queue series %d (%v), want one per state", n, err)
	}
}
