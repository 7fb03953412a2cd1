package engine

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/spool"
)

// withIssueDate replaces the invoice's P_1 with the given text.
func withIssueDate(data []byte, p1 string) []byte {
	return regexp.MustCompile(`<P_1>[^<]*</P_1>`).ReplaceAll(data, []byte("<P_1>"+p1+"</P_1>"))
}

// TestOutputsDoNotDependOnIssueDate: an invoice KSeF registered gets its outputs even when its
// recorded P_1 is not a plain date; issueDate is written as it is (issue 11, item 1). Local
// validation now refuses such dates, so the test records them the way an older version did.
func TestOutputsDoNotDependOnIssueDate(t *testing.T) {
	for _, p1 := range []string{"2026-12-02+01:00", "2026-13-45"} {
		t.Run(p1, func(t *testing.T) {
			h := newHarness(t, SendSettings{})
			h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "P1")))
			ready, err := h.journal.ByState(h.ctx, nip, spool.StateReady)
			if err != nil || len(ready) != 1 {
				t.Fatalf("ready = %d, %v", len(ready), err)
			}
			r := ready[0]
			// Back to what validation once recorded: the same bytes, P_1 as written.
			if err := h.journal.Defer(h.ctx, []int64{r.ID}, func(int) time.Time { return time.Time{} }); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", filepath.Join(h.folders.State, "journal.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(h.ctx, `UPDATE invoices SET issue_date = ? WHERE id = ?`, p1, r.ID); err != nil {
				t.Fatal(err)
			}
			done := h.settle()
			if len(done) != 1 || done[0].Outcome != "accepted" {
				t.Fatalf("done = %+v", done)
			}
			rec := h.sentRecord("FV_1")
			if rec.IssueDate != p1 || rec.KsefNumber != done[0].KsefNumber {
				t.Errorf("record issueDate %q ksefNumber %q, want %q %q", rec.IssueDate, rec.KsefNumber, p1, done[0].KsefNumber)
			}
		})
	}
}

// TestFailingOutputsBackOff: outputs that keep failing are retried after 2 s, 4 s, … (not at every
// poll) and written once the cause is gone.
func TestFailingOutputsBackOff(t *testing.T) {
	h := newHarness(t, SendSettings{})
	clk := testutil.NewClock(time.Now())
	h.eng.now = clk.Now
	// sent/ is a file: nothing can be written into it.
	if err := os.Remove(h.folders.Sent); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.folders.Sent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.eng.intake(h.ctx, h.drop("FV_1.xml", inv(1, "BACKOFF")))
	// Let KSeF (the simulator, in real time) register the invoice while our clock stands still.
	tries := 0
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 500 {
		if err := h.eng.Step(h.ctx, true); err != nil && strings.Contains(err.Error(), "outputs") {
			tries++
			break
		}
		<-tick.C
		clk.Advance(20 * time.Millisecond) // one poll interval, so KSeF is asked again
	}
	if tries != 1 {
		t.Fatal("the invoice was not accepted, or its outputs did not fail")
	}
	// 10 s of polls every 100 ms: tries at 2 s, 6 s (after the first at 0) — not 100.
	for range 100 {
		clk.Advance(100 * time.Millisecond)
		if err := h.eng.Step(h.ctx, true); err != nil && strings.Contains(err.Error(), "outputs") {
			tries++
		}
	}
	if tries < 2 || tries > 4 {
		t.Errorf("outputs tried %d times in 10 s of polling, want 3 (backing off)", tries)
	}
	// The cause goes away: the next due try writes the outputs.
	if err := os.Remove(h.folders.Sent); err != nil {
		t.Fatal(err)
	}
	clk.Advance(maxRetry)
	if err := h.eng.Step(h.ctx, true); err != nil {
		t.Fatal(err)
	}
	done, _ := h.journal.ByState(h.ctx, nip, spool.StateDone)
	if len(done) != 1 || !fileExists(filepath.Join(h.folders.Sent, "FV_1.ksef.json")) {
		t.Fatalf("done = %+v", done)
	}
}

func TestBackoffDelays(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := backoffDelay(i + 1); got != w {
			t.Errorf("backoffDelay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := backoffDelay(1000); got != maxRetry {
		t.Errorf("backoffDelay(1000) = %s", got)
	}
}

// TestOutputNamesAndJSONText: an input "FV Łódź 900.XML" keeps its exact name in sent/, and the
// JSON records keep '<', '>' and '&' as they are (issue 11, items 4 and 13).
func TestOutputNamesAndJSONText(t *testing.T) {
	h := newHarness(t, SendSettings{})
	data := inv(3, "ODD")
	data = regexp.MustCompile(`<P_2>[^<]*</P_2>`).ReplaceAll(data, []byte("<P_2>FV&amp;&lt;900&gt;</P_2>"))
	done := h.settle(h.drop("FV Łódź 900.XML", data))
	if len(done) != 1 || done[0].Outcome != "accepted" {
		t.Fatalf("done = %+v", done)
	}
	if got, err := os.ReadFile(filepath.Join(h.folders.Sent, "FV Łódź 900.XML")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sent copy under the exact name: %v", err)
	}
	js, err := os.ReadFile(filepath.Join(h.folders.Sent, "FV Łódź 900.ksef.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`"invoiceNumber": "FV&<900>"`)) || bytes.Contains(js, []byte(`\u003c`)) {
		t.Errorf("ksef.json escapes the invoice number:\n%s", js)
	}
	var rec SentRecord
	if err := json.Unmarshal(js, &rec); err != nil || rec.FileName != "FV Łódź 900.XML" {
		t.Errorf("record %+v, err %v", rec, err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestPollDelayGrowsWithTheWait(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	poll := 2 * time.Second
	waited := func(ds ...time.Duration) spool.Waiting {
		w := spool.Waiting{Count: len(ds), Newest: now.Add(-ds[0]), Oldest: now.Add(-ds[0])}
		for _, d := range ds {
			w.Newest, w.Oldest = maxTime(w.Newest, now.Add(-d)), minTime(w.Oldest, now.Add(-d))
		}
		return w
	}
	tests := []struct {
		invs spool.Waiting
		want time.Duration
	}{
		{waited(time.Second), poll},
		{waited(10 * time.Minute), time.Minute},
		{waited(5 * time.Hour), 5 * time.Minute},
		{waited(5*time.Hour, 3*time.Second), poll}, // a fresh invoice in the same session sets the pace
	}
	for i, tt := range tests {
		if got := pollDelay(now, tt.invs, poll); got != tt.want {
			t.Errorf("case %d: pollDelay = %s, want %s", i, got, tt.want)
		}
	}
}
