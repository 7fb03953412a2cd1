package render

import (
	"bytes"
	"compress/zlib"
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/encoding/charmap"
)

// Why two font paths: fpdf's UTF-8 fonts cost every document a parse of the whole TTF, a JSON
// marshal of its width table (to name it), a fresh subset and two compressions of it, about 80 %
// of a PDF's CPU and 12 MB of allocation. A single-byte TrueType font in fpdf's makefont format is
// prepared once per process and embedded as it is, so a document pays nothing for its fonts.
// Windows-1250 holds every Polish letter and the usual typography („”–…€); a document with a
// character outside it (a Czech ů is in, a Greek or Cyrillic name is not) falls back to the UTF-8
// path, so no character is ever replaced.

//go:embed fonts/goregular-cp1250.json fonts/gobold-cp1250.json
var fontDefs embed.FS

// cpFont is one font face ready for fpdf.AddFontFromBytes: its definition, the zlib-compressed
// TTF the definition names (cut to the glyphs Windows-1250 reaches, see subsetTTF), and its widths
// by code for our own line wrapping.
type cpFont struct {
	def, z []byte
	cw     []int
	// standIn is what fpdf embeds instead of z: deflatePages swaps it for z, so the 28 KB of
	// each face are copied into a document once instead of through fpdf's buffers three times
	// (a third of a PDF's allocation).
	standIn string
	// how fpdf's object for the stand-in begins (after its number) and ends
	standInHead, standInTail []byte
}

// setStandIn makes s f's stand-in.
func (f *cpFont) setStandIn(s string) {
	f.standIn = s
	f.standInHead = []byte(" 0 obj\n<</Length " + strconv.Itoa(len(s)) + "\n/Filter /FlateDecode\n")
	f.standInTail = []byte("\nstream\n" + s + "\nendstream\nendobj\n")
}

type cpFonts struct{ regular, bold cpFont }

// cp1250Fonts prepares both faces on first use; the compressed TTFs are then shared by every
// document (fpdf only reads them).
var cp1250Fonts = sync.OnceValues(func() (*cpFonts, error) {
	regular, err := loadCPFont("fonts/goregular-cp1250.json", goregular.TTF)
	if err != nil {
		return nil, err
	}
	bold, err := loadCPFont("fonts/gobold-cp1250.json", gobold.TTF)
	if err != nil {
		return nil, err
	}
	regular.setStandIn("ksef-sync font program: regular")
	bold.setStandIn("ksef-sync font program: bold")
	return &cpFonts{regular: regular, bold: bold}, nil
})

// embedded is what fpdf is given as the face's font program: the stand-in, or z without one.
func (f *cpFont) embedded() []byte {
	if f.standIn == "" {
		return f.z
	}
	return []byte(f.standIn)
}

func loadCPFont(name string, ttf []byte) (cpFont, error) {
	def, err := fontDefs.ReadFile(name)
	if err != nil {
		return cpFont{}, err
	}
	var meta struct {
		Cw           []int
		OriginalSize int
	}
	if err := json.Unmarshal(def, &meta); err != nil || len(meta.Cw) != 256 {
		return cpFont{}, fmt.Errorf("font definition %s: no 256 widths (%v)", name, err)
	}
	sub, err := subsetTTF(ttf, cp1250Repertoire())
	if err != nil {
		return cpFont{}, err
	}
	if len(sub) != meta.OriginalSize { // the definition was made from another subset
		return cpFont{}, fmt.Errorf("font definition %s is for %d bytes of font, not %d", name, meta.OriginalSize, len(sub))
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	if _, err := zw.Write(sub); err != nil {
		return cpFont{}, err
	}
	if err := zw.Close(); err != nil {
		return cpFont{}, err
	}
	return cpFont{def: def, z: z.Bytes(), cw: meta.Cw}, nil
}

// cp1250Repertoire lists every printable character Windows-1250 has.
func cp1250Repertoire() []rune {
	var rs []rune
	for b, r := range cp1250Runes {
		if b >= 0x20 && r != utf8.RuneError && r != 0x7f {
			rs = append(rs, r)
		}
	}
	return rs
}

// cp1250 maps the runes Windows-1250 encodes above ASCII to their byte; cp1250Runes is the way
// back, for deciding where a line may break.
var cp1250, cp1250Runes = func() (map[rune]byte, [256]rune) {
	m := make(map[rune]byte, 128)
	var back [256]rune
	for b := range 256 {
		r := charmap.Windows1250.DecodeByte(byte(b))
		back[b] = r
		if b >= 0x80 && r != utf8.RuneError {
			m[r] = byte(b)
		}
	}
	return m, back
}()

// encodeCP1250 gives s in Windows-1250 and whether every character of it is there.
func encodeCP1250(s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s, true
	}
	out := make([]byte, 0, len(s))
	ok := true
	for _, r := range s {
		switch b, found := cp1250[r]; {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case found:
			out = append(out, b)
		default:
			out, ok = append(out, '?'), false
		}
	}
	return string(out), ok
}
