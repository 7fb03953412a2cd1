package render

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// canvas is what the layout draws on: fpdf's document (the UTF-8 fonts, and the reference for the
// Windows-1250 faces) or a pageWriter. The methods are fpdf's, with fpdf's meaning.
type canvas interface {
	AddPage()
	PageNo() int
	Err() bool
	GetPageSize() (width, height float64)
	GetConversionRatio() float64
	GetMargins() (left, top, right, bottom float64)
	GetCellMargin() float64
	GetXY() (x, y float64)
	GetY() float64
	SetX(x float64)
	SetY(y float64)
	SetXY(x, y float64)
	SetFont(family, style string, size float64)
	GetFontFamily() string
	GetFontStyle() string
	GetFontSize() (ptSize, unitSize float64)
	GetStringWidth(s string) float64
	SetTextColor(r, g, b int)
	GetTextColor() (r, g, b int)
	SetFillColor(r, g, b int)
	GetFillColor() (r, g, b int)
	SetDrawColor(r, g, b int)
	Rect(x, y, w, h float64, style string)
	Line(x1, y1, x2, y2 float64)
	RawWriteStr(s string)
	CellFormat(w, h float64, text, border string, ln int, align string, fill bool, link int, linkStr string)
	SplitText(text string, w float64) []string
}

// Why a writer of our own: with the Windows-1250 faces the layout writes nearly every page
// operator itself (textCell, qrPath), and what fpdf still did per document was overhead: parsing
// both font definitions from JSON, writing the same font objects again, formatting every number
// through fmt, and a plain copy of the document for deflatePages to read back. That was half of a
// PDF's CPU (BenchmarkInvoicePDF on one core: 620 µs and 362 KB before, 310 µs and 160 KB with
// pageWriter), and a pull renders one PDF per invoice. pageWriter keeps the page state fpdf keeps
// and writes the same bytes fpdf would, which TestPageWriterIsFpdf checks for every sample; the
// parts of the document that do not depend on its content (the font objects, the resource and
// catalog dictionaries) are taken once from fpdf's own output (see cpSkeleton).
type pageWriter struct {
	sk    *cpSkeleton
	pages [][]byte // the plain content of each page; pages[0] is unused, as in fpdf
	x, y  float64
	// the current font, as fpdf holds it: family "" until the first SetFont of a page
	family, style string
	sizePt, size  float64 // size in points and in millimetres
	face          *cpFont
	draw, fill    rgb
	text          rgb
	footer        func()
	unsupported   error
	title         string
	created       time.Time
	kept          *[][]byte // pages' buffers, from pageBufs
}

type rgb struct{ r, g, b int }

// errUnsupported is what pageWriter reports for a call the layout only makes on the UTF-8 path;
// layoutCP then lays the document out with fpdf instead.
var errUnsupported = errors.New("render: not supported by the Windows-1250 page writer")

// layoutCP lays d out with the Windows-1250 faces, writing the PDF itself; fpdf writes it when
// the page writer cannot (which no document of ours makes happen; see errUnsupported).
func layoutCP(d *doc, fonts *cpFonts) (pdf []byte, lossy bool, err error) {
	sk, err := cpSkeletons()
	if err != nil || sk.fonts != fonts {
		return layoutPDF(d, fonts)
	}
	pdf, lossy, err = writeCP(d, sk)
	if errors.Is(err, errUnsupported) {
		return layoutPDF(d, fonts)
	}
	return pdf, lossy, err
}

// writeCP is layoutCP without the fallback.
func writeCP(d *doc, sk *cpSkeleton) (pdf []byte, lossy bool, err error) {
	w := &pageWriter{sk: sk, title: d.docTitle, created: docCreated(d)}
	w.kept = pageBufs.get()
	w.pages = append((*w.kept)[:0], nil) // pages[0] is unused
	defer func() {
		*w.kept = w.pages[:0]
		pageBufs.put(w.kept)
	}()
	p := &pdfw{f: w, d: d, width: sk.pageW - 2*marginX, bottom: sk.pageH - marginBot, cp: sk.fonts}
	w.footer = p.footer
	defer p.borrowOps()()
	if err := p.draw(); err != nil {
		return nil, false, err
	}
	if p.lossy {
		return nil, true, nil
	}
	if w.unsupported != nil {
		return nil, false, w.unsupported
	}
	out, err := w.finish()
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errUnsupported, err)
	}
	return out, false, nil
}

// pageBufs keeps the page buffers of one document for the next.
var pageBufs = newKeep(func() *[][]byte { return new([][]byte) })

func (w *pageWriter) out(s string) {
	pg := &w.pages[len(w.pages)-1]
	*pg = append(append(*pg, s...), '\n')
}

