package spool

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

func TestOpenLockSameProcess(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), dir, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	j2, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = j2.Close()
}

// TestHelperProcess is not a real test: TestOpenLockOtherProcess runs the test binary with it to hold
// the lock from another process.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("KSEF_SYNC_SPOOL_LOCK_HELPER")
	if dir == "" {
		t.Skip("helper process for TestOpenLockOtherProcess")
	}
	j, err := Open(context.Background(), dir, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer j.Close()
	fmt.Println("locked")
	// Hold the lock until the parent closes stdin or kills us.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

func TestOpenLockOtherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "KSEF_SYNC_SPOOL_LOCK_HELPER="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}
	if _, err := Open(context.Background(), dir, nil); !errors.Is(err, ErrLocked) {
		t.Errorf("Open while another process holds the lock: err = %v, want ErrLocked", err)
	}
	// A read-only open needs no lock.
	ro, err := OpenReadOnly(context.Background(), dir)
	if err != nil {
		t.Errorf("OpenReadOnly while locked: %v", err)
	} else {
		_ = ro.Close()
	}
	// Process death releases the lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	j, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatalf("Open after the holder died: %v", err)
	}
	_ = j.Close()
}

func TestTransitionConflict(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	inv := claimTest(t, j, "a.xml")

	err := j.MarkSubmitted(ctx, inv.ID, "I-1")
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("MarkSubmitted of a claimed invoice: err = %v, want ErrConflict", err)
	}
	if err := j.MarkReady(ctx, time.Now(), []Prepared{{ID: 9999}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkReady of missing id: err = %v, want ErrNotFound", err)
	}
	if err := j.MarkReady(ctx, time.Now(), []Prepared{{ID: inv.ID}}); err != nil {
		t.Fatal(err)
	}
	got, err := j.Get(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateReady {
		t.Errorf("state = %s, want ready", got.State)
	}
	// Replaying the same operation (e.g. a retried step) must conflict, not double-apply.
	if err := j.MarkReady(ctx, time.Now(), []Prepared{{ID: inv.ID}}); !errors.Is(err, ErrConflict) {
		t.Errorf("replayed MarkReady: err = %v, want ErrConflict", err)
	}
}

func TestTransitionMutatePersists(t *testing.T) {
	j, dir := openTest(t)
	ctx := context.Background()
	inv := claimTest(t, j, "FV_001.xml")
	regPath, err := j.WriteSpoolFile(fmt.Sprintf("%d.xml", inv.ID), []byte("<reg/>"))
	if err != nil {
		t.Fatal(err)
	}
	acq := time.Date(2026, 11, 22, 7, 1, 2, 345678900, time.UTC)
	next := time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	want := *inv
	fill := func(x *Invoice) {
		x.RegisteredPath, x.RegisteredHash, x.RegisteredSize = regPath, "q83vEjRWeJo=", 6
		x.Conversion, x.InvoiceNumber, x.IssueDate, x.HasAttachment = "fa2-to-fa3", "FV/1/2026", "2026-11-20", true
		x.Mode, x.SessionRef, x.InvoiceRef, x.BatchFileName = "batch", "S-1", "I-1", "part1.zip"
		x.KsefNumber, x.AcquisitionDate, x.UpoURL, x.UpoPath = "5265877635-20261122-0100A1B2C3D4-E5", &acq, "https://upo", "/sent/x.upo.xml"
		x.ErrCode, x.ErrDescription, x.ErrDetails = 450, "Błąd weryfikacji", []string{"linia 1", "żółć \"quoted\""}
		x.ErrStage, x.ErrKind, x.ErrHint = "ksef", "wrong-seller-nip", "popraw NIP"
		x.Outcome, x.OutputStem = "accepted", "FV_001-2"
		x.Attempts, x.NextAttemptAt = 3, next
	}
	fill(&want)
	move(t, j, inv.ID, StateClaimed, StateAccepted, fill)

	// Reopen to prove it reached the disk and paths resolve against the state folder.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	moved := dir + "-moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(ctx, moved, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	got, err := j2.Get(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	want.State = StateAccepted
	want.SpoolPath = InJournal // the copy moved with the journal itself
	want.RegisteredPath = filepath.Join(moved, "spool", filepath.Base(regPath))
	opts := cmp.Options{cmpopts.EquateApproxTime(0), cmpopts.IgnoreFields(Invoice{}, "UpdatedAt")}
	if diff := cmp.Diff(want, *got, opts); diff != "" {
		t.Errorf("record after reopen (-want +got):\n%s", diff)
	}
	if got.UpdatedAt.Before(inv.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v < %v", got.UpdatedAt, inv.UpdatedAt)
	}
	if string(testutil.ReadFile(t, got.RegisteredPath)) != "<reg/>" {
		t.Error("registered file not found at the resolved path")
	}
}

func TestTransitionManyAllOrNothing(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	var ids []int64
	for i := range 3 {
		inv := claimTest(t, j, fmt.Sprintf("%d.xml", i))
		move(t, j, inv.ID, StateClaimed, StateReady, nil)
		ids = append(ids, inv.ID)
	}
	stray := claimTest(t, j, "stray.xml") // still claimed

	err := j.MarkSending(ctx, append(ids, stray.ID), Sending{Mode: "batch", SessionRef: "S-batch"})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("MarkSending with one wrong state: err = %v, want ErrConflict", err)
	}
	if got, _ := j.ByState(ctx, testNIP, StateSending); len(got) != 0 {
		t.Fatalf("failed MarkSending moved %d invoices, want none", len(got))
	}

	if err := j.MarkSending(ctx, ids, Sending{Mode: "batch", SessionRef: "S-batch"}); err != nil {
		t.Fatal(err)
	}
	got, err := j.ByState(ctx, testNIP, StateSending)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []int64
	for _, inv := range got {
		if inv.SessionRef != "S-batch" {
			t.Errorf("invoice %d session %q, want S-batch", inv.ID, inv.SessionRef)
		}
		gotIDs = append(gotIDs, inv.ID)
	}
	if diff := cmp.Diff(ids, gotIDs); diff != "" {
		t.Errorf("sending ids (-want +got):\n%s", diff)
	}
}

