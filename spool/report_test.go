package spool

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The queries behind status, metrics and notifications, on a real journal. Inside a synctest
// bubble the journal's own clock is the bubble's, so updated_at values are exact.
func TestReportQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		j, dir := openTest(t)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		claim := func(name string) int64 {
			invs, errs := j.ClaimMany(ctx, testNIP, []string{outboxFile(t, name, []byte("<Faktura>"+name+"</Faktura>"))})
			must(errs[0])
			return invs[0].ID
		}
		start := time.Now()
		sent := claim("sent.xml")
		must(j.MarkReady(ctx, time.Now(), []Prepared{{ID: sent}}))
		must(j.MarkSending(ctx, []int64{sent}, Sending{Mode: "online", SessionRef: "S-1"}))
		must(j.MarkSubmitted(ctx, sent, "I-1"))
		time.Sleep(time.Hour)
		midnight := time.Now()
		var rejected []int64
		for i := range 3 {
			id := claim(fmt.Sprintf("bad-%d.xml", i))
			must(j.Reject(ctx, Rejection{ID: id, Stage: "validation", Kind: "not-xml"}))
			rejected = append(rejected, id)
			time.Sleep(time.Minute)
		}
		ok := claim("ok.xml")
		must(j.MarkReady(ctx, time.Now(), []Prepared{{ID: ok}}))
		must(j.MarkSending(ctx, []int64{ok}, Sending{Mode: "online", SessionRef: "S-1"}))
		must(j.MarkSubmitted(ctx, ok, "I-2"))
		must(j.Accept(ctx, Registration{ID: ok, KsefNumber: "5265877635-20261202-010000000001-AB"}))
		must(j.MarkDone(ctx, map[int64]string{ok: "", rejected[0]: ""}))
		claim("waiting.xml")

		tally, err := j.CountTally(ctx, testNIP, midnight)
		must(err)
		want := Tally{ByState: map[State]int{StateSubmitted: 1, StateRejected: 2, StateDone: 2, StateClaimed: 1},
			Accepted: 1, Rejected: 3, InProgress: 2, Total: 6, TodayAccepted: 1, TodayRejected: 3}
		if diff := cmp.Diff(want, tally); diff != "" {
			t.Errorf("tally (-want +got):\n%s", diff)
		}
		if other, _ := j.CountTally(ctx, "1111111111", midnight); other.Total != 0 {
			t.Errorf("another NIP counts %d", other.Total)
		}

		rej, err := j.RejectionsSince(ctx, testNIP, midnight.Add(30*time.Second), 10)
		must(err)
		var names []string
		for _, r := range rej {
			names = append(names, r.FileName)
		}
		// bad-0 changed last (its outputs were written), so it comes last.
		if diff := cmp.Diff([]string{"bad-1.xml", "bad-2.xml", "bad-0.xml"}, names); diff != "" {
			t.Errorf("rejections since (-want +got):\n%s", diff)
		}

		stalled, err := j.Stalled(ctx, testNIP, start.Add(30*time.Minute), 10)
		must(err)
		if len(stalled) != 1 || stalled[0].ID != sent {
			t.Errorf("stalled %+v, want only sent.xml", stalled)
		}

		// The heartbeat: absent before the first, then read back by a read-only journal.
		ro, err := OpenReadOnly(ctx, dir)
		must(err)
		defer ro.Close()
		if _, ok, err := ro.LastBeat(ctx); ok || err != nil {
			t.Errorf("before any heartbeat: ok %v err %v", ok, err)
		}
		beat := Beat{PID: 4242, Host: "erp1", Version: "1.2.3", StartedAt: start, BeatAt: time.Now(),
			Companies: []CompanyHealth{{NIP: testNIP, LastError: "boom", LastErrorAt: midnight, KSeFAvailable: 0, KSeFCheckedAt: time.Now(),
				Availability: `{"state":"failure"}`}}}
		must(j.WriteBeat(ctx, beat))
		got, found, err := ro.LastBeat(ctx)
		must(err)
		if diff := cmp.Diff(beat, got); !found || diff != "" {
			t.Errorf("heartbeat (-want +got):\n%s", diff)
		}
		if err := ro.WriteBeat(ctx, beat); err != ErrReadOnly {
			t.Errorf("read-only WriteBeat: %v", err)
		}
	})
}
