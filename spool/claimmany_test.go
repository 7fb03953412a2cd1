package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func outboxFiles(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("FV_%03d.xml", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("<Faktura>%d</Faktura>", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

func TestClaimManyClaimsEveryFileOnce(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	dir, paths := outboxFiles(t, 40)
	paths = append(paths, filepath.Join(dir, "gone.xml"))
	invs, errs := j.ClaimMany(ctx, testNIP, paths)
	for i := range 40 {
		if errs[i] != nil || invs[i] == nil {
			t.Fatalf("%s: %v", paths[i], errs[i])
		}
		if invs[i].State != StateClaimed || invs[i].FileName != filepath.Base(paths[i]) {
			t.Fatalf("invoice %+v", invs[i])
		}
		if got := original(t, j, invs[i]); !bytes.Equal(got, []byte(fmt.Sprintf("<Faktura>%d</Faktura>", i))) {
			t.Fatalf("spool copy %q", got)
		}
	}
	if !errors.Is(errs[40], ErrVanished) || invs[40] != nil {
		t.Fatalf("missing file: %v", errs[40])
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("outbox still has %d files", len(left))
	}
	counts, _ := j.CountByState(ctx, testNIP)
	if counts[StateClaimed] != 40 {
		t.Fatalf("counts %v", counts)
	}
}

// TestClaimManyCrashSafety stops ClaimMany between its steps, restarts the journal and checks that
// every file is in the outbox or in the journal, never neither and never both.
func TestClaimManyCrashSafety(t *testing.T) {
	for _, point := range []string{"after read", "after claimed"} {
		t.Run(point, func(t *testing.T) {
			resetHooks(t)
			stateDir := filepath.Join(t.TempDir(), "state")
			j, err := Open(context.Background(), stateDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch point {
			case "after read":
				afterReadHook = crash
			case "after claimed":
				afterClaimedHook = crash
			}
			dir, paths := outboxFiles(t, 10)
			func() {
				defer func() {
					if r := recover(); r != errCrash {
						t.Fatalf("no crash: %v", r)
					}
				}()
				j.ClaimMany(context.Background(), testNIP, paths)
			}()
			_ = j.Close()
			restoreHooks()
			j, err = Open(context.Background(), stateDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if err := j.RecoverClaims(context.Background()); err != nil {
				t.Fatal(err)
			}
			claimed, _ := j.ByState(context.Background(), testNIP, StateClaimed)
			left, _ := os.ReadDir(dir)
			if len(claimed)+len(left) != 10 {
				t.Fatalf("claimed %d + left in outbox %d != 10", len(claimed), len(left))
			}
			for _, inv := range claimed {
				if _, err := os.Stat(inv.SourcePath); err == nil {
					t.Errorf("%s both claimed and in the outbox", inv.FileName)
				}
			}
		})
	}
}

func BenchmarkClaimMany(b *testing.B) {
	for b.Loop() {
		j, _ := openTest(b)
		dir := b.TempDir()
		var paths []string
		for i := range 500 {
			p := filepath.Join(dir, fmt.Sprintf("FV_%03d.xml", i))
			_ = os.WriteFile(p, bytes.Repeat([]byte("x"), 4600), 0o600)
			paths = append(paths, p)
		}
		j.ClaimMany(context.Background(), testNIP, paths)
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "claims/s")
}
