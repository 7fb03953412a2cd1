// Package layering holds the test that enforces the house dependency rules.
package layering

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

const module = "github.com/ksef-sync/ksef-sync/"

// TestDependencyDirection is the one mechanism that keeps the rooms apart: watcher, spool and ksef
// never import each other (nor the rooms that wire them); the send engine and the pull are separate
// rooms that only the command wires; the simulator is an independent KSeF and shares no code with
// our client. It asks the go tool for each package's real dependency closure, so an indirect import
// through a helper package is caught too.
func TestDependencyDirection(t *testing.T) {
	testutil.SkipUnderWine(t, "asks the go tool, which Wine does not have (the Linux run checks the same source)")
	wiring := []string{"internal/engine", "internal/pull", "cmd/"}
	forbidden := map[string][]string{
		"watcher":                append([]string{"spool", "ksef"}, wiring...),
		"spool":                  append([]string{"watcher", "ksef"}, wiring...),
		"ksef":                   append([]string{"watcher", "spool", "internal/config"}, wiring...),
		"ksef/ksefsim":           append([]string{"ksef", "watcher", "spool", "internal/config"}, wiring...),
		"ksef/xades":             append([]string{"ksef", "watcher", "spool"}, wiring...),
		"internal/engine":        {"internal/pull", "cmd/"},
		"internal/pull":          {"internal/engine", "watcher", "cmd/"},
		"internal/slidingwindow": {"ksef", "spool", "watcher", "internal/config", "internal/engine", "internal/pull", "cmd/"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if !strings.HasPrefix(dep, module) {
				continue
			}
			rel := strings.TrimPrefix(dep, module)
			for _, b := range bad {
				if matches(rel, b) {
					t.Errorf("%s imports %s, which the layering forbids", pkg, rel)
				}
			}
		}
	}
}

// matches treats a rule ending in "/" as a folder prefix and any other rule as one exact package.
func matches(pkg, rule string) bool {
	if strings.HasSuffix(rule, "/") {
		return strings.HasPrefix(pkg, rule)
	}
	return pkg == rule
}