func (w *pageWriter) put(s string) {
	pg := &w.pages[len(w.pages)-1]
	*pg = append(*pg, s...)
}

func (w *pageWriter) putF64(v float64) {
	pg := &w.pages[len(w.pages)-1]
	*pg = strconv.AppendFloat(*pg, v, 'f', 2, 64)
}

// AddPage is fpdf's AddPageFormat without a header function: the footer of the page before, then
// a page that starts with the line style, the font and the colours in force.
func (w *pageWriter) AddPage() {
	family, style, sizePt := w.family, w.style, w.sizePt
	draw, fill, text := w.draw, w.fill, w.text
	if w.PageNo() > 0 && w.footer != nil {
		w.footer()
	}
	w.beginPage()
	w.out(w.sk.pageStart)
	if family != "" {
		w.SetFont(family, style, sizePt)
	}
	// fpdf repeats both colours at the top of every page unless they are its initial "0 G" and
	// "0 g"; fpdf.New sets them to black through the setters, so they never are.
	w.draw, w.fill = draw, fill
	w.out(colorOp(draw, "G", "RG"))
	w.out(colorOp(fill, "g", "rg"))
	w.text = text
	if family != "" { // fpdf selects the font again after the (absent) header
		w.SetFont(family, style, sizePt)
	}
}

func (w *pageWriter) beginPage() {
	if n := len(w.pages); n < cap(w.pages) {
		w.pages = w.pages[:n+1]
		w.pages[n] = w.pages[n][:0]
	} else {
		w.pages = append(w.pages, make([]byte, 0, 8<<10))
	}
	w.x, w.y = marginX, marginTop
	w.family = ""
}

func (w *pageWriter) PageNo() int { return len(w.pages) - 1 }
func (w *pageWriter) Err() bool   { return w.unsupported != nil }

func (w *pageWriter) GetPageSize() (float64, float64)  { return w.sk.pageW, w.sk.pageH }
func (w *pageWriter) GetConversionRatio() float64      { return w.sk.k }
func (w *pageWriter) GetCellMargin() float64           { return w.sk.cellMargin }
func (w *pageWriter) GetXY() (float64, float64)        { return w.x, w.y }
func (w *pageWriter) GetY() float64                    { return w.y }
func (w *pageWriter) GetFontFamily() string            { return w.family }
func (w *pageWriter) GetFontStyle() string             { return w.style }
func (w *pageWriter) GetFontSize() (float64, float64)  { return w.sizePt, w.size }
func (w *pageWriter) GetTextColor() (int, int, int)    { return w.text.r, w.text.g, w.text.b }
func (w *pageWriter) GetFillColor() (int, int, int)    { return w.fill.r, w.fill.g, w.fill.b }
func (w *pageWriter) SetTextColor(r, g, b int)         { w.text = clampRGB(r, g, b) }
func (w *pageWriter) GetMargins() (l, t, r, b float64) { return marginX, marginTop, marginX, marginBot }

func (w *pageWriter) SetX(x float64) {
	if x >= 0 {
		w.x = x
	} else {
		w.x = w.sk.pageW + x
	}
}

// SetY also moves back to the left margin, as fpdf's does.
func (w *pageWriter) SetY(y float64) {
	w.x = marginX
	if y >= 0 {
		w.y = y
	} else {
		w.y = w.sk.pageH + y
	}
}

func (w *pageWriter) SetXY(x, y float64) {
	w.SetY(y)
	w.SetX(x)
}

// SetFont selects one of the two faces and, on a page, writes the selection as fpdf does.
func (w *pageWriter) SetFont(family, style string, size float64) {
	face, id := &w.sk.fonts.regular, w.sk.regularID
	switch {
	case family != fontFamily || size == 0:
		w.unsupported = errUnsupported
		return
	case style == "B":
		face, id = &w.sk.fonts.bold, w.sk.boldID
	case style != "":
		w.unsupported = errUnsupported
		return
	}
	w.family, w.style, w.sizePt, w.size = family, style, size, size/w.sk.k
	w.face = face
	if w.PageNo() > 0 {
		w.put("BT /F")
		w.put(id)
		w.put(" ")
		w.putF64(size)
		w.out(" Tf ET")
	}
}

// GetStringWidth measures single-byte text with the face's widths, as fpdf does.
func (w *pageWriter) GetStringWidth(s string) float64 {
	if w.face == nil {
		return 0
	}
	n := 0
	for i := 0; i < len(s) && s[i] != 0; i++ {
		n += w.face.cw[s[i]]
	}
	return float64(n) * w.size / 1000
}