func TestByStateAndCounts(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	a := claimTest(t, j, "a.xml")
	b := claimTest(t, j, "b.xml")
	move(t, j, b.ID, StateClaimed, StateReady, nil)
	other, err := claimOne(j, ctx, "1111111111", outboxFile(t, "o.xml", []byte("<o/>")))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		nip    string
		states []State
		want   []int64
	}{
		{testNIP, []State{StateClaimed}, []int64{a.ID}},
		{testNIP, []State{StateClaimed, StateReady}, []int64{a.ID, b.ID}},
		{"", []State{StateClaimed}, []int64{a.ID, other.ID}},
		{"1111111111", []State{StateReady}, nil},
	}
	for _, tt := range tests {
		got, err := j.ByState(ctx, tt.nip, tt.states...)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, inv := range got {
			ids = append(ids, inv.ID)
		}
		if diff := cmp.Diff(tt.want, ids); diff != "" {
			t.Errorf("ByState(%q, %v) (-want +got):\n%s", tt.nip, tt.states, diff)
		}
	}
	counts, err := j.CountByState(ctx, testNIP)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[State]int{StateClaimed: 1, StateReady: 1}, counts); diff != "" {
		t.Errorf("CountByState (-want +got):\n%s", diff)
	}
}

func TestFindAcceptedAndInFlight(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	const hash = "hash-A"
	setHash := func(x *Invoice) { x.RegisteredHash = hash }

	first := claimTest(t, j, "1.xml")
	second := claimTest(t, j, "2.xml")
	if _, ok, err := j.FindAccepted(ctx, testNIP, hash); err != nil || ok {
		t.Fatalf("FindAccepted on empty journal: ok=%v err=%v", ok, err)
	}
	move(t, j, first.ID, StateClaimed, StateReady, setHash)
	move(t, j, second.ID, StateClaimed, StateReady, setHash)

	inFlight := func(except int64) bool {
		t.Helper()
		ok, err := j.InFlight(ctx, testNIP, hash, except)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if inFlight(second.ID) {
		t.Error("InFlight: a ready copy counted as in flight (two ready copies would wait for each other)")
	}
	move(t, j, first.ID, StateReady, StateSending, nil)
	if !inFlight(second.ID) {
		t.Error("InFlight: first (sending) not seen")
	}
	if ok, _ := j.InFlight(ctx, "1111111111", hash, 0); ok {
		t.Error("InFlight crosses NIPs")
	}
	move(t, j, first.ID, StateSending, StateSubmitted, nil)
	move(t, j, first.ID, StateSubmitted, StateRejected, nil)
	if inFlight(second.ID) {
		t.Error("InFlight: rejected invoice still counted")
	}
	if _, ok, _ := j.FindAccepted(ctx, testNIP, hash); ok {
		t.Error("FindAccepted found a rejected invoice")
	}
	move(t, j, second.ID, StateReady, StateAccepted, func(x *Invoice) { x.KsefNumber = "K-2" })
	got, ok, err := j.FindAccepted(ctx, testNIP, hash)
	if err != nil || !ok || got.ID != second.ID || got.KsefNumber != "K-2" {
		t.Fatalf("FindAccepted = %+v, %v, %v; want invoice %d", got, ok, err, second.ID)
	}
	move(t, j, second.ID, StateAccepted, StateDone, func(x *Invoice) { x.Outcome = "accepted" })
	if _, ok, _ := j.FindAccepted(ctx, testNIP, hash); !ok {
		t.Error("FindAccepted misses done+accepted")
	}
	if _, ok, _ := j.FindAccepted(ctx, "1111111111", hash); ok {
		t.Error("FindAccepted crosses NIPs")
	}
}

func TestRecentRejections(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	clock := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	j.now = func() time.Time { clock = clock.Add(time.Second); return clock }

	var rejected []int64
	for i := range 4 {
		inv := claimTest(t, j, fmt.Sprintf("%d.xml", i))
		switch i {
		case 1: // outputs not yet written
			move(t, j, inv.ID, StateClaimed, StateRejected, nil)
			rejected = append(rejected, inv.ID)
		case 2, 3:
			move(t, j, inv.ID, StateClaimed, StateDone, func(x *Invoice) { x.Outcome = "rejected" })
			rejected = append(rejected, inv.ID)
		default:
			move(t, j, inv.ID, StateClaimed, StateDone, func(x *Invoice) { x.Outcome = "accepted" })
		}
	}
	got, err := j.RecentRejections(ctx, testNIP, 2)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, inv := range got {
		ids = append(ids, inv.ID)
	}
	if diff := cmp.Diff([]int64{rejected[2], rejected[1]}, ids); diff != "" {
		t.Errorf("RecentRejections (-want +got):\n%s", diff)
	}
}

func TestCursorsOnlyForward(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	t1 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(1500 * time.Millisecond) // fractional seconds must compare as times, not text
	move := func(nip, subject string, c time.Time) error { return j.CommitPull(ctx, nip, subject, c, nil) }

	if _, ok, err := j.Cursor(ctx, testNIP, "Subject2"); err != nil || ok {
		t.Fatalf("Cursor before commit: ok=%v err=%v", ok, err)
	}
	steps := []struct {
		name  string
		apply func() error
		want  time.Time
	}{
		{"first commit", func() error { return move(testNIP, "Subject2", t1) }, t1},
		{"forward", func() error { return move(testNIP, "Subject2", t2) }, t2},
		{"backward ignored", func() error { return move(testNIP, "Subject2", t1.Add(time.Second)) }, t2},
		{"equal ignored", func() error { return move(testNIP, "Subject2", t2) }, t2},
	}
	for _, s := range steps {
		if err := s.apply(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, ok, err := j.Cursor(ctx, testNIP, "Subject2")
		if err != nil || !ok || !got.Equal(s.want) {
			t.Errorf("%s: Cursor = %v, %v, %v; want %v", s.name, got, ok, err, s.want)
		}
	}
	if err := move(testNIP, "Subject3", t1); err != nil {
		t.Fatal(err)
	}
	if err := move("1111111111", "Subject2", t2); err != nil {
		t.Fatal(err)
	}
	all, err := j.Cursors(ctx, testNIP)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]time.Time{"Subject2": t2, "Subject3": t1}, all); diff != "" {
		t.Errorf("Cursors (-want +got):\n%s", diff)
	}
}

