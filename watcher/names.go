package watcher

import (
	"fmt"
	"path/filepath"
	"strings"
)

// tempSuffixes are names that writers (browsers, copy tools, our own
// atomic-write helper) use while a file is still incomplete.
var tempSuffixes = []string{".tmp", ".part", ".partial", ".crdownload"}

// nameFilter decides, from the base name alone, whether a file is a
// candidate. Patterns are stored lower-cased so matching is case-insensitive.
type nameFilter struct {
	patterns []string
}

func newNameFilter(patterns []string) (nameFilter, error) {
	lowered := make([]string, 0, len(patterns))
	for _, p := range patterns {
		if p == "" {
			return nameFilter{}, fmt.Errorf("empty pattern")
		}
		lp := strings.ToLower(p)
		if _, err := filepath.Match(lp, ""); err != nil {
			return nameFilter{}, fmt.Errorf("pattern %q: %w", p, err)
		}
		lowered = append(lowered, lp)
	}
	return nameFilter{patterns: lowered}, nil
}

func (f nameFilter) match(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") {
		return false
	}
	lower := strings.ToLower(name)
	for _, s := range tempSuffixes {
		if strings.HasSuffix(lower, s) {
			return false
		}
	}
	for _, p := range f.patterns {
		// The pattern was validated in newNameFilter, so Match cannot fail.
		if ok, _ := filepath.Match(p, lower); ok {
			return true
		}
	}
	return false
}
