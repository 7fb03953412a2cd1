package render

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// Page geometry in millimetres (A4) and type sizes in points.
const (
	marginX    = 14.0
	marginTop  = 12.0
	marginBot  = 16.0
	pad        = 1.0
	lineH      = 3.9
	bodySize   = 8.5
	smallSize  = 7.0
	titleSize  = 15.0
	sectionGap = 3.0
	qrSize     = 34.0
	fontFamily = "go"
	nbAlias    = "{nb}"
)

type pdfw struct {
	f      canvas
	d      *doc
	width  float64  // usable width
	bottom float64  // lowest y for content
	cp     *cpFonts // the Windows-1250 faces, or nil on the UTF-8 path
	lossy  bool     // a text had a character the Windows-1250 faces lack
	// cellBuf is a reused buffer for the operators of a text cell or a QR code
	cellBuf []byte
}

type cellStyle int

const (
	plain   cellStyle = iota
	boxed             // a table cell
	heading           // a table header cell: bold on grey
	label             // grey, the left side of a label/value line
	strong            // bold, a total
)

// writePDF lays the document out on A4 pages. Breaks are placed by hand (auto page break is off) so
// that table headers repeat and no row is cut in half unless it is taller than a page. The
// prepared Windows-1250 fonts are tried first; a document they cannot spell is laid out again with
// the UTF-8 fonts (see fonts.go).
func writePDF(d *doc) ([]byte, error) {
	if fonts, err := cp1250Fonts(); err == nil {
		if out, lossy, err := layoutCP(d, fonts); !lossy {
			return out, err
		}
	}
	out, _, err := layoutPDF(d, nil)
	return out, err
}

// layoutPDF lays d out with fpdf: with the UTF-8 fonts when fonts is nil, else with the
// Windows-1250 faces (what layoutCP writes without fpdf, kept as its reference and fallback).
func layoutPDF(d *doc, fonts *cpFonts) (pdf []byte, lossy bool, err error) {
	f := newFpdf(fonts)
	f.SetTitle(d.docTitle, true)
	// A fixed date from the document itself makes the output reproducible: the same XML always
	// gives the same bytes.
	created := docCreated(d)
	f.SetCreationDate(created)
	f.SetModificationDate(created)
	pw, ph := f.GetPageSize()
	p := &pdfw{f: f, d: d, width: pw - 2*marginX, bottom: ph - marginBot, cp: fonts}
	f.SetFooterFunc(p.footer)
	defer p.borrowOps()()
	if err := p.draw(); err != nil {
		return nil, false, err
	}
	if p.lossy {
		return nil, true, nil
	}
	// fpdf's plain output is only read by deflatePages, which copies it: its buffer is reused.
	buf := plainPDFs.get()
	defer plainPDFs.put(buf)
	buf.Reset()
	if err := f.Output(buf); err != nil {
		return nil, false, fmt.Errorf("render PDF: %w", err)
	}
	out, err := deflatePages(buf.Bytes(), fonts)
	return out, false, err
}

// docCreated is the document's own time stamp; the zero time (fpdf then stamps the clock) when it
// has none.
func docCreated(d *doc) time.Time {
	created, _ := time.Parse(time.RFC3339Nano, d.created)
	return created
}

// newFpdf is an fpdf document set up as every PDF of ours is, before its title and dates.
func newFpdf(fonts *cpFonts) *fpdf.Fpdf {
	f := fpdf.New("P", "mm", "A4", "")
	if fonts != nil {
		// fpdf gets a stand-in for each font program; deflatePages puts the program in its place
		f.AddFontFromBytes(fontFamily, "", fonts.regular.def, fonts.regular.embedded())
		f.AddFontFromBytes(fontFamily, "B", fonts.bold.def, fonts.bold.embedded())
	} else {
		f.AddUTF8FontFromBytes(fontFamily, "", goregular.TTF)
		f.AddUTF8FontFromBytes(fontFamily, "B", gobold.TTF)
	}
	f.SetCompression(false) // deflatePages compresses the pages with pooled writers
	f.SetMargins(marginX, marginTop, marginX)
	f.SetAutoPageBreak(false, marginBot)
	f.SetCreator("ksef-sync", true)
	f.SetProducer("ksef-sync", true)
	f.SetCatalogSort(true) // fonts in a fixed order: reproducible bytes
	f.AliasNbPages(nbAlias)
	return f
}

// draw lays the whole document out on p's canvas.
func (p *pdfw) draw() error {
	p.f.AddPage()
	p.header()
	for i := range p.d.blocks {
		p.block(&p.d.blocks[i])
	}
	for _, q := range p.d.qrs {
		if err := p.qr(q); err != nil {
			return err
		}
	}
	return nil
}

