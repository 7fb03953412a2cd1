// Package testutil holds small helpers shared by the tests of several packages.
package testutil

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
)

// ReadFile reads the file at path, failing the test when it cannot.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// LogBuffer is a goroutine-safe sink for log output written from several goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ReplaceOnce replaces the first old in s by new, failing the test when s does not contain old:
// a test that edits a sample document must not pass because the edit silently did nothing.
func ReplaceOnce[S ~string | ~[]byte](t testing.TB, s S, old, new string) S {
	t.Helper()
	if !strings.Contains(string(s), old) {
		t.Fatalf("the text to edit does not contain %q", old)
	}
	return S(strings.Replace(string(s), old, new, 1))
}
