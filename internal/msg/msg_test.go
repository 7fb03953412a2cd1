package msg

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// verbRE finds fmt verbs (not %%), with flags and width, e.g. %d, %q, %04X, %02X.
var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*[a-zA-Z]`)

// TestCatalogueIsComplete: every Key constant declared in catalogue.go has a Polish and an English
// text, both one line, with the same fmt verbs in the same order; and the catalogue has no entry
// without a constant. A message can therefore not exist in one language only.
func TestCatalogueIsComplete(t *testing.T) {
	keys := declaredKeys(t)
	if len(keys) < 100 {
		t.Fatalf("found only %d Key constants in catalogue.go: the scan is broken", len(keys))
	}
	seen := map[Key]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("key %q is declared twice", k)
		}
		seen[k] = true
		tx, ok := catalogue[k]
		if !ok {
			t.Errorf("key %q has no text", k)
			continue
		}
		if tx.pl == "" || tx.en == "" || strings.ContainsAny(tx.pl+tx.en, "\r\n") {
			t.Errorf("key %q: pl %q, en %q: both must be one non-empty line", k, tx.pl, tx.en)
		}
		if diff := cmp.Diff(verbRE.FindAllString(tx.en, -1), verbRE.FindAllString(tx.pl, -1)); diff != "" {
			t.Errorf("key %q: the languages take different arguments (-en +pl):\n%s", k, diff)
		}
	}
	for k := range catalogue {
		if !seen[k] {
			t.Errorf("catalogue entry %q has no Key constant", k)
		}
	}
}

// declaredKeys reads the values of the Key constants in catalogue.go.
func declaredKeys(t *testing.T) []Key {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "catalogue.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []Key
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					keys = append(keys, Key(strings.Trim(lit.Value, `"`)))
				}
			}
		}
	}
	return keys
}

func TestRenderInBothLanguages(t *testing.T) {
	m := M(InvMissingFieldHint, InvFieldP2)
	if got, want := m.In(PL), "uzupełnij w systemie ERP: numer faktury (P_2), i wyeksportuj fakturę ponownie"; got != want {
		t.Errorf("pl = %q, want %q", got, want)
	}
	if got, want := m.In(EN), "fill in the invoice number (numer faktury, P_2) in the ERP and export the invoice again"; got != want {
		t.Errorf("en = %q, want %q", got, want)
	}
	nested := M(InvForbiddenCharDesc, M(InvCharAt, 1, 75, 25))
	if got, want := nested.In(PL), "znak U+0001 w wierszu 75, kolumnie 25 jest niedozwolony w fakturze"; got != want {
		t.Errorf("nested pl = %q, want %q", got, want)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Lang{"": PL, "pl": PL, " PL ": PL, "en": EN, "EN": EN} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Parse("de"); err == nil || !slices.Contains(strings.Fields(err.Error()), "pl") {
		t.Errorf("Parse(de) = %v, want an error naming pl and en", err)
	}
}