// borrowOps lends p a kept operator buffer until the returned function runs, which must be after
// the document is finished: the last page's footer is drawn then.
func (p *pdfw) borrowOps() (release func()) {
	ops := opBufs.get()
	p.cellBuf = (*ops)[:0]
	return func() {
		*ops, p.cellBuf = p.cellBuf, nil
		opBufs.put(ops)
	}
}

// opBufs holds pdfw.cellBuf between documents (a QR code's path is some 20 KB).
var opBufs = newKeep(func() *[]byte { return new([]byte) })

var plainPDFs = newKeep(func() *bytes.Buffer { return new(bytes.Buffer) })

// enc gives text in the encoding of the current fonts, noting what they cannot show.
func (p *pdfw) enc(text string) string {
	if p.cp == nil {
		return text
	}
	out, ok := encodeCP1250(text)
	p.lossy = p.lossy || !ok
	return out
}

// cell prints text (not yet encoded) in a borderless cell.
func (p *pdfw) cell(w, h float64, text string, ln int, align string) {
	p.textCell(w, h, p.enc(text), ln, align)
}

func (p *pdfw) font(bold bool, size float64) {
	style := ""
	if bold {
		style = "B"
	}
	// fpdf writes a font selection into the page at every SetFont, even an unchanged one, and
	// the table cells ask for theirs one by one: a tenth of a PDF's CPU went to repeating it.
	// fpdf's own state is what the page shows (AddPage selects it again on a new page).
	f := p.f
	if pt, _ := f.GetFontSize(); f.GetFontFamily() == fontFamily && f.GetFontStyle() == style && pt == size {
		return
	}
	f.SetFont(fontFamily, style, size)
}

func (p *pdfw) footer() {
	f, lb := p.f, p.d.lb
	f.SetY(-marginBot + 6)
	p.font(false, smallSize)
	f.SetTextColor(110, 110, 110)
	p.cell(p.width/2, 4, lb.generated, 0, "L")
	p.cell(p.width/2, 4, fmt.Sprintf("%s %d %s %s", lb.page, f.PageNo(), lb.of, nbAlias), 0, "R")
	f.SetTextColor(0, 0, 0)
}

// header prints the system's name, the document's kind and the numbers that identify it.
func (p *pdfw) header() {
	f, d := p.f, p.d
	p.font(false, smallSize)
	f.SetTextColor(110, 110, 110)
	p.cell(p.width, 4, d.kicker, 1, "L")
	f.SetTextColor(0, 0, 0)
	p.font(true, titleSize)
	for _, l := range p.wrap(d.title, p.width, true, titleSize) {
		p.textCell(p.width, 7, l.text, 1, "L")
	}
	for _, h := range d.heading {
		p.font(false, bodySize)
		f.SetTextColor(90, 90, 90)
		p.cell(32, 5.5, h[0]+":", 0, "L")
		f.SetTextColor(0, 0, 0)
		p.font(true, 11)
		p.cell(p.width-32, 5.5, h[1], 1, "L")
	}
	f.SetDrawColor(60, 60, 60)
	f.Line(marginX, f.GetY()+1.5, marginX+p.width, f.GetY()+1.5)
	f.SetY(f.GetY() + sectionGap)
}

func (p *pdfw) block(b *block) {
	f := p.f
	f.SetY(f.GetY() + sectionGap)
	p.sectionTitle(b.title)
	switch b.kind {
	case kvBlock:
		value := plain
		if b.strong {
			value = strong
		}
		for _, kv := range b.pairs {
			p.row([]string{kv[0], kv[1]}, []float64{0.36 * p.width, 0.64 * p.width}, nil, []cellStyle{label, value}, nil, false)
		}
	case textBlock:
		for _, l := range b.lines {
			p.row([]string{l}, []float64{p.width}, nil, []cellStyle{plain}, nil, false)
		}
	case columnsBlock:
		n := len(b.columns)
		widths, heads, bodies, styles, hstyles := make([]float64, n), make([]string, n), make([]string, n), make([]cellStyle, n), make([]cellStyle, n)
		for i, c := range b.columns {
			widths[i] = p.width / 2
			heads[i], bodies[i] = c.title, strings.Join(c.lines, "\n")
			styles[i], hstyles[i] = boxed, heading
		}
		p.row(heads, widths, nil, hstyles, nil, false)
		p.row(bodies, widths, nil, styles, nil, true)
	case tableBlock:
		p.table(b.table)
	}
}

func (p *pdfw) sectionTitle(title string) {
	if title == "" {
		return
	}
	f := p.f
	if f.GetY()+6+3*lineH > p.bottom { // keep a title with at least a few lines of its section
		f.AddPage()
	}
	p.font(true, 10)
	p.cell(p.width, 6, title, 1, "L")
}