func (w *pageWriter) SetFillColor(r, g, b int) {
	w.fill = clampRGB(r, g, b)
	if w.PageNo() > 0 {
		w.out(colorOp(w.fill, "g", "rg"))
	}
}

func (w *pageWriter) SetDrawColor(r, g, b int) {
	w.draw = clampRGB(r, g, b)
	if w.PageNo() > 0 {
		w.out(colorOp(w.draw, "G", "RG"))
	}
}

func (w *pageWriter) Rect(x, y, width, height float64, style string) {
	op := ""
	switch style {
	case "", "D":
		op = "S"
	case "F":
		op = "f"
	case "FD", "DF":
		op = "B"
	default:
		w.unsupported = errUnsupported
		return
	}
	k, h := w.sk.k, w.sk.pageH
	w.putCoords(x*k, (h-y)*k, " ", width*k, -height*k, " re "+op+"\n")
}

func (w *pageWriter) Line(x1, y1, x2, y2 float64) {
	k, h := w.sk.k, w.sk.pageH
	w.putCoords(x1*k, (h-y1)*k, " m ", x2*k, (h-y2)*k, " l S\n")
}

// putCoords writes "a b", sep, "c d" and end, the numbers to two decimals: the shape of fpdf's
// Rect and Line.
func (w *pageWriter) putCoords(a, b float64, sep string, c, d float64, end string) {
	w.putF64(a)
	w.put(" ")
	w.putF64(b)
	w.put(sep)
	w.putF64(c)
	w.put(" ")
	w.putF64(d)
	w.put(end)
}

// RawWriteStr copies s into the page at once, as fpdf does: s may be reused afterwards.
func (w *pageWriter) RawWriteStr(s string) { w.out(s) }

// CellFormat and SplitText are only called on the UTF-8 path (textCell and split write the
// single-byte text themselves); a call here sends the document to fpdf.
func (w *pageWriter) CellFormat(float64, float64, string, string, int, string, bool, int, string) {
	w.unsupported = errUnsupported
}

func (w *pageWriter) SplitText(string, float64) []string {
	w.unsupported = errUnsupported
	return nil
}

// clampRGB is fpdf's colorComp for three components.
func clampRGB(r, g, b int) rgb {
	c := func(v int) int { return min(max(v, 0), 255) }
	return rgb{c(r), c(g), c(b)}
}

// colorOp is fpdf's colour operator: "0.353 g" for a grey, "r g b rg" otherwise.
func colorOp(c rgb, greyOp, fullOp string) string {
	return string(appendColor(nil, c.r, c.g, c.b, greyOp, fullOp))
}

// finish closes the last page (its footer, the page count in every page) and writes the
// document: the pages, then the objects every document shares, then its information dictionary,
// the catalog and the cross-reference table, numbered and ordered as fpdf numbers and orders them.
func (w *pageWriter) finish() ([]byte, error) {
	if w.footer != nil {
		w.footer()
	}
	nb := w.PageNo()
	count := strconv.Itoa(nb)
	for n := 1; n <= nb; n++ {
		if bytes.Contains(w.pages[n], []byte(nbAlias)) {
			w.pages[n] = bytes.ReplaceAll(w.pages[n], []byte(nbAlias), []byte(count))
		}
	}
	shared, err := w.sk.shared(nb)
	if err != nil {
		return nil, err
	}
	objects := 2*nb + 2 + shared.objects + 2 // pages, the shared objects, info and catalog
	offsets := make([]int, objects+1)
	scratch := deflateScratch.get()
	defer deflateScratch.put(scratch)
	out := (*scratch)[:0]
	out = append(out, w.sk.header...)
	for n := 1; n <= nb; n++ {
		page := 2*n + 1
		offsets[page] = len(out)
		out = fmt.Appendf(out, "%d 0 obj\n<</Type /Page\n/Parent 1 0 R\n/Resources 2 0 R\n/Contents %d 0 R>>\nendobj\n", page, page+1)
		offsets[page+1] = len(out)
		out = strconv.AppendInt(out, int64(page+1), 10)
		out = append(out, " 0 obj\n"...)
		out = appendDeflated(out, w.pages[n])
	}
	offsets[1] = len(out)
	out = append(out, "1 0 obj\n<</Type /Pages\n/Kids ["...)
	for n := 1; n <= nb; n++ {
		out = fmt.Appendf(out, "%d 0 R ", 2*n+1)
	}
	out = fmt.Appendf(out, "]\n/Count %d\n%s\n>>\nendobj\n", nb, w.sk.mediaBox)
	start := len(out)
	out = append(out, shared.bytes...)
	for i, o := range shared.offsets {
		offsets[shared.first+i] = start + o
	}
	offsets[2] = start + shared.resources
	info, catalog := objects-1, objects
	offsets[info] = len(out)
	out = w.appendInfo(out, info)
	offsets[catalog] = len(out)
	out = strconv.AppendInt(out, int64(catalog), 10)
	out = append(out, " 0 obj\n"...)
	out = append(out, w.sk.catalog...)
	xref := len(out)
	out = appendXref(out, offsets)
	out = fmt.Appendf(out, "trailer\n<<\n/Size %d\n/Root %d 0 R\n/Info %d 0 R\n>>\nstartxref\n%d\n%%%%EOF\n", objects+1, catalog, info, xref)
	*scratch = out
	return bytes.Clone(out), nil
}

