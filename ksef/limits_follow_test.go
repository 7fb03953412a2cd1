package ksef

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestLoweredLimitsAdoptedAfterA429: KSeF halves the context's limits after the client read them
// (limity-api.md §5: "dopuszcza się ich czasowe obniżenie"). The first 429 makes the table due again
// a minute after the last read; the read adopts the halved values, and from then on the pacer keeps
// under them: no 429 after it, though the calls go on for minutes.
func TestLoweredLimitsAdoptedAfterA429(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "production"}, nil)
	s := e.openOnline()
	if read, err := e.c.RefreshLimitsIfDue(e.ctx); !read || err != nil {
		t.Fatalf("first read: read=%v err=%v", read, err)
	}
	if err := e.sim.SetContextRateLimit(testNIP, GroupSessionMisc, 5, 60, 600); err != nil {
		t.Fatal(err)
	}
	readAt := -1 // index in the exchanges of the re-read
	for range 240 {
		if _, err := e.c.SessionStatus(e.ctx, s.ReferenceNumber); err != nil {
			t.Fatal(err)
		}
		read, err := e.c.RefreshLimitsIfDue(e.ctx) // as the daemon's followRateLimits does
		if err != nil {
			t.Fatal(err)
		}
		if read && readAt < 0 {
			readAt = len(e.rt.all()) - 1
		}
	}
	if readAt < 0 {
		t.Fatal("the rate table was never read again after KSeF's 429")
	}
	ex := e.rt.all()
	if !strings.HasSuffix(ex[readAt].path, "/rate-limits") {
		t.Fatalf("exchange %d is %s, want the re-read", readAt, ex[readAt].path)
	}
	before, after := count429(ex[:readAt]), count429(ex[readAt:])
	if before == 0 || after != 0 {
		t.Errorf("429s before the re-read %d (want some), after it %d (want none)", before, after)
	}
	if got := e.c.Limits()[GroupSessionMisc]; got != (Limit{5, 60, 600}) {
		t.Errorf("sessionMisc adopted %+v, want the halved 5/60/600", got)
	}
}

func count429(ex []exchange) int {
	n := 0
	for _, x := range ex {
		if x.status == 429 {
			n++
		}
	}
	return n
}

// TestLimitsReadHourly: without a 429 the table is read again an hour after the last read, not
// before, and a context whose invoiceSend limit KSeF raised gets the larger hourly share.
func TestLimitsReadHourly(t *testing.T) {
	e := newEnv(t, ksefsim.Options{RateLimits: "production"}, nil)
	if share := e.c.HourlyShare(GroupInvoiceSend, OnlineSendsPerHour); share != OurShare(OnlineSendsPerHour) {
		t.Fatalf("before any read: share %d, want %d", share, OurShare(OnlineSendsPerHour))
	}
	if read, err := e.c.RefreshLimitsIfDue(e.ctx); !read || err != nil {
		t.Fatalf("first read: read=%v err=%v", read, err)
	}
	if err := e.sim.SetContextRateLimit(testNIP, GroupInvoiceSend, 10, 30, 360); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(LimitsRereadEvery - time.Second)
	if read, _ := e.c.RefreshLimitsIfDue(e.ctx); read {
		t.Fatal("read again before the hour was up")
	}
	e.clk.Advance(time.Second)
	if read, err := e.c.RefreshLimitsIfDue(e.ctx); !read || err != nil {
		t.Fatalf("hourly read: read=%v err=%v", read, err)
	}
	if share := e.c.HourlyShare(GroupInvoiceSend, OnlineSendsPerHour); share != OurShare(360) {
		t.Errorf("after KSeF raised invoiceSend to 360/h: share %d, want %d", share, OurShare(360))
	}
}

// TestUnknownRateGroups: groups KSeF adds to GET /rate-limits do not break the read. The session
// close groups MF announced (CIRFMF/ksef-api #863) take the closes once reported; groups we cannot
// place ("anonymous", "global" of a comment there) and members that are no limits are kept or
// skipped without effect.
func TestUnknownRateGroups(t *testing.T) {
	example := specExample(t, "GET", "/rate-limits")
	c := answering(t, answerJSON(200, `{"onlineSessionClose": {"perSecond": 20, "perMinute": 60, "perHour": 240}, `+
		`"batchSessionClose": {"perSecond": 20, "perMinute": 40, "perHour": 120}, "anonymous": {"perSecond": 60}, `+
		`"global": {"perSecond": 100, "perMinute": 1000, "perHour": 10000}, "nightLimits": true, `+
		strings.TrimPrefix(strings.TrimSpace(example), "{")))
	onlineClose, batchClose := "/sessions/online/20250918-SO-3789A40000-20373E1269-A3/close", "/sessions/batch/20250918-SB-3789A40000-20373E1269-A3/close"
	if g := c.pacer.groupOf("POST", onlineClose); g != GroupOnlineSession {
		t.Errorf("before KSeF reports a close group, an online close is in %q, want %q", g, GroupOnlineSession)
	}
	if err := c.RefreshLimits(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Limits()[GroupInvoiceExport]; got != (Limit{PerSecond: 8, PerMinute: 16, PerHour: 20}) {
		t.Errorf("invoiceExport %+v", got)
	}
	for path, want := range map[string]string{onlineClose: GroupOnlineSessionClose, batchClose: GroupBatchSessionClose, "/sessions/online": GroupOnlineSession, "/sessions/batch": GroupBatchSession} {
		if g := c.pacer.groupOf("POST", path); g != want {
			t.Errorf("POST %s in %q, want %q", path, g, want)
		}
	}
	if got := c.Limits()[GroupOnlineSessionClose]; got != (Limit{20, 60, 240}) {
		t.Errorf("onlineSessionClose %+v", got)
	}
}