func TestDeliveredCaseInsensitive(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	const num = "5265877635-20261122-0100A1B2C3D4-E5"
	d := Delivered{KsefNumber: num, Subject: "Subject2", Path: "/inbox/a.xml",
		PermanentStorageDate: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)}
	if got, err := j.DeliveredAmong(ctx, testNIP, []string{num}); err != nil || len(got) != 0 {
		t.Fatalf("DeliveredAmong before mark: %v %v", got, err)
	}
	if err := j.CommitPull(ctx, testNIP, "Subject2", time.Time{}, []Delivered{d}); err != nil {
		t.Fatal(err)
	}
	spellings := []string{num, strings.ToLower(num), " " + num + " ", "5265877635-20261122-0100A1B2C3D4-FF"}
	want := map[string]bool{num: true, strings.ToLower(num): true, " " + num + " ": true}
	if got, err := j.DeliveredAmong(ctx, testNIP, spellings); err != nil || !maps.Equal(got, want) {
		t.Errorf("DeliveredAmong(%q) = %v, %v; want %v", spellings, got, err, want)
	}
	if got, _ := j.DeliveredAmong(ctx, "1111111111", []string{num}); len(got) != 0 {
		t.Error("delivered crosses NIPs")
	}
	d.KsefNumber = strings.ToLower(num)
	if err := j.CommitPull(ctx, testNIP, "Subject2", time.Time{}, []Delivered{d}); err != nil {
		t.Fatalf("delivered again: %v", err)
	}
	var n int
	if err := j.db.QueryRow(`SELECT count(*) FROM delivered`).Scan(&n); err != nil || n != 1 {
		t.Errorf("delivered rows = %d (%v), want 1", n, err)
	}
}

