package spool

import (
	"context"
	"testing"
)

// TestHasWork: a company has work from its first claim until its invoice is done, and another
// company's invoice is not its work.
func TestHasWork(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	assertHasWork := func(nip string, want bool) {
		t.Helper()
		if got, err := j.HasWork(ctx, nip); err != nil || got != want {
			t.Fatalf("HasWork(%s) = %v, %v; want %v", nip, got, err, want)
		}
	}
	assertHasWork(testNIP, false)
	inv, err := claimOne(j, ctx, testNIP, outboxFile(t, "FV.xml", []byte("<Faktura/>")))
	if err != nil {
		t.Fatal(err)
	}
	assertHasWork(testNIP, true)
	assertHasWork("1111111111", false)
	if err := j.Reject(ctx, Rejection{ID: inv.ID, Kind: "not-xml", Stage: "validation"}); err != nil {
		t.Fatal(err)
	}
	assertHasWork(testNIP, true) // its error file is still to be written
	if err := j.ReserveOutputs(ctx, map[int64]string{inv.ID: "FV"}); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkDone(ctx, map[int64]string{inv.ID: ""}); err != nil {
		t.Fatal(err)
	}
	assertHasWork(testNIP, false)
}
