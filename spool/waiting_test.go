package spool

import (
	"context"
	"testing"
)

// TestWaitingSessions: the per-session summary counts what the records say, and InSession reads
// exactly one session's invoices.
func TestWaitingSessions(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	var ids []int64
	for _, name := range []string{"a.xml", "b.xml", "c.xml", "d.xml"} {
		ids = append(ids, claimTest(t, j, name).ID)
	}
	in := func(ref, mode string) func(*Invoice) {
		return func(r *Invoice) { r.SessionRef, r.Mode = ref, mode }
	}
	move(t, j, ids[0], StateClaimed, StateSubmitted, in("S-1", "batch"))
	move(t, j, ids[1], StateClaimed, StateSubmitted, in("S-1", "batch"))
	move(t, j, ids[2], StateClaimed, StateSubmitted, in("S-2", "online"))
	ws, err := j.WaitingSessions(ctx, testNIP, StateSubmitted)
	if err != nil || len(ws) != 2 {
		t.Fatalf("WaitingSessions = %+v, %v; want two sessions", ws, err)
	}
	s1, _ := j.Get(ctx, ids[0])
	s1b, _ := j.Get(ctx, ids[1])
	if w := ws[0]; w.SessionRef != "S-1" || w.Mode != "batch" || w.Count != 2 ||
		!w.Oldest.Equal(s1.UpdatedAt) || !w.Newest.Equal(s1b.UpdatedAt) || !w.Claimed.Equal(s1.CreatedAt) {
		t.Errorf("S-1 summary %+v; invoices updated %v and %v, claimed %v", w, s1.UpdatedAt, s1b.UpdatedAt, s1.CreatedAt)
	}
	if w := ws[1]; w.SessionRef != "S-2" || w.Mode != "online" || w.Count != 1 {
		t.Errorf("S-2 summary %+v", w)
	}
	got, err := j.InSession(ctx, testNIP, "S-1", StateSubmitted)
	if err != nil || len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
		t.Errorf("InSession(S-1) = %v, %v", ids, err)
	}
	if ws, _ := j.WaitingSessions(ctx, "1111111111", StateSubmitted); len(ws) != 0 {
		t.Errorf("another NIP's summary: %+v", ws)
	}
}

// TestHashesTaken: a ready invoice's bytes count as taken when another record holds them accepted
// (or done as accepted) or in flight, not when it was rejected or is only ready too.
func TestHashesTaken(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	record := func(name, hash string, to State, outcome string) {
		inv := claimTest(t, j, name)
		move(t, j, inv.ID, StateClaimed, to, func(r *Invoice) { r.RegisteredHash, r.Outcome = hash, outcome })
	}
	for _, h := range []string{"acc", "done", "fly", "rej", "twin", "alone"} {
		record("ready-"+h+".xml", h, StateReady, "")
	}
	record("a.xml", "acc", StateAccepted, "accepted")
	record("d.xml", "done", StateDone, "accepted")
	record("f.xml", "fly", StateSubmitted, "")
	record("r.xml", "rej", StateDone, "rejected")
	record("t.xml", "twin", StateReady, "")
	got, err := j.HashesTaken(ctx, testNIP)
	want := map[string]bool{"acc": true, "done": true, "fly": true}
	if err != nil || len(got) != len(want) || !got["acc"] || !got["done"] || !got["fly"] {
		t.Errorf("HashesTaken = %v, %v; want %v", got, err, want)
	}
}