func TestSessionsAndMeta(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	clock := t0
	j.now = func() time.Time { return clock }
	valid := t0.Add(12 * time.Hour)
	put := func(at time.Time, s Session) {
		t.Helper()
		clock = at
		if err := j.PutSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	put(t0, Session{Ref: "S-1", NIP: testNIP, Kind: "online", State: "open", ValidUntil: &valid})
	put(t0.Add(time.Minute), Session{Ref: "S-2", NIP: testNIP, Kind: "batch", State: "open"})
	// An update keeps the first CreatedAt even if the caller passes another one.
	put(t0.Add(2*time.Minute), Session{Ref: "S-1", NIP: testNIP, Kind: "online", State: "closed", ValidUntil: &valid,
		CreatedAt: t0.Add(time.Hour)})
	// The caller's own clock wins over the journal's.
	explicit := t0.Add(30 * time.Second)
	put(t0.Add(3*time.Minute), Session{Ref: "S-3", NIP: "1111111111", Kind: "online", State: "open",
		CreatedAt: explicit, UpdatedAt: explicit})

	open, err := j.Sessions(ctx, testNIP, "open", "closing")
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].Ref != "S-2" || open[0].ValidUntil != nil {
		t.Errorf("open sessions = %+v, want only S-2", open)
	}
	all, err := j.Sessions(ctx, testNIP)
	if err != nil {
		t.Fatal(err)
	}
	want := []Session{
		{Ref: "S-1", NIP: testNIP, Kind: "online", State: "closed", CreatedAt: t0, UpdatedAt: t0.Add(2 * time.Minute), ValidUntil: &valid},
		{Ref: "S-2", NIP: testNIP, Kind: "batch", State: "open", CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("Sessions (-want +got):\n%s", diff)
	}
	everyNIP, err := j.Sessions(ctx, "", "open")
	if err != nil {
		t.Fatal(err)
	}
	if len(everyNIP) != 2 || everyNIP[0].Ref != "S-3" || !everyNIP[0].UpdatedAt.Equal(explicit) {
		t.Errorf("open sessions of every NIP = %+v, want S-3 (caller's times) then S-2", everyNIP)
	}

	if _, ok, err := j.Meta(ctx, "last_send"); err != nil || ok {
		t.Fatalf("Meta before set: %v %v", ok, err)
	}
	for _, v := range []string{"a", "b"} {
		if err := j.SetMeta(ctx, "last_send", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, ok, err := j.Meta(ctx, "last_send"); err != nil || !ok || v != "b" {
		t.Errorf("Meta = %q, %v, %v; want b", v, ok, err)
	}
}

func TestOpenReadOnlyWhileWriting(t *testing.T) {
	j, dir := openTest(t)
	ctx := context.Background()
	inv := claimTest(t, j, "a.xml")

	ro, err := OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := claimOne(ro, ctx, testNIP, outboxFile(t, "b.xml", []byte("x"))); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Claim: err = %v, want ErrReadOnly", err)
	}
	if err := ro.MarkReady(ctx, time.Now(), []Prepared{{ID: inv.ID}}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only MarkReady: err = %v, want ErrReadOnly", err)
	}
	if _, err := ro.db.ExecContext(ctx, `DELETE FROM invoices`); err == nil {
		t.Error("read-only connection accepted a raw DELETE")
	}

	// The writer cycles the invoice while the reader keeps counting; every count the reader sees
	// must be a consistent snapshot (exactly one invoice).
	const rounds = 100
	done := make(chan error, 1)
	go func() {
		for range rounds {
			if err := j.transition(ctx, inv.ID, []State{StateClaimed}, StateReady, nil); err != nil {
				done <- err
				return
			}
			if err := j.transition(ctx, inv.ID, []State{StateReady}, StateClaimed, nil); err != nil {
				done <- err
				return
			}
		}
		done <- j.transition(ctx, inv.ID, []State{StateClaimed}, StateDone, nil)
	}()
	reads := 0
	for writing := true; writing; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			writing = false
		default:
		}
		counts, err := ro.CountByState(ctx, testNIP)
		if err != nil {
			t.Fatalf("reader: %v", err)
		}
		total := 0
		for _, n := range counts {
			total += n
		}
		if total != 1 {
			t.Fatalf("reader saw %d invoices: %v", total, counts)
		}
		reads++
	}
	got, err := ro.Get(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateDone {
		t.Errorf("reader sees state %s after writer finished, want done", got.State)
	}
	t.Logf("%d concurrent reads", reads)

	// Still readable after the daemon closed the journal.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	ro2, err := OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatalf("OpenReadOnly after writer closed: %v", err)
	}
	defer ro2.Close()
	if got, err := ro2.Get(ctx, inv.ID); err != nil || got.State != StateDone {
		t.Errorf("Get after writer closed: %+v %v", got, err)
	}
}

