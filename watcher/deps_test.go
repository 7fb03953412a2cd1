package watcher

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestNoForbiddenImports keeps the layering: watcher must not depend on
// spool, ksef or the engine (the engine is the only package joining them).
func TestNoForbiddenImports(t *testing.T) {
	forbidden := []string{
		"github.com/ksef-sync/ksef-sync/spool",
		"github.com/ksef-sync/ksef-sync/ksef",
		"github.com/ksef-sync/ksef-sync/internal/engine",
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, f := range forbidden {
				if path == f || strings.HasPrefix(path, f+"/") {
					t.Errorf("%s imports %s; watcher must not import spool, ksef or the engine", e.Name(), path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