// appendInfo writes the information dictionary as fpdf's putinfo does (the texts in UTF-16).
func (w *pageWriter) appendInfo(out []byte, n int) []byte {
	out = strconv.AppendInt(out, int64(n), 10)
	out = append(out, " 0 obj\n<<\n/Producer "...)
	out = appendPDFText(out, ourName)
	if w.title != "" {
		out = append(out, "\n/Title "...)
		out = appendPDFText(out, utf16Text(w.title))
	}
	out = append(out, "\n/Creator "...)
	out = appendPDFText(out, ourName)
	created := w.created
	if created.IsZero() {
		created = time.Now()
	}
	stamp := "D:" + created.Format("20060102150405")
	out = append(out, "\n/CreationDate "...)
	out = appendPDFText(out, stamp)
	out = append(out, "\n/ModDate "...)
	out = appendPDFText(out, stamp)
	return append(out, "\n>>\nendobj\n"...)
}

// ourName is the producer and creator of every document, in UTF-16 as fpdf's SetProducer and
// SetCreator keep it.
var ourName = utf16Text("ksef-sync")

// appendPDFText is fpdf's textstring: s in parentheses with \, (, ) and CR escaped.
func appendPDFText(out []byte, s string) []byte {
	out = append(out, '(')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '(', ')':
			out = append(out, '\\', c)
		case '\r':
			out = append(out, '\\', 'r')
		default:
			out = append(out, c)
		}
	}
	return append(out, ')')
}

// utf16Text is fpdf's utf8toutf16 (with its byte order mark), byte for byte: it reads at most
// three bytes of a character, as fpdf does.
func utf16Text(s string) string {
	res := []byte{0xFE, 0xFF}
	for i := 0; i < len(s); {
		c1 := s[i]
		i++
		switch {
		case c1 >= 224 && i+1 < len(s):
			c2, c3 := s[i], s[i+1]
			i += 2
			res = append(res, ((c1&0x0F)<<4)+((c2&0x3C)>>2), ((c2&0x03)<<6)+(c3&0x3F))
		case c1 >= 192 && i < len(s):
			c2 := s[i]
			i++
			res = append(res, (c1&0x1C)>>2, ((c1&0x03)<<6)+(c2&0x3F))
		default:
			res = append(res, 0, c1)
		}
	}
	return string(res)
}

// cpSkeleton is what every Windows-1250 document shares, taken from fpdf's own output: the
// header, the operators a page starts with, the page size, the faces' names in the page
// operators, the catalog, and per page count the font and resource objects.
type cpSkeleton struct {
	fonts             *cpFonts
	header            []byte
	pageStart         string
	mediaBox          string
	catalog           []byte
	regularID, boldID string
	k, pageW, pageH   float64
	cellMargin        float64
	mu                sync.Mutex
	byPages           map[int]*sharedObjects
}

// sharedObjects are the objects after the pages and before the information dictionary (the
// fonts, then the resource dictionary, object 2), for one page count: their numbers follow the
// pages'.
type sharedObjects struct {
	bytes     []byte
	first     int   // the number of the first object
	objects   int   // how many there are besides object 2
	offsets   []int // of objects first, first+1, ... within bytes
	resources int   // of object 2 within bytes
}

var cpSkeletons = sync.OnceValues(func() (*cpSkeleton, error) {
	fonts, err := cp1250Fonts()
	if err != nil {
		return nil, err
	}
	return newCPSkeleton(fonts)
})