func TestOpenReadOnlyMissing(t *testing.T) {
	_, err := OpenReadOnly(context.Background(), t.TempDir())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly of empty folder: err = %v, want not-exist", err)
	}
}

func TestSchemaVersion(t *testing.T) {
	j, dir := openTest(t)
	ctx := context.Background()
	if v, err := userVersion(ctx, j.db); err != nil || v != schemaVersion() {
		t.Fatalf("user_version = %d, %v; want %d", v, err, schemaVersion())
	}
	if _, err := j.db.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer journal: err = %v, want refusal", err)
	}
	if _, err := OpenReadOnly(ctx, dir); err == nil {
		t.Error("OpenReadOnly of a newer journal succeeded")
	}
	// The failed Open must have released the lock.
	db, err := sql.Open("sqlite", writerDSN(filepath.Join(dir, journalFileName)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion())); err != nil {
		t.Fatal(err)
	}
	j2, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatalf("Open after restoring the version: %v", err)
	}
	_ = j2.Close()
}

func TestOpenPathWithURISyntax(t *testing.T) {
	name := "state #1 %20 &a=b"
	if filepath.Separator == '/' { // '?' cannot occur in Windows file names
		name += " ?x=y"
	}
	dir := filepath.Join(t.TempDir(), name)
	j, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if !fileExists(t, filepath.Join(dir, journalFileName)) {
		t.Errorf("journal.db not created inside %q", dir)
	}
}

