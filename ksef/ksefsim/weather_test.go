package ksefsim

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseKindFaults(t *testing.T) {
	got, err := ParseKindFaults("html5xx:0.1, waf403:0.2@auth+invoiceSend,storage-html:1")
	if err != nil {
		t.Fatal(err)
	}
	want := []KindFault{{Kind: FaultHTML5xx, Rate: 0.1}, {Kind: FaultWAF403, Rate: 0.2, Groups: []string{"auth", "invoiceSend"}}, {Kind: FaultStorageHTML, Rate: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"html5xx", "fog:0.1", "waf403:2"} {
		if _, err := ParseKindFaults(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseDelayDist(t *testing.T) {
	d, err := ParseDelayDist("lognormal:500ms,20s")
	if err != nil || d != (DelayDist{Kind: "lognormal", Median: 500 * time.Millisecond, P99: 20 * time.Second}) {
		t.Fatalf("%+v %v", d, err)
	}
	for _, bad := range []string{"lognormal:5s,1s", "uniform:1s,2s", "lognormal:1s"} {
		if _, err := ParseDelayDist(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDelayDistLongTail: samples have the promised median and p99, within sampling error.
func TestDelayDistLongTail(t *testing.T) {
	d := DelayDist{Kind: "lognormal", Median: time.Second, P99: 30 * time.Second}
	const n = 20000
	xs := make([]time.Duration, n)
	for i := range xs {
		xs[i] = d.sample(0)
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	if med := xs[n/2]; med < 900*time.Millisecond || med > 1100*time.Millisecond {
		t.Errorf("median %s, want ~1s", med)
	}
	if p99 := xs[n*99/100]; p99 < 22*time.Second || p99 > 40*time.Second {
		t.Errorf("p99 %s, want ~30s", p99)
	}
}

// TestOnlineOutOfOrderCompletion: with a long-tailed delay, invoices sent in one order finish in
// another, and each stays 100/150 until its own time.
func TestOnlineOutOfOrderCompletion(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now, DelayDist: DelayDist{Kind: "lognormal", Median: 10 * time.Second, P99: 10 * time.Minute}})
	access, _ := login(t, s, testNIP)
	sess, k := openOnline(t, s, access)
	var refs []string
	for i := range 20 {
		refs = append(refs, sendInvoice(t, s, access, sess, k, sampleInvoice(t, testNIP, fmt.Sprintf("OOO/%d", i))))
	}
	done := map[string]bool{}
	var order []int
	// The tail is long (p99 10 minutes) and unbounded: poll every 5 s for the first 10 minutes, then
	// every 5 minutes for up to a simulated week, so no draw of the distribution outlasts the loop.
	loggedIn := c.Now()
	for step := 0; len(done) < len(refs) && step < 2200; step++ {
		for i, ref := range refs {
			if done[ref] {
				continue
			}
			code := statusCode(invoiceStatus(t, s, access, sess, ref))
			if code == 200 {
				done[ref] = true
				order = append(order, i)
			} else if code != 100 && code != 150 {
				t.Fatalf("invoice %d: status %d", i, code)
			}
		}
		if step < 120 {
			c.Advance(5 * time.Second)
		} else {
			c.Advance(5 * time.Minute)
		}
		if c.Now().Sub(loggedIn) > 10*time.Minute { // the access token lives 15 minutes
			access, _ = login(t, s, testNIP)
			loggedIn = c.Now()
		}
	}
	if len(order) != len(refs) {
		t.Fatalf("%d of %d invoices finished", len(order), len(refs))
	}
	if sort.IntsAreSorted(order) {
		t.Fatalf("completion order %v is the sending order", order)
	}
}
