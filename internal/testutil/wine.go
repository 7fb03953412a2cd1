package testutil

import "testing"

// UnderWine reports whether the test binary runs under Wine (make test-windows runs every
// package's Windows test binary there).
func UnderWine() bool { return underWine() }

// SkipUnderWine skips a test that cannot run under Wine, saying why; everywhere else, real
// Windows included, the test runs.
func SkipUnderWine(t testing.TB, why string) {
	t.Helper()
	if UnderWine() {
		t.Skip("under Wine: " + why)
	}
}