func TestConcurrentTransitions(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	inv := claimTest(t, j, "a.xml")
	move(t, j, inv.ID, StateClaimed, StateReady, nil)
	// Many goroutines race to send the same invoice: exactly one may win.
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range n {
		wg.Go(func() {
			err := j.MarkSending(ctx, []int64{inv.ID}, Sending{Mode: "online", SessionRef: "S"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 {
		t.Errorf("wins=%d conflicts=%d, want 1 and %d", wins, conflicts, n-1)
	}
}

// TestQueriesUseIndexes keeps every hot query off full table scans, so 10 000+ invoices stay fast.
func TestQueriesUseIndexes(t *testing.T) {
	j, _ := openTest(t)
	byState, byStateArgs := byStateQuery(testNIP, []State{StateReady, StateSending})
	byStateAll, byStateAllArgs := byStateQuery("", []State{StateClaiming})
	rej, rejArgs := recentRejectionsQuery(testNIP, 10)
	tests := []struct {
		name  string
		query string
		args  []any
	}{
		{"ByID", queryByID, []any{1}},
		{"ByState", byState, byStateArgs},
		{"ByState all NIPs", byStateAll, byStateAllArgs},
		{"FindAccepted", queryFindAccepted, []any{testNIP, "h"}},
		{"InFlight", queryInFlight, []any{testNIP, "h", 1}},
		{"CountByState", queryCountByState, []any{testNIP}},
		{"RecentRejections", rej, rejArgs},
		{"PendingSources", queryPendingSources, []any{"claiming"}},
		{"StatePage", queryStatePage, []any{testNIP, "accepted", 0, 1000}},
		{"PendingForPath", queryPendingForPath, []any{testNIP, "/p", "h"}},
		{"DeliveredAmong", queryDeliveredAmong(2), []any{testNIP, "K", "L"}},
		{"Sessions", `SELECT ref FROM sessions WHERE nip = ? AND state IN (?) ORDER BY created_at, ref`, []any{testNIP, "open"}},
		{"OfflinePending", queryOfflinePending, []any{testNIP}},
		{"RejectedOffline", queryRejectedOffline, []any{testNIP, "FV/1"}},
		{"WaitingSessions", queryWaiting, []any{testNIP, "submitted"}},
		{"InSession", queryInSession, []any{"S-1", testNIP, "submitted"}},
		{"HashesTaken", queryHashesTaken, []any{testNIP}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := j.db.Query("EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			t.Logf("%q", plan)
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, " USING ") {
					t.Errorf("full table scan %q in plan %q", step, plan)
				}
			}
		})
	}
}

func TestCommitPull(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	d := func(n string) Delivered { return Delivered{KsefNumber: n, Subject: "Subject2", Path: "/in/" + n} }

	cursorIs := func(want time.Time, wantOK bool) {
		t.Helper()
		got, ok, err := j.Cursor(ctx, testNIP, "Subject2")
		if err != nil || ok != wantOK || !got.Equal(want) {
			t.Fatalf("Cursor = %v, %v, %v; want %v, %v", got, ok, err, want, wantOK)
		}
	}
	delivered := func(n string) bool {
		t.Helper()
		got, err := j.DeliveredAmong(ctx, testNIP, []string{n})
		if err != nil {
			t.Fatal(err)
		}
		return got[n]
	}

	// A bad entry rolls back the whole commit: no delivery, no cursor.
	if err := j.CommitPull(ctx, testNIP, "Subject2", t1, []Delivered{d("K-1"), d("")}); err == nil {
		t.Fatal("CommitPull with an empty KSeF number succeeded")
	}
	if delivered("K-1") {
		t.Error("failed CommitPull left a delivery behind")
	}
	cursorIs(time.Time{}, false)

	if err := j.CommitPull(ctx, testNIP, "Subject2", t1, []Delivered{d("K-1"), d("K-2")}); err != nil {
		t.Fatal(err)
	}
	cursorIs(t1, true)
	// Backward cursor: deliveries still recorded, cursor kept; zero cursor: deliveries only.
	if err := j.CommitPull(ctx, testNIP, "Subject2", t1.Add(-time.Hour), []Delivered{d("K-3")}); err != nil {
		t.Fatal(err)
	}
	if err := j.CommitPull(ctx, testNIP, "Subject2", time.Time{}, []Delivered{d("k-4"), d("K-1")}); err != nil {
		t.Fatal(err)
	}
	cursorIs(t1, true)
	for _, n := range []string{"K-1", "K-2", "K-3", "K-4"} {
		if !delivered(n) {
			t.Errorf("%s not delivered", n)
		}
	}
}

func TestTransitionLogLine(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	j, err := Open(context.Background(), t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const secretContent = "<Faktura>TOP-SECRET-CONTENT</Faktura>"
	inv, err := claimOne(j, context.Background(), testNIP, outboxFile(t, "FV_9.xml", []byte(secretContent)))
	if err != nil {
		t.Fatal(err)
	}
	move(t, j, inv.ID, StateClaimed, StateAccepted, func(x *Invoice) { x.SessionRef, x.KsefNumber = "S-9", "K-9" })

	mu.Lock()
	defer mu.Unlock()
	var last map[string]any
	for line := range strings.Lines(buf.String()) {
		if strings.Contains(line, secretContent) || strings.Contains(line, "TOP-SECRET") {
			t.Errorf("invoice content logged: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["to"] == string(StateAccepted) {
			last = m
		}
	}
	want := map[string]any{"invoice": float64(inv.ID), "file": "FV_9.xml", "from": "claimed", "to": "accepted",
		"session": "S-9", "ksef_number": "K-9", "nip": testNIP}
	for k, v := range want {
		if last[k] != v {
			t.Errorf("log key %s = %v, want %v (line %v)", k, last[k], v, last)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestDeliveredAmongAcrossChunks: a package's numbers are asked about a thousand at a time; the
// delivered ones are found in every chunk, the first and last included, and nothing else is.
func TestDeliveredAmongAcrossChunks(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	numbers := make([]string, 2*deliveredChunk+500)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("5265877635-20261122-%012X-00", i)
	}
	want := map[string]bool{}
	var ds []Delivered
	for _, i := range []int{0, deliveredChunk - 1, deliveredChunk, len(numbers) - 1} {
		want[numbers[i]] = true
		ds = append(ds, Delivered{KsefNumber: numbers[i], Subject: "Subject2", Path: "/inbox/" + numbers[i] + ".xml",
			PermanentStorageDate: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)})
	}
	if err := j.CommitPull(ctx, testNIP, "Subject2", time.Time{}, ds); err != nil {
		t.Fatal(err)
	}
	got, err := j.DeliveredAmong(ctx, testNIP, numbers)
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("DeliveredAmong over %d numbers = %v, %v; want %v", len(numbers), got, err, want)
	}
}
