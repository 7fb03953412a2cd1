package spool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// edges is the state machine written out once more, by hand: every allowed move and the operation
// that makes it, and every state in which an update is allowed. The test below proves the journal
// allows exactly these and refuses every other pair.
var edges = []struct {
	op       op
	from, to State
}{
	{opClaimed, StateClaiming, StateClaimed},
	{opMarkReady, StateClaimed, StateReady},
	{opReject, StateClaimed, StateRejected},
	{opMarkSending, StateReady, StateSending},
	{opAccept, StateReady, StateAccepted},
	{opMarkSubmitted, StateSending, StateSubmitted},
	{opRetry, StateSending, StateReady},
	{opReject, StateSending, StateRejected},
	{opAccept, StateSubmitted, StateAccepted},
	{opReject, StateSubmitted, StateRejected},
	{opRetry, StateSubmitted, StateReady},
	{opMarkDone, StateAccepted, StateDone},
	{opMarkDone, StateRejected, StateDone},
	// updates: the state stays
	{opDefer, StateReady, StateReady},
	{opReserveOutputs, StateAccepted, StateAccepted},
	{opReserveOutputs, StateRejected, StateRejected},
	{opIssueOffline, StateReady, StateReady},
}

// operations calls each operation on one invoice the way the engine does.
var operations = map[op]func(context.Context, *Journal, int64) error{
	opClaimed: func(ctx context.Context, j *Journal, id int64) error {
		return j.apply(ctx, opClaimed, []int64{id}, nil)
	},
	opMarkReady: func(ctx context.Context, j *Journal, id int64) error {
		return j.MarkReady(ctx, time.Now(), []Prepared{{ID: id, RegisteredHash: "h"}})
	},
	opMarkSending: func(ctx context.Context, j *Journal, id int64) error {
		return j.MarkSending(ctx, []int64{id}, Sending{Mode: "online", SessionRef: "S"})
	},
	opMarkSubmitted: func(ctx context.Context, j *Journal, id int64) error { return j.MarkSubmitted(ctx, id, "I") },
	opAccept: func(ctx context.Context, j *Journal, id int64) error {
		return j.Accept(ctx, Registration{ID: id, KsefNumber: "K"})
	},
	opReject: func(ctx context.Context, j *Journal, id int64) error {
		return j.Reject(ctx, Rejection{ID: id, Code: 450, Stage: "ksef"})
	},
	opRetry: func(ctx context.Context, j *Journal, id int64) error {
		return j.Retry(ctx, []int64{id}, func(int) time.Time { return time.Now() })
	},
	opMarkDone: func(ctx context.Context, j *Journal, id int64) error {
		return j.MarkDone(ctx, map[int64]string{id: ""})
	},
	opDefer: func(ctx context.Context, j *Journal, id int64) error {
		return j.Defer(ctx, []int64{id}, func(int) time.Time { return time.Now() })
	},
	opReserveOutputs: func(ctx context.Context, j *Journal, id int64) error {
		return j.ReserveOutputs(ctx, map[int64]string{id: "stem"})
	},
	opIssueOffline: func(ctx context.Context, j *Journal, id int64) error {
		return j.IssueOffline(ctx, []int64{id}, Offline{Mode: "offline24"})
	},
}