func (p *pdfw) table(t *table) {
	total := 0.0
	for _, c := range t.cols {
		total += c.width
	}
	widths, right := make([]float64, len(t.cols)), make([]bool, len(t.cols))
	heads, hstyles, styles := make([]string, len(t.cols)), make([]cellStyle, len(t.cols)), make([]cellStyle, len(t.cols))
	for i, c := range t.cols {
		widths[i], right[i], heads[i] = c.width/total*p.width, c.right, c.head
		hstyles[i], styles[i] = heading, boxed
	}
	header := func() { p.row(heads, widths, nil, hstyles, nil, false) }
	header()
	for _, r := range t.rows {
		if r.muted {
			p.f.SetTextColor(105, 105, 105)
		}
		p.row(r.cells, widths, right, styles, header, r.bold)
		p.f.SetTextColor(0, 0, 0)
	}
}

type line struct {
	text string
	bold bool
}

// split breaks one paragraph into lines no wider than width, as fpdf's SplitText does; on the
// Windows-1250 path it measures bytes with the face's own widths (SplitText reads runes, which
// would garble the encoded text) and returns the lines encoded.
func (p *pdfw) split(para string, width float64, bold bool) []string {
	if p.cp == nil {
		return p.f.SplitText(para, width)
	}
	cw := p.cp.regular.cw
	if bold {
		cw = p.cp.bold.cw
	}
	_, size := p.f.GetFontSize()
	return splitWidths(p.enc(para), cw, int(math.Ceil((width-2*p.f.GetCellMargin())*1000/size)))
}

// splitWidths is fpdf's SplitText over single-byte text: break at the last space before the line
// grows wider than wmax (in thousandths of the font size), or inside a word longer than a line.
func splitWidths(s string, cw []int, wmax int) []string {
	s = strings.TrimRight(s, "\n")
	var lines []string
	sep, i, j, l := -1, 0, 0, 0
	for i < len(s) {
		c := s[i]
		l += cw[c]
		if cp1250Space[c] {
			sep = i
		}
		if c == '\n' || l > wmax {
			if sep == -1 {
				if i == j {
					i++
				}
				sep = i
			} else {
				i = sep + 1
			}
			lines = append(lines, s[j:sep])
			sep, j, l = -1, i, 0
		} else {
			i++
		}
	}
	if i != j {
		lines = append(lines, s[j:i])
	}
	return lines
}

// cp1250Space tells which Windows-1250 bytes are spaces (unicode.IsSpace of their rune), where
// splitWidths may break a line: a table instead of a Unicode lookup for every byte laid out.
var cp1250Space = func() (sp [256]bool) {
	for b, r := range cp1250Runes {
		sp[b] = unicode.IsSpace(r)
	}
	return sp
}()

// wrap splits text into lines that fit width, honouring its own line breaks.
func (p *pdfw) wrap(text string, width float64, bold bool, size float64) []line {
	p.font(bold, size)
	var out []line
	for rest, more := text, true; more; {
		var para string
		para, rest, more = strings.Cut(rest, "\n")
		parts := p.split(para, width, bold)
		if len(parts) == 0 {
			parts = []string{""}
		}
		for _, s := range parts {
			out = append(out, line{s, bold})
		}
	}
	return out
}

// row draws one row of cells. A row that does not fit the page moves to the next (after header,
// which repeats a table's column heads); a row taller than a whole page is split. With firstBold
// the first line of every cell (a party's name) is bold.
func (p *pdfw) row(cells []string, widths []float64, right []bool, styles []cellStyle, header func(), firstBold bool) {
	f := p.f
	wrapped := make([][]line, len(cells))
	most := 1
	for i, c := range cells {
		bold := styles[i] == heading || styles[i] == strong
		if firstBold {
			name, rest, _ := strings.Cut(c, "\n")
			wrapped[i] = p.wrap(name, widths[i]-2*pad, true, bodySize)
			if rest != "" {
				wrapped[i] = append(wrapped[i], p.wrap(rest, widths[i]-2*pad, false, bodySize)...)
			}
		} else {
			wrapped[i] = p.wrap(c, widths[i]-2*pad, bold, bodySize)
		}
		most = max(most, len(wrapped[i]))
	}
	pageLines := int((p.bottom - marginTop - 2*pad - 8) / lineH)
	for start := 0; start < most; {
		avail := int((p.bottom - f.GetY() - 2*pad) / lineH)
		if avail < most-start && (most-start <= pageLines || avail < 2) {
			f.AddPage()
			if header != nil {
				header()
			}
			continue
		}
		n := min(avail, most-start)
		p.drawCells(wrapped, widths, right, styles, start, n)
		start += n
	}
}

