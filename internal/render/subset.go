package render

import (
	"encoding/binary"
	"errors"
	"slices"

	"golang.org/x/image/font/sfnt"
)

// subsetTTF keeps, of a TrueType font, the outlines of .notdef and of the glyphs runes map to (with
// the parts composite glyphs are built from) and empties every other outline. Glyph numbers, metrics
// and every other table stay as they are, so the font definition made from the whole font still
// describes it. An embedded face is then about the glyphs a Windows-1250 text can use.
func subsetTTF(ttf []byte, runes []rune) ([]byte, error) {
	f, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, err
	}
	tables, err := ttfTables(ttf)
	if err != nil {
		return nil, err
	}
	head, loca, glyf := tables["head"], tables["loca"], tables["glyf"]
	if len(head) < 54 || loca == nil || glyf == nil {
		return nil, errors.New("subset font: no head, loca or glyf table")
	}
	long := binary.BigEndian.Uint16(head[50:]) == 1
	n := f.NumGlyphs()
	offsets := make([]int, n+1)
	for i := range offsets {
		if long {
			offsets[i] = int(binary.BigEndian.Uint32(loca[4*i:]))
		} else {
			offsets[i] = 2 * int(binary.BigEndian.Uint16(loca[2*i:]))
		}
	}
	keep := make([]bool, n)
	var b sfnt.Buffer
	todo := []int{0}
	for _, r := range runes {
		if g, err := f.GlyphIndex(&b, r); err == nil && g != 0 {
			todo = append(todo, int(g))
		}
	}
	for len(todo) > 0 {
		g := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if g >= n || keep[g] {
			continue
		}
		keep[g] = true
		todo = append(todo, components(glyf[offsets[g]:offsets[g+1]])...)
	}
	var newGlyf, newLoca []byte
	for g := range n {
		putOffset(&newLoca, len(newGlyf), long)
		if keep[g] {
			newGlyf = append(newGlyf, glyf[offsets[g]:offsets[g+1]]...)
			for len(newGlyf)%4 != 0 {
				newGlyf = append(newGlyf, 0)
			}
		}
	}
	putOffset(&newLoca, len(newGlyf), long)
	tables["glyf"], tables["loca"] = newGlyf, newLoca
	return ttfBuild(ttf[:4], tables), nil
}

func putOffset(loca *[]byte, off int, long bool) {
	if long {
		*loca = binary.BigEndian.AppendUint32(*loca, uint32(off))
	} else {
		*loca = binary.BigEndian.AppendUint16(*loca, uint16(off/2))
	}
}

// components lists the glyphs a composite glyph is made of (none for a simple one).
func components(g []byte) []int {
	if len(g) < 10 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil
	}
	const (
		argWords    = 0x0001
		scale       = 0x0008
		more        = 0x0020
		xyScale     = 0x0040
		twoByTwo    = 0x0080
		headerBytes = 10
	)
	var out []int
	for p := headerBytes; p+4 <= len(g); {
		flags := binary.BigEndian.Uint16(g[p:])
		out = append(out, int(binary.BigEndian.Uint16(g[p+2:])))
		p += 4
		if flags&argWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&scale != 0:
			p += 2
		case flags&xyScale != 0:
			p += 4
		case flags&twoByTwo != 0:
			p += 8
		}
		if flags&more == 0 {
			break
		}
	}
	return out
}

// ttfTables reads the table directory of a TrueType font.
func ttfTables(ttf []byte) (map[string][]byte, error) {
	if len(ttf) < 12 {
		return nil, errors.New("subset font: too short")
	}
	num := int(binary.BigEndian.Uint16(ttf[4:]))
	tables := make(map[string][]byte, num)
	for i := range num {
		rec := 12 + 16*i
		if rec+16 > len(ttf) {
			return nil, errors.New("subset font: truncated table directory")
		}
		off, length := int(binary.BigEndian.Uint32(ttf[rec+8:])), int(binary.BigEndian.Uint32(ttf[rec+12:]))
		if off+length > len(ttf) {
			return nil, errors.New("subset font: table out of range")
		}
		tables[string(ttf[rec:rec+4])] = ttf[off : off+length]
	}
	return tables, nil
}

// ttfBuild writes tables (in tag order, as the format asks) behind a new directory, with their
// checksums and the font's checksum adjustment in head.
func ttfBuild(version []byte, tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	num := len(tags)
	search, shift := 1, 0
	for search*2 <= num {
		search, shift = search*2, shift+1
	}
	out := append([]byte(nil), version...)
	out = binary.BigEndian.AppendUint16(out, uint16(num))
	out = binary.BigEndian.AppendUint16(out, uint16(search*16))
	out = binary.BigEndian.AppendUint16(out, uint16(shift))
	out = binary.BigEndian.AppendUint16(out, uint16(num*16-search*16))
	off := 12 + 16*num
	body := []byte{}
	headAt := -1
	for _, t := range tags {
		data := tables[t]
		if t == "head" {
			data = append([]byte(nil), data...)
			binary.BigEndian.PutUint32(data[8:], 0) // checkSumAdjustment counts as 0 while summing
			headAt = off + len(body)
		}
		out = append(out, t...)
		out = binary.BigEndian.AppendUint32(out, ttfChecksum(data))
		out = binary.BigEndian.AppendUint32(out, uint32(off+len(body)))
		out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
		body = append(body, data...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	out = append(out, body...)
	if headAt >= 0 {
		binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-ttfChecksum(out))
	}
	return out
}

func ttfChecksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