func TestStateMachineEveryPair(t *testing.T) {
	allowed := map[op]map[State]State{}
	for _, e := range edges {
		if allowed[e.op] == nil {
			allowed[e.op] = map[State]State{}
		}
		allowed[e.op][e.from] = e.to
	}
	if len(operations) != len(allowed) {
		t.Fatalf("the test calls %d operations but lists edges for %d", len(operations), len(allowed))
	}
	j, _ := openTest(t)
	ctx := context.Background()
	n := 0
	for o, call := range operations {
		for _, from := range allStates {
			n++
			inv := claimTest(t, j, fmt.Sprintf("%d.xml", n))
			move(t, j, inv.ID, StateClaimed, from, nil)
			err := call(ctx, j, inv.ID)
			got, gerr := j.Get(ctx, inv.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			to, ok := allowed[o][from]
			switch {
			case ok && err != nil:
				t.Errorf("%s from %s: %v, want allowed", o, from, err)
			case ok && got.State != to:
				t.Errorf("%s from %s: state %s, want %s", o, from, got.State, to)
			case !ok && !errors.Is(err, ErrConflict):
				t.Errorf("%s from %s: err = %v, want ErrConflict", o, from, err)
			case !ok && got.State != from:
				t.Errorf("refused %s from %s still changed the state to %s", o, from, got.State)
			case !ok && (!strings.Contains(err.Error(), string(from)) || !strings.Contains(err.Error(), string(o.target(from)))):
				t.Errorf("refusal %q does not name the states", err)
			}
		}
	}
}

// TestStateMachineTableMatchesEdges checks that the table in lifecycle.go is exactly the list above.
func TestStateMachineTableMatchesEdges(t *testing.T) {
	type edge struct {
		Op       op
		From, To State
	}
	var want, got []edge
	for _, e := range edges {
		want = append(want, edge{e.op, e.from, e.to})
	}
	for _, from := range allStates {
		for to, o := range transitions[from] {
			got = append(got, edge{o, from, to})
		}
	}
	for o, in := range updates {
		for _, s := range in {
			got = append(got, edge{o, s, s})
		}
	}
	sortEdges := func(es []edge) {
		for i := range es {
			for k := i + 1; k < len(es); k++ {
				if fmt.Sprint(es[k]) < fmt.Sprint(es[i]) {
					es[i], es[k] = es[k], es[i]
				}
			}
		}
	}
	sortEdges(want)
	sortEdges(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state machine table (-listed +lifecycle.go):\n%s", diff)
	}
	if !CanMove(StateSubmitted, StateAccepted) || CanMove(StateDone, StateReady) {
		t.Error("CanMove disagrees with the table")
	}
}

func TestRefusalNamesBothStates(t *testing.T) {
	j, _ := openTest(t)
	inv := claimTest(t, j, "a.xml")
	move(t, j, inv.ID, StateClaimed, StateDone, nil)
	err := j.Accept(context.Background(), Registration{ID: inv.ID, KsefNumber: "K"})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "from done to accepted") {
		t.Errorf("err = %v, want a conflict naming done and accepted", err)
	}
}

