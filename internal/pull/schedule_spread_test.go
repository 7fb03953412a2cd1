package pull

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestSpreadKeepsEachCompanyAtItsOffset(t *testing.T) {
	sched, err := cron.ParseStandard("*/15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		now      string
		fraction float64
		want     string
	}{
		{"2026-02-02T10:01:00Z", 0, "2026-02-02T10:15:00Z"},
		{"2026-02-02T10:01:00Z", 0.5, "2026-02-02T10:07:30Z"},  // this quarter's slot is still ahead
		{"2026-02-02T10:08:00Z", 0.5, "2026-02-02T10:22:30Z"},  // passed: the next quarter's
		{"2026-02-02T10:14:50Z", 0.99, "2026-02-02T10:14:51Z"}, // 10:00 + 0.99·15m, still ahead
		{"2026-02-02T10:14:59Z", 0.99, "2026-02-02T10:29:51Z"},
	}
	for _, tt := range tests {
		got := spreadNext(sched, at(tt.now), tt.fraction)
		if want := at(tt.want); got.Sub(want).Abs() >= time.Second {
			t.Errorf("spreadNext(%s, %v) = %s, want %s", tt.now, tt.fraction, got.Format(time.RFC3339), tt.want)
		}
	}
}