func (p *pdfw) drawCells(wrapped [][]line, widths []float64, right []bool, styles []cellStyle, start, n int) {
	f := p.f
	x, y := marginX, f.GetY()
	h := float64(n)*lineH + 2*pad
	for i, lines := range wrapped {
		switch styles[i] {
		case heading:
			f.SetFillColor(230, 230, 230)
			f.SetDrawColor(150, 150, 150)
			f.Rect(x, y, widths[i], h, "FD")
		case boxed:
			f.SetDrawColor(150, 150, 150)
			f.Rect(x, y, widths[i], h, "D")
		}
		align := "L"
		if right != nil && right[i] {
			align = "R"
		}
		r, g, b := f.GetTextColor()
		grey := styles[i] == label
		if grey {
			f.SetTextColor(90, 90, 90)
		}
		for j := start; j < start+n && j < len(lines); j++ {
			p.font(lines[j].bold, bodySize)
			f.SetXY(x+pad, y+pad+float64(j-start)*lineH)
			p.textCell(widths[i]-2*pad, lineH, lines[j].text, 0, align)
		}
		if grey { // a text colour is only state, written with each cell: nothing else to restore
			f.SetTextColor(r, g, b)
		}
		x += widths[i]
	}
	f.SetXY(marginX, y+h)
}

// qrPath is the page content that fills the dark modules of bits, the code's top-left corner
// (quiet zone included) at x, y mm. A transformation to module units makes every rectangle four
// small integers instead of four scaled decimals: a KOD I code is some 400 runs, and formatting
// them through fpdf's Rect was a tenth of a PDF's CPU. Runs are drawn as one rectangle, a hair
// taller than a module (1.02), so that no white hairline appears between rows when the page is
// rasterised.
// It appends to out, which qr reuses: fpdf copies the path into the page.
func qrPath(out []byte, bits [][]bool, x, y float64, f canvas) []byte {
	k := f.GetConversionRatio()
	_, ph := f.GetPageSize()
	module := qrSize / float64(len(bits)+8)
	out = append(out, "q "...)
	out = strconv.AppendFloat(out, module*k, 'f', 5, 64)
	out = append(out, " 0 0 "...)
	out = strconv.AppendFloat(out, -module*k, 'f', 5, 64)
	out = append(out, ' ')
	out = strconv.AppendFloat(out, (x+4*module)*k, 'f', 3, 64)
	out = append(out, ' ')
	out = strconv.AppendFloat(out, (ph-y-4*module)*k, 'f', 3, 64)
	out = append(out, " cm\n"...)
	for r, rowBits := range bits {
		for c := 0; c < len(rowBits); {
			if !rowBits[c] {
				c++
				continue
			}
			run := c
			for run < len(rowBits) && rowBits[run] {
				run++
			}
			out = strconv.AppendInt(out, int64(c), 10)
			out = append(out, ' ')
			out = strconv.AppendInt(out, int64(r), 10)
			out = append(out, ' ')
			out = strconv.AppendInt(out, int64(run-c), 10)
			out = append(out, " 1.02 re\n"...)
			c = run
		}
	}
	return append(out, "f\nQ"...)
}

// qr draws one verification code with its caption (the KSeF number, OFFLINE or CERTYFIKAT) and the
// link spelled out for those who cannot scan.
func (p *pdfw) qr(q qrBlock) error {
	bits, err := QRModules(q.link)
	if err != nil {
		return err
	}
	f := p.f
	f.SetY(f.GetY() + sectionGap)
	if f.GetY()+6+qrSize+6 > p.bottom { // title, code and caption stay together
		f.AddPage()
	}
	p.sectionTitle(q.title)
	x, y := marginX, f.GetY()
	// A quiet zone of four modules is part of the code: scanners need it.
	f.SetFillColor(0, 0, 0)
	p.cellBuf = qrPath(p.cellBuf[:0], bits, x, y, f)
	writeRaw(f, p.cellBuf)
	// The caption may be wider than the code (a KSeF number is 35 characters): it starts where
	// the code starts, and is centred under it only when it fits.
	p.font(true, bodySize)
	align := "L"
	if f.GetStringWidth(p.enc(q.label)) <= qrSize {
		align = "C"
	}
	f.SetXY(x, y+qrSize)
	p.cell(qrSize, 4, q.label, 0, align)
	tx := x + qrSize + 4
	f.SetXY(tx, y+4)
	p.font(false, bodySize)
	f.SetTextColor(90, 90, 90)
	p.cell(p.width-qrSize-4, lineH, q.caption+":", 2, "L")
	f.SetTextColor(0, 0, 0)
	for _, l := range p.wrap(q.link, p.width-qrSize-4, false, bodySize) {
		f.SetX(tx)
		p.textCell(p.width-qrSize-4, lineH, l.text, 2, "L")
	}
	f.SetXY(marginX, y+qrSize+5)
	return nil
}
