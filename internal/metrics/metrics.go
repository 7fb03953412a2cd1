// Package metrics exposes ksef-sync's Prometheus metrics.
//
// Journal-derived numbers (invoices by outcome, the queue, last successes, cursor lag) are read at
// scrape time from the same status document `ksef-sync status -json` prints, as const metrics: the
// journal is the single source of truth and its rows only move forward, so the totals behave as
// counters across restarts. KSeF request metrics are fed live through KSeF (an observer the client
// calls after each request).
package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ksef-sync/ksef-sync/internal/status"
)

const ns = "ksef_sync"

// Source returns the current status document.
type Source func(ctx context.Context) (*status.Report, error)

// Metrics owns the registry.
type Metrics struct {
	Registry *prometheus.Registry
	KSeF     *KSeF
}

// New registers the journal collector for src, the KSeF request metrics and the Go runtime ones.
func New(src Source) *Metrics {
	reg := prometheus.NewRegistry()
	k := newKSeF()
	reg.MustRegister(&journalCollector{src: src}, k.requests, k.duration, k.rateLimited, k.pacerWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{Registry: reg, KSeF: k}
}

var (
	descInvoices = prometheus.NewDesc(ns+"_invoices_total",
		"Invoices with a final KSeF verdict (or refused locally), by outcome.", []string{"company", "outcome"}, nil)
	descQueue = prometheus.NewDesc(ns+"_queue_invoices",
		"Invoices in the journal by state.", []string{"company", "state"}, nil)
	descLastSuccess = prometheus.NewDesc(ns+"_last_success_timestamp_seconds",
		"Unix time of the last successful send (outputs written) or pull.", []string{"company", "job"}, nil)
	descCursorLag = prometheus.NewDesc(ns+"_pull_cursor_lag_seconds",
		"How far each pull cursor is behind now.", []string{"company", "subject"}, nil)
	descAvailable = prometheus.NewDesc(ns+"_ksef_available",
		"1 when KSeF answered the daemon's last request, 0 when it did not.", []string{"company"}, nil)
	descCredsExpiry = prometheus.NewDesc(ns+"_credentials_expiry_timestamp_seconds",
		"Unix time at which the configured credentials stop working.", []string{"company"}, nil)
	descUp = prometheus.NewDesc(ns+"_journal_up",
		"1 when the journal could be read for this scrape.", nil, nil)
)

// journalCollector turns the status document into metrics at scrape time.
type journalCollector struct{ src Source }

func (c *journalCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInvoices, descQueue, descLastSuccess, descCursorLag, descAvailable, descCredsExpiry, descUp} {
		ch <- d
	}
}

func (c *journalCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := c.src(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	now, _ := time.Parse(time.RFC3339, rep.GeneratedAt)
	for i := range rep.Companies {
		collectCompany(ch, &rep.Companies[i], now)
	}
}

func collectCompany(ch chan<- prometheus.Metric, co *status.Company, now time.Time) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ch <- prometheus.MustNewConstMetric(descInvoices, prometheus.CounterValue, float64(co.Invoices.Accepted), co.NIP, "accepted")
	ch <- prometheus.MustNewConstMetric(descInvoices, prometheus.CounterValue, float64(co.Invoices.Rejected), co.NIP, "rejected")
	for _, st := range status.States {
		gauge(descQueue, float64(co.Queue[string(st)]), co.NIP, string(st))
	}
	for job, v := range map[string]string{"send": co.LastSend, "pull": co.LastPull} {
		if t, ok := parseTime(v); ok {
			gauge(descLastSuccess, unix(t), co.NIP, job)
		}
	}
	for subject, v := range co.Cursors {
		if t, ok := parseTime(v); ok && !now.IsZero() {
			gauge(descCursorLag, max(now.Sub(t).Seconds(), 0), co.NIP, subject)
		}
	}
	switch co.KSeF.State {
	case "reachable":
		gauge(descAvailable, 1, co.NIP)
	case "unreachable":
		gauge(descAvailable, 0, co.NIP)
	}
	if t, err := time.Parse("2006-01-02", co.CredsExpires); err == nil {
		gauge(descCredsExpiry, unix(t), co.NIP)
	}
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// KSeF records the client's requests. Its methods match the ksef client's observer hook.
type KSeF struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	pacerWait   *prometheus.CounterVec
}

func newKSeF() *KSeF {
	return &KSeF{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ksef_requests_total",
			Help: "Requests to KSeF by endpoint group and HTTP status code (\"error\" when no answer came)."}, []string{"group", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "ksef_request_duration_seconds",
			Help: "Duration of requests to KSeF by endpoint group.", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10)}, []string{"group"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rate_limited_total",
			Help: "429 answers received from KSeF by endpoint group."}, []string{"group"}),
		pacerWait: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "pacer_wait_seconds_total",
			Help: "Time spent waiting for our own rate-limit budget by endpoint group."}, []string{"group"}),
	}
}

// Request records one request; status 0 means no HTTP answer (connection refused, timeout).
func (k *KSeF) Request(group string, status int, d time.Duration) {
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	k.requests.WithLabelValues(group, code).Inc()
	k.duration.WithLabelValues(group).Observe(d.Seconds())
	if status == 429 {
		k.rateLimited.WithLabelValues(group).Inc()
	}
}

// PacerWait records time spent waiting for a free slot in our own budget.
func (k *KSeF) PacerWait(group string, d time.Duration) {
	k.pacerWait.WithLabelValues(group).Add(d.Seconds())
}
