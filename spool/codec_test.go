package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTimeCodec(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, ""},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000000000Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("CET", 3600)), "2026-01-02T02:04:05.000000600Z"},
	}
	for _, tt := range tests {
		got, err := encodeTime(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("encodeTime(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		back, err := decodeTime(got)
		if err != nil || !back.Equal(tt.in) {
			t.Errorf("decodeTime(%q) = %v, %v; want %v", got, back, err, tt.in)
		}
	}
	if _, err := encodeTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("encodeTime accepted year 10000")
	}
	if _, err := decodeTime("yesterday"); err == nil {
		t.Error("decodeTime accepted garbage")
	}
}

func TestDetailsCodec(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{}, ""},
		{[]string{"a", `b "c"`}, `["a","b \"c\""]`},
		{[]string{"\xff"}, `["` + "\uFFFD" + `"]`},
	}
	for _, tt := range tests {
		got, err := encodeDetails(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("encodeDetails(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := decodeDetails("{"); err == nil {
		t.Error("decodeDetails accepted broken JSON")
	}
}

// FuzzJournalCodec round-trips the journal's text encodings (times and error details) and feeds
// arbitrary stored text to the decoders, which must fail cleanly rather than panic.
func FuzzJournalCodec(f *testing.F) {
	f.Add(int64(0), "a\x00b", "2026-01-02T03:04:05.000000000Z", `["x"]`)
	f.Add(int64(1763794800123456789), "", "", "")
	f.Add(int64(-1), "\xff\x00\"\\", "2026-01-02T03:04:05+01:00", `[1]`)
	f.Fuzz(func(t *testing.T, nanos int64, joined, storedTime, storedDetails string) {
		tm := time.Unix(0, nanos)
		enc, err := encodeTime(tm)
		if err != nil {
			t.Fatalf("encodeTime(%v): %v", tm, err)
		}
		if len(enc) != len(timeLayout) {
			t.Fatalf("encodeTime(%v) = %q: not fixed width", tm, enc)
		}
		back, err := decodeTime(enc)
		if err != nil || !back.Equal(tm) {
			t.Fatalf("time round trip %v → %q → %v, %v", tm, enc, back, err)
		}

		details := strings.Split(joined, "\x00")
		encD, err := encodeDetails(details)
		if err != nil {
			t.Fatal(err)
		}
		gotD, err := decodeDetails(encD)
		if err != nil {
			t.Fatalf("decodeDetails(%q): %v", encD, err)
		}
		want := make([]string, len(details))
		for i, s := range details {
			want[i] = strings.ToValidUTF8(s, "\uFFFD")
		}
		if diff := cmp.Diff(want, gotD); diff != "" {
			t.Fatalf("details round trip (-want +got):\n%s", diff)
		}

		// Arbitrary stored text: decoding may fail, but what decodes must re-encode stably.
		if dt, err := decodeTime(storedTime); err == nil && !dt.IsZero() {
			if re, err := encodeTime(dt); err == nil {
				if again, err := decodeTime(re); err != nil || !again.Equal(dt) {
					t.Fatalf("stored time %q → %v → %q → %v, %v", storedTime, dt, re, again, err)
				}
			}
		}
		if dd, err := decodeDetails(storedDetails); err == nil {
			for _, s := range dd {
				if !utf8.ValidString(s) {
					t.Fatalf("decoded detail %q is not valid UTF-8", s)
				}
			}
		}
	})
}

func TestPathCodec(t *testing.T) {
	j := &Journal{dir: filepath.FromSlash("/var/lib/ksef-sync")}
	tests := []struct{ in, stored string }{
		{"", ""},
		{filepath.FromSlash("/var/lib/ksef-sync/spool/1.orig"), "spool/1.orig"},
		{filepath.FromSlash("/srv/erp/sent/x.xml"), filepath.FromSlash("/srv/erp/sent/x.xml")},
		{filepath.FromSlash("/var/lib/ksef-sync-other/x"), filepath.FromSlash("/var/lib/ksef-sync-other/x")},
	}
	for _, tt := range tests {
		if got := j.storePath(tt.in); got != tt.stored {
			t.Errorf("storePath(%q) = %q, want %q", tt.in, got, tt.stored)
		}
		if got := j.loadPath(tt.stored); got != tt.in {
			t.Errorf("loadPath(%q) = %q, want %q", tt.stored, got, tt.in)
		}
	}
}

func BenchmarkTransition(b *testing.B) {
	j, _ := openTest(b)
	ctx := context.Background()
	inv := claimTest(b, j, "bench.xml")
	states := [2]State{StateClaimed, StateReady}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := states[i%2], states[(i+1)%2]
		if err := j.transition(ctx, inv.ID, []State{from}, to, func(x *Invoice) { x.Attempts++ }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
}

func BenchmarkClaim(b *testing.B) {
	j, _ := openTest(b)
	ctx := context.Background()
	outbox := b.TempDir()
	paths := make([]string, b.N)
	body := []byte(strings.Repeat("<Faktura>x</Faktura>\n", 200)) // ~4 KB, a typical invoice
	for i := range paths {
		paths[i] = filepath.Join(outbox, fmt.Sprintf("FV_%06d.xml", i))
		if err := writeTestFile(paths[i], append(body, fmt.Sprint(i)...)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := claimOne(j, ctx, testNIP, paths[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}

// BenchmarkChangeMany1000 moves 1,000 invoices back and forth in one transaction each time: the
// per-record cost of the journal's state changes, which a 10,000-invoice burst pays seven times.
func BenchmarkChangeMany1000(b *testing.B) {
	j, _ := openTest(b)
	ctx := context.Background()
	dir, paths := b.TempDir(), make([]string, 1000)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("FV_%04d.xml", i))
		if err := writeTestFile(paths[i], []byte(strings.Repeat("<Faktura>x</Faktura>\n", 100))); err != nil {
			b.Fatal(err)
		}
	}
	invs, _ := j.ClaimMany(ctx, testNIP, paths)
	ids := make([]int64, len(invs))
	for i, inv := range invs {
		ids[i] = inv.ID
	}
	states := [2]State{StateClaimed, StateReady}
	n := 0
	for b.Loop() {
		from, to := states[n%2], states[(n+1)%2]
		n++
		err := j.changeMany(ctx, ids, func(x *Invoice) (State, error) {
			if x.State != from {
				return "", ErrConflict
			}
			x.Attempts++
			x.RegisteredHash = fmt.Sprint("h", x.Attempts)
			return to, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*len(ids))/b.Elapsed().Seconds(), "changes/s")
}

// TestUpdateColumnsMatchArgs: the column list the partial updates use lines up with updateArgs
// (every value but the trailing id), so a change can never land in the wrong column.
func TestUpdateColumnsMatchArgs(t *testing.T) {
	j, _ := openTest(t)
	args, err := j.updateArgs(&Invoice{ID: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(updateColumns) != len(args)-1 || updateColumns[0] != "nip" || updateColumns[len(updateColumns)-1] != "corrected_file" {
		t.Fatalf("%d columns %q for %d values", len(updateColumns), updateColumns, len(args)-1)
	}
}
