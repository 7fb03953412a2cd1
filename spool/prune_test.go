package spool

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPruneSpoolRemovesOnlyOldFinishedCopies(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	done := claimTest(t, j, "done.xml")
	open := claimTest(t, j, "open.xml")
	move(t, j, done.ID, StateClaimed, StateDone, func(r *Invoice) { r.Outcome = "accepted"; r.KsefNumber = "K1" })

	if n, err := j.PruneSpool(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune of recent invoices = %d, %v; want 0", n, err)
	}
	n, err := j.PruneSpool(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("prune = %d, %v; want 1", n, err)
	}
	if _, err := j.Original(ctx, done); !errors.Is(err, ErrNotFound) {
		t.Errorf("spool copy of the finished invoice still there: %v", err)
	}
	if _, err := j.Original(ctx, open); err != nil {
		t.Errorf("spool copy of an unfinished invoice was removed: %v", err)
	}
	got, err := j.Get(ctx, done.ID)
	if err != nil || got.SpoolPath != "" || got.KsefNumber != "K1" || got.State != StateDone {
		t.Fatalf("record after prune: %+v, %v", got, err)
	}
	if _, err := j.Original(ctx, got); !errors.Is(err, ErrPruned) {
		t.Errorf("Original after prune: %v, want ErrPruned", err)
	}
	if n, _ := j.PruneSpool(ctx, time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("second prune = %d, want 0", n)
	}
}
