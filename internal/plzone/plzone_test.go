package plzone

import (
	"testing"
	"time"
)

// TestWarsawKeepsSummerTime fails when the zone fell back to a fixed offset, as it did in a
// Windows test binary without an embedded tz database.
func TestWarsawKeepsSummerTime(t *testing.T) {
	july := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC).In(Warsaw)
	jan := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).In(Warsaw)
	if july.Hour() != 12 || jan.Hour() != 11 {
		t.Fatalf("10:00 UTC is %s in July and %s in January, want 12:00 and 11:00", july.Format("15:04 MST"), jan.Format("15:04 MST"))
	}
}