func newCPSkeleton(fonts *cpFonts) (*cpSkeleton, error) {
	f := newFpdf(fonts)
	sk := &cpSkeleton{fonts: fonts, byPages: map[int]*sharedObjects{}}
	sk.k = f.GetConversionRatio()
	sk.pageW, sk.pageH = f.GetPageSize()
	sk.cellMargin = f.GetCellMargin()
	if l, t, r, _ := f.GetMargins(); l != marginX || t != marginTop || r != marginX {
		return nil, errors.New("render: fpdf's margins are not the layout's")
	}
	f.AddPage()
	f.SetFont(fontFamily, "", 10)
	f.SetFont(fontFamily, "B", 10)
	var plain bytes.Buffer
	if err := f.Output(&plain); err != nil {
		return nil, err
	}
	doc, err := deflatePages(plain.Bytes(), fonts)
	if err != nil {
		return nil, err
	}
	xref, offsets, err := fpdfXref(doc)
	if err != nil {
		return nil, err
	}
	sk.header = bytes.Clone(doc[:offsets[3]])
	if err := sk.readPage(plain.Bytes()); err != nil {
		return nil, err
	}
	// The catalog is the last object, just before the cross-reference table.
	catalog := doc[offsets[len(offsets)-1]:xref]
	_, body, ok := bytes.Cut(catalog, []byte(" 0 obj\n"))
	if !ok {
		return nil, errors.New("render: no catalog in fpdf's output")
	}
	sk.catalog = bytes.Clone(body)
	root := doc[offsets[1]:]
	i := bytes.Index(root, []byte("/MediaBox ["))
	if i < 0 {
		return nil, errors.New("render: no media box in fpdf's page tree")
	}
	box, _, _ := bytes.Cut(root[i:], []byte("\n"))
	sk.mediaBox = string(box)
	return sk, nil
}

// readPage takes what fpdf writes at the top of a page and the faces' names from the plain
// content of a page that selected the regular, then the bold face.
func (sk *cpSkeleton) readPage(plain []byte) error {
	_, offsets, err := fpdfXref(plain)
	if err != nil {
		return err
	}
	_, content, ok := bytes.Cut(plain[offsets[4]:], []byte(">>\nstream\n"))
	if !ok {
		return errors.New("render: no page content in fpdf's output")
	}
	// The line cap, join and width come first; then fpdf.New's black, which it writes as given
	// colours (see rgb), and the two font selections.
	lines := strings.SplitN(string(content), "\n", 8)
	if len(lines) < 8 || !strings.HasSuffix(lines[0], " J") || !strings.HasSuffix(lines[1], " j") || !strings.HasSuffix(lines[2], " w") ||
		lines[3] != colorOp(clampRGB(0, 0, 0), "G", "RG") || lines[4] != colorOp(clampRGB(0, 0, 0), "g", "rg") {
		return errors.New("render: unexpected page content in fpdf's output")
	}
	regular, ok1 := strings.CutPrefix(lines[5], "BT /F")
	bold, ok2 := strings.CutPrefix(lines[6], "BT /F")
	regular, ok3 := strings.CutSuffix(regular, " 10.00 Tf ET")
	bold, ok4 := strings.CutSuffix(bold, " 10.00 Tf ET")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return errors.New("render: unexpected font selection in fpdf's output")
	}
	sk.pageStart = strings.Join(lines[:3], "\n")
	sk.regularID, sk.boldID = regular, bold
	return nil
}

// maxCachedPages bounds the page counts whose shared objects are kept: a longer document takes
// them from fpdf each time (a few hundred microseconds).
const maxCachedPages = 64

// shared gives the shared objects of a document of nb pages, from fpdf's output for nb empty
// pages.
func (sk *cpSkeleton) shared(nb int) (*sharedObjects, error) {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if s := sk.byPages[nb]; s != nil {
		return s, nil
	}
	f := newFpdf(sk.fonts)
	for range nb {
		f.AddPage()
	}
	var plain bytes.Buffer
	if err := f.Output(&plain); err != nil {
		return nil, err
	}
	doc, err := deflatePages(plain.Bytes(), sk.fonts)
	if err != nil {
		return nil, err
	}
	_, offsets, err := fpdfXref(doc)
	if err != nil {
		return nil, err
	}
	info := len(offsets) - 2
	first := 2*nb + 3
	start, end := offsets[first], offsets[info]
	s := &sharedObjects{bytes: bytes.Clone(doc[start:end]), first: first, objects: info - first}
	for n := first; n < info; n++ {
		if offsets[n] < start || offsets[n] >= end {
			return nil, fmt.Errorf("render: fpdf's object %d is not among the shared objects", n)
		}
		s.offsets = append(s.offsets, offsets[n]-start)
	}
	if offsets[2] < start || offsets[2] >= end {
		return nil, errors.New("render: fpdf's resource dictionary is not among the shared objects")
	}
	s.resources = offsets[2] - start
	if nb <= maxCachedPages {
		sk.byPages[nb] = s
	}
	return s, nil
}
