// Package layering holds the test that enforces the house dependency rules.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ksef-sync/ksef-sync/"

// TestDependencyDirection keeps watcher, spool and ksef independent of each other (and of the
// engine and the command): only internal/engine wires them together.
func TestDependencyDirection(t *testing.T) {
	forbidden := map[string][]string{
		"watcher":      {"spool", "ksef", "internal/engine", "cmd/"},
		"spool":        {"watcher", "ksef", "internal/engine", "cmd/"},
		"ksef":         {"watcher", "spool", "internal/engine", "internal/config", "cmd/"},
		"ksef/ksefsim": {"ksef", "watcher", "spool", "internal/engine", "internal/config", "cmd/"}, // an independent implementation
		"ksef/xades":   {"ksef", "watcher", "spool", "internal/engine", "cmd/"},
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
