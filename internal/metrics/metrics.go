// Package metrics exposes ksef-sync's Prometheus metrics.
//
// Journal-derived numbers (invoices by outcome, the queue, last successes, cursor lag) are read at
// scrape time from the same status document `ksef-sync status -json` prints, as const metrics: the
// journal is the single source of truth and its rows only move forward, so the totals behave as
// counters across restarts. KSeF request metrics are fed live through KSeF.For(company) (an
// observer each company's client calls after each request).
//
// The `company` label is the configured company name ("default" in the single-company form), as
// in logs and status; journal-derived metrics carry the company's `nip` beside it.
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
		"Invoices with a final KSeF verdict (or refused locally), by outcome.", []string{"company", "nip", "outcome"}, nil)
	descQueue = prometheus.NewDesc(ns+"_queue_invoices",
		"Invoices in the journal by state.", []string{"company", "nip", "state"}, nil)
	descLastSuccess = prometheus.NewDesc(ns+"_last_success_timestamp_seconds",
		"Unix time of the last successful send (outputs written) or pull.", []string{"company", "nip", "job"}, nil)
	descCursorLag = prometheus.NewDesc(ns+"_pull_cursor_lag_seconds",
		"How far each pull cursor is behind now.", []string{"company", "nip", "subject"}, nil)
	descAvailable = prometheus.NewDesc(ns+"_ksef_available",
		"1 when KSeF answered the daemon's last request, 0 when it did not.", []string{"company", "nip"}, nil)
	descCredsExpiry = prometheus.NewDesc(ns+"_credentials_expiry_timestamp_seconds",
		"Unix time at which the configured credentials stop working.", []string{"company", "nip"}, nil)
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
	// Every series of a company is labelled with its name and NIP, in that order, then extra.
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, append([]string{co.Name, co.NIP}, extra...)...)
	}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) { emit(d, prometheus.GaugeValue, v, extra...) }
	emit(descInvoices, prometheus.CounterValue, float64(co.Invoices.Accepted), "accepted")
	emit(descInvoices, prometheus.CounterValue, float64(co.Invoices.Rejected), "rejected")
	for _, st := range status.States {
		gauge(descQueue, float64(co.Queue[string(st)]), string(st))
	}
	for job, v := range map[string]string{"send": co.LastSend, "pull": co.LastPull} {
		if t, ok := parseTime(v); ok {
			gauge(descLastSuccess, unix(t), job)
		}
	}
	for subject, v := range co.Cursors {
		if t, ok := parseTime(v); ok && !now.IsZero() {
			gauge(descCursorLag, max(now.Sub(t).Seconds(), 0), subject)
		}
	}
	switch co.KSeF.State {
	case "reachable":
		gauge(descAvailable, 1)
	case "unreachable":
		gauge(descAvailable, 0)
	}
	if t, err := time.Parse("2006-01-02", co.CredsExpires); err == nil {
		gauge(descCredsExpiry, unix(t))
	}
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// KSeF holds the KSeF request metrics of every company; For gives one company's observer.
type KSeF struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	pacerWait   *prometheus.CounterVec
}

func newKSeF() *KSeF {
	return &KSeF{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ksef_requests_total",
			Help: "Requests to KSeF by company, endpoint group and HTTP status code (\"error\" when no answer came)."}, []string{"company", "group", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "ksef_request_duration_seconds",
			Help: "Duration of requests to KSeF by company and endpoint group.", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10)}, []string{"company", "group"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rate_limited_total",
			Help: "429 answers received from KSeF by company and endpoint group."}, []string{"company", "group"}),
		pacerWait: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "pacer_wait_seconds_total",
			Help: "Time spent waiting for our own rate-limit budget by company and endpoint group."}, []string{"company", "group"}),
	}
}

// For returns the observer of company's KSeF client (its methods match the ksef client's observer
// hook): KSeF's limits count per context, so each company's requests and waits are its own series.
func (k *KSeF) For(company string) *CompanyKSeF { return &CompanyKSeF{k: k, company: company} }

// CompanyKSeF records one company's KSeF requests.
type CompanyKSeF struct {
	k       *KSeF
	company string
}

// Request records one request; status 0 means no HTTP answer (connection refused, timeout).
func (c *CompanyKSeF) Request(group string, status int, d time.Duration) {
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	c.k.requests.WithLabelValues(c.company, group, code).Inc()
	c.k.duration.WithLabelValues(c.company, group).Observe(d.Seconds())
	if status == 429 {
		c.k.rateLimited.WithLabelValues(c.company, group).Inc()
	}
}

// PacerWait records time spent waiting for a free slot in our own budget.
func (c *CompanyKSeF) PacerWait(group string, d time.Duration) {
	c.k.pacerWait.WithLabelValues(c.company, group).Add(d.Seconds())
}
