package render

import (
	"bytes"
	"regexp"
	"testing"

	"codeberg.org/go-pdf/fpdf"
)

// TestTextCellIsCellFormat: textCell writes the same page operators and leaves the same position
// as fpdf's CellFormat, for every alignment, line mode and colour combination the layout uses and
// for texts that need escaping.
func TestTextCellIsCellFormat(t *testing.T) {
	fonts, err := cp1250Fonts()
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"", "Faktura VAT", "a (b) c\\d", "1 234,56", "\xa3\xf3d\xbc"} // "Łódź" in Windows-1250
	colours := [][2][3]int{
		{{0, 0, 0}, {0, 0, 0}}, {{90, 90, 90}, {230, 230, 230}}, {{110, 110, 110}, {0, 0, 0}},
		{{200, 10, 10}, {0, 0, 0}}, {{10, 10, 20}, {10, 10, 20}}, {{10, 10, 20}, {0, 0, 0}},
	}
	draw := func(fast bool) ([]byte, [][2]float64) {
		f := fpdf.New("P", "mm", "A4", "")
		f.AddFontFromBytes(fontFamily, "", fonts.regular.def, fonts.regular.z)
		f.AddFontFromBytes(fontFamily, "B", fonts.bold.def, fonts.bold.z)
		f.SetCompression(false)
		f.SetCatalogSort(true) // the font dictionary in a fixed order
		f.SetMargins(marginX, marginTop, marginX)
		f.SetAutoPageBreak(false, marginBot)
		f.AddPage()
		p := &pdfw{f: f, cp: fonts}
		var at [][2]float64
		for _, c := range colours {
			f.SetTextColor(c[0][0], c[0][1], c[0][2])
			f.SetFillColor(c[1][0], c[1][1], c[1][2])
			for _, bold := range []bool{false, true} {
				p.font(bold, bodySize)
				for _, text := range texts {
					for _, align := range []string{"L", "R", "C"} {
						for ln := range 3 {
							f.SetXY(marginX+7.3, 40.25)
							if fast {
								p.textCell(61.7, lineH, text, ln, align)
							} else {
								f.CellFormat(61.7, lineH, text, "", ln, align, false, 0, "")
							}
							x, y := f.GetXY()
							at = append(at, [2]float64{x, y})
						}
					}
				}
			}
		}
		var out bytes.Buffer
		if err := f.Output(&out); err != nil {
			t.Fatal(err)
		}
		return out.Bytes(), at
	}
	want, wantAt := draw(false)
	got, gotAt := draw(true)
	if !bytes.Equal(stamp.ReplaceAll(got, nil), stamp.ReplaceAll(want, nil)) {
		t.Error("textCell wrote other page content than CellFormat")
	}
	for i := range wantAt {
		if gotAt[i] != wantAt[i] {
			t.Fatalf("cell %d: position %v after textCell, %v after CellFormat", i, gotAt[i], wantAt[i])
		}
	}
}

// stamp is a PDF date (D:YYYYMMDDHHMMSS), masked when two renderings are compared.
var stamp = regexp.MustCompile(`D:\d{14}`)
