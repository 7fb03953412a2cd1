package availability

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

type countingObserver struct{ requests int }

func (c *countingObserver) Request(string, int, time.Duration) { c.requests++ }
func (c *countingObserver) PacerWait(string, time.Duration)    {}

// TestObserverFedByTheClient wires the tracker into the real KSeF client as ksef.Options.Observer:
// an API outage the status service does not announce becomes "unavailable, not announced", and the
// first answer after it makes KSeF available again.
func TestObserverFedByTheClient(t *testing.T) {
	sim := startSim(t)
	tr := NewTracker(NewClient(latarniaURL(sim), nil), Options{FailThreshold: 1})
	if err := tr.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	metrics := &countingObserver{}
	c, err := ksef.New(ksef.Options{BaseURL: sim.URL(), Context: ksef.ContextIdentifier{Type: "Nip", Value: "5265877635"},
		Auth: ksef.TokenAuth{Token: sim.Token("5265877635")}, Observer: Observer(tr, metrics)})
	if err != nil {
		t.Fatal(err)
	}
	sim.SetFaults(ksefsim.Faults{Outage: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.PublicKeys(ctx); err == nil {
		t.Fatal("PublicKeys succeeded during the outage")
	}
	s := tr.Snapshot()
	// The client retries the 503s until the context ends, so on a slow machine the last error seen may
	// be that deadline rather than the 503 itself; either is an outage we observed.
	if s.State != Unannounced || !(strings.Contains(s.LastError, "HTTP 503") || strings.Contains(s.LastError, "did not answer")) {
		t.Fatalf("during the outage: %v", s)
	}
	if !strings.HasPrefix(s.String(), "unavailable, not announced since ") {
		t.Errorf("String() = %q", s)
	}
	sim.SetFaults(ksefsim.Faults{})
	if _, err := c.PublicKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := tr.Snapshot(); s.State != Available {
		t.Errorf("after the outage: %v", s)
	}
	if metrics.requests < 2 {
		t.Errorf("the next observer heard %d requests", metrics.requests)
	}
}