// TestOperationsRecordTheirFields follows one invoice along the happy path and one back and forth,
// checking what each named operation writes.
func TestOperationsRecordTheirFields(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	inv := claimTest(t, j, "FV_1.xml")
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	later := at.Add(time.Minute)
	acq := at.Add(time.Hour)
	steps := []func() error{
		func() error {
			return j.MarkReady(ctx, at, []Prepared{{ID: inv.ID, RegisteredPath: inv.SpoolPath, RegisteredHash: "H",
				RegisteredSize: 9, InvoiceNumber: "FV/1", IssueDate: "2026-13-45", HasAttachment: true}})
		},
		func() error {
			return j.Defer(ctx, []int64{inv.ID}, func(n int) time.Time { return later.Add(time.Duration(n)) })
		},
		func() error {
			return j.MarkSending(ctx, []int64{inv.ID}, Sending{Mode: "batch", SessionRef: "S-1", BatchFileNames: map[int64]string{inv.ID: "e.xml"}})
		},
		func() error {
			return j.Retry(ctx, []int64{inv.ID}, func(n int) time.Time { return later.Add(time.Duration(n)) })
		},
		func() error { return j.MarkSending(ctx, []int64{inv.ID}, Sending{Mode: "online", SessionRef: "S-2"}) },
		func() error { return j.MarkSubmitted(ctx, inv.ID, "I-2") },
		func() error {
			return j.Accept(ctx, Registration{ID: inv.ID, KsefNumber: "K-1", AcquisitionDate: &acq, UpoURL: "https://upo"})
		},
		func() error { return j.ReserveOutputs(ctx, map[int64]string{inv.ID: "FV_1"}) },
		func() error { return j.MarkDone(ctx, map[int64]string{inv.ID: "/sent/FV_1.upo.xml"}) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, err := j.Get(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"State": StateDone, "Outcome": "accepted", "KsefNumber": "K-1", "SessionRef": "S-2", "InvoiceRef": "I-2",
		"Mode": "online", "BatchFileName": "", "UpoURL": "https://upo", "UpoPath": "/sent/FV_1.upo.xml",
		"OutputStem": "FV_1", "Attempts": 3, "NextAttemptAt": later.Add(2), "IssueDate": "2026-13-45",
		"RegisteredHash": "H", "HasAttachment": true,
	}
	gotFields := map[string]any{
		"State": got.State, "Outcome": got.Outcome, "KsefNumber": got.KsefNumber, "SessionRef": got.SessionRef,
		"InvoiceRef": got.InvoiceRef, "Mode": got.Mode, "BatchFileName": got.BatchFileName, "UpoURL": got.UpoURL,
		"UpoPath": got.UpoPath, "OutputStem": got.OutputStem, "Attempts": got.Attempts,
		"NextAttemptAt": got.NextAttemptAt.UTC(), "IssueDate": got.IssueDate, "RegisteredHash": got.RegisteredHash,
		"HasAttachment": got.HasAttachment,
	}
	if diff := cmp.Diff(want, gotFields); diff != "" {
		t.Errorf("record after the lifecycle (-want +got):\n%s", diff)
	}
	if got.AcquisitionDate == nil || !got.AcquisitionDate.Equal(acq) {
		t.Errorf("AcquisitionDate = %v, want %v", got.AcquisitionDate, acq)
	}

	rej := claimTest(t, j, "FV_2.xml")
	if err := j.Reject(ctx, Rejection{ID: rej.ID, Kind: "not-xml", Description: "d", Details: []string{"x"},
		Stage: "validation", Hint: "h"}); err != nil {
		t.Fatal(err)
	}
	r, err := j.Get(ctx, rej.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != StateRejected || r.Outcome != "rejected" || r.ErrKind != "not-xml" || r.ErrStage != "validation" ||
		r.ErrHint != "h" || len(r.ErrDetails) != 1 {
		t.Errorf("rejected record = %+v", r)
	}
}

// TestMarkBatchSubmittedMovesAllOrNone: a closed batch's invoices move to submitted together (one
// statement); one record in another state, or an unknown id, refuses the whole lot with the
// record-by-record error and changes nothing.
func TestMarkBatchSubmittedMovesAllOrNone(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	files := 0
	lot := func(n int, last State) []int64 {
		var ids []int64
		for i := range n {
			files++
			inv := claimTest(t, j, fmt.Sprintf("b%d.xml", files))
			st := StateSending
			if i == n-1 {
				st = last
			}
			move(t, j, inv.ID, StateClaimed, st, nil)
			ids = append(ids, inv.ID)
		}
		return ids
	}
	states := func(ids []int64) []State {
		var got []State
		for _, id := range ids {
			inv, err := j.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, inv.State)
		}
		return got
	}
	ok := lot(3, StateSending)
	if err := j.MarkBatchSubmitted(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if got := states(ok); !cmp.Equal(got, []State{StateSubmitted, StateSubmitted, StateSubmitted}) {
		t.Errorf("states after MarkBatchSubmitted: %v", got)
	}

	mixed := lot(3, StateReady)
	err := j.MarkBatchSubmitted(ctx, mixed)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), string(StateReady)) {
		t.Errorf("one ready invoice in the lot: err = %v, want ErrConflict naming %s", err, StateReady)
	}
	if got := states(mixed); !cmp.Equal(got, []State{StateSending, StateSending, StateReady}) {
		t.Errorf("a refused lot changed states: %v", got)
	}

	missing := lot(2, StateSending)
	if err := j.MarkBatchSubmitted(ctx, append(missing, 999999)); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: err = %v, want ErrNotFound", err)
	}
	if got := states(missing); !cmp.Equal(got, []State{StateSending, StateSending}) {
		t.Errorf("a refused lot changed states: %v", got)
	}
}
