package availability

import (
	"fmt"
	"net/http"
	"time"
)

// RequestObserver is the shape of ksef.Observer (ksef.Options.Observer), declared here so this
// package does not import the client.
type RequestObserver interface {
	Request(group string, status int, d time.Duration)
	PacerWait(group string, d time.Duration)
}

// Observer returns a ksef.Observer that feeds t from every KSeF API request and passes everything
// on to next (the metrics observer; may be nil). No answer (status 0) and 500/502/503/504 count as
// KSeF not answering; any other status, 4xx and 429 included, is KSeF answering. Pre-signed storage
// transfers (group "storage") say nothing about the API and are not counted.
func Observer(t *Tracker, next RequestObserver) RequestObserver {
	return &observer{t: t, next: next}
}

type observer struct {
	t    *Tracker
	next RequestObserver
}

func (o *observer) Request(group string, status int, d time.Duration) {
	if group != "storage" {
		switch status {
		case 0:
			o.t.Observe(false, fmt.Errorf("KSeF (%s) did not answer", group), o.t.opts.Now())
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			o.t.Observe(false, fmt.Errorf("KSeF (%s) answered HTTP %d", group, status), o.t.opts.Now())
		default:
			o.t.Observe(true, nil, o.t.opts.Now())
		}
	}
	if o.next != nil {
		o.next.Request(group, status, d)
	}
}

func (o *observer) PacerWait(group string, d time.Duration) {
	if o.next != nil {
		o.next.PacerWait(group, d)
	}
}
