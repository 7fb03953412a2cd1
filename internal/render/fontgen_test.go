package render

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

var updateFonts = flag.Bool("update-fonts", false, "rewrite fonts/*-cp1250.json from the Go fonts (cut to cp1250) with fpdf's makefont")

// TestFontDefinitionsAreCurrent regenerates the cp1250 font definitions (fpdf's makefont format:
// metrics, glyph widths, the encoding's differences and the size of the embedded subset) from the
// Go fonts this build embeds, cut as at run time, and
// compares them with the committed ones, so a newer x/image or fpdf cannot leave them stale.
// With -update-fonts it rewrites them.
func TestFontDefinitionsAreCurrent(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "codeberg.org/go-pdf/fpdf").Output()
	if err != nil {
		t.Skipf("cannot locate fpdf's source for its cp1250 map: %v", err)
	}
	encMap := filepath.Join(strings.TrimSpace(string(out)), "font_embed", "cp1250.map")
	for name, ttf := range map[string][]byte{"goregular": goregular.TTF, "gobold": gobold.TTF} {
		sub, err := subsetTTF(ttf, cp1250Repertoire())
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(dir, name+".ttf")
		if err := os.WriteFile(src, sub, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := fpdf.MakeFont(src, encMap, dir, nil, true); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		committed := filepath.Join("fonts", name+"-cp1250.json")
		if *updateFonts {
			if err := os.WriteFile(committed, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test -run TestFontDefinitionsAreCurrent -update-fonts ./internal/render/", committed)
		}
	}
}
