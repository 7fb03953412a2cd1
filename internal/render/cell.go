package render

import (
	"strconv"
	"strings"
	"unsafe"
)

// textCell prints text, already in the fonts' encoding, in a borderless, unfilled cell of width w
// and height h, aligned "L", "R" or "C", then moves as fpdf's CellFormat does for ln (0: to the
// right, 1: to the next line at the left margin, 2: below).
//
// It writes exactly what CellFormat writes for such a cell with the single-byte fonts, but with
// strconv into a reused buffer: CellFormat formats through fmt.Sprintf and copies each cell's
// operators twice, which was a tenth of a PDF's CPU and allocation. The UTF-8 fonts (whose cells
// also record the characters used) and anything unusual still go through CellFormat.
func (p *pdfw) textCell(w, h float64, text string, ln int, align string) {
	f := p.f
	if p.cp == nil || w == 0 || f.Err() || (align != "L" && align != "R" && align != "C") {
		f.CellFormat(w, h, text, "", ln, align, false, 0, "")
		return
	}
	x, y := f.GetXY()
	if text != "" {
		k := f.GetConversionRatio()
		_, ph := f.GetPageSize()
		_, size := f.GetFontSize()
		var dx float64
		switch align {
		case "R":
			dx = w - f.GetCellMargin() - f.GetStringWidth(text)
		case "C":
			dx = (w - f.GetStringWidth(text)) / 2
		default:
			dx = f.GetCellMargin()
		}
		b := p.cellBuf[:0]
		tr, tg, tb := f.GetTextColor()
		fr, fg, fb := f.GetFillColor()
		coloured := tr != fr || tg != fg || tb != fb // fpdf's colorFlag: the two colours' operators differ
		if coloured {
			b = append(b, "q "...)
			b = appendTextColor(b, tr, tg, tb)
			b = append(b, ' ')
		}
		b = append(b, "BT "...)
		b = strconv.AppendFloat(b, (x+dx)*k, 'f', 2, 64)
		b = append(b, ' ')
		b = strconv.AppendFloat(b, (ph-(y+.5*h+.3*size))*k, 'f', 2, 64)
		b = append(b, " Td ("...)
		b = appendEscaped(b, text)
		b = append(b, ")Tj ET"...)
		if coloured {
			b = append(b, " Q"...)
		}
		p.cellBuf = b
		writeRaw(f, b)
	}
	switch ln {
	case 0:
		f.SetXY(x+w, y)
	case 1:
		left, _, _, _ := f.GetMargins()
		f.SetXY(left, y+h)
	default:
		f.SetXY(x, y+h)
	}
}

// appendTextColor appends fpdf's text colour operator for r, g, b.
func appendTextColor(b []byte, r, g, bl int) []byte {
	return appendColor(b, r, g, bl, "g", "rg")
}

// appendColor appends fpdf's colour operator for r, g, b: "0.353 g" (greyOp) for a grey, by
// fpdf's own test of greyness, "r g b rg" (fullOp) otherwise, each component to three decimals.
func appendColor(b []byte, r, g, bl int, greyOp, fullOp string) []byte {
	rf, gf, bf := float64(r)/255, float64(g)/255, float64(bl)/255
	b = strconv.AppendFloat(b, rf, 'f', 3, 64)
	if r == g && rf == bf {
		return append(append(b, ' '), greyOp...)
	}
	b = append(b, ' ')
	b = strconv.AppendFloat(b, gf, 'f', 3, 64)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, bf, 'f', 3, 64)
	return append(append(b, ' '), fullOp...)
}

// appendEscaped appends s with the backslashes and parentheses of a PDF string escaped.
func appendEscaped(b []byte, s string) []byte {
	if !strings.ContainsAny(s, `\()`) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '(' || c == ')' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// writeRaw writes page operators from a reused buffer without copying them into a string first:
// fpdf's RawWriteStr copies its argument into the page at once and keeps no reference to it.
func writeRaw(f canvas, b []byte) {
	f.RawWriteStr(unsafe.String(unsafe.SliceData(b), len(b)))
}
