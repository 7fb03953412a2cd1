package render

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// fpdf compresses every page with a new zlib writer, and a writer allocates about a megabyte of
// tables before it compresses a byte: that was most of a PDF's allocation. So fpdf writes the pages
// plain (SetCompression(false)) and deflatePages compresses them afterwards with pooled writers,
// rewriting the cross-reference table for the new offsets.

var zlibWriters = newKeep(func() *zlib.Writer {
	zw, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed) // fpdf's level
	return zw
})

// plainStream is how fpdf opens an unfiltered stream object: a page's contents (and, with the
// UTF-8 fonts, a ToUnicode map).
var plainStream = []byte(" 0 obj\n<</Length ")

// deflatePages compresses the unfiltered streams of a PDF that fpdf wrote (one classic xref
// section, objects 1..n, no encryption) and, with fonts, puts each face's font program where fpdf
// embedded its stand-in. Anything else is returned as it is.
func deflatePages(pdf []byte, fonts *cpFonts) ([]byte, error) {
	xref, offsets, err := fpdfXref(pdf)
	if err != nil {
		return nil, err
	}
	order := make([]int, 0, len(offsets)-1)
	for n := 1; n < len(offsets); n++ {
		order = append(order, n)
	}
	slices.SortFunc(order, func(a, b int) int { return offsets[a] - offsets[b] })
	size := len(pdf)
	if fonts != nil {
		size += len(fonts.regular.z) + len(fonts.bold.z)
	}
	// The document is put together in a pooled scratch buffer and copied out at its exact size: a
	// fresh buffer sized for the plain PDF plus both fonts was zeroed in full and a fifth of it
	// never used.
	scratch := deflateScratch.get()
	defer deflateScratch.put(scratch)
	out := slices.Grow((*scratch)[:0], size)
	out = append(out, pdf[:offsets[order[0]]]...)
	moved := make([]int, len(offsets))
	for i, n := range order {
		end := xref
		if i+1 < len(order) {
			end = offsets[order[i+1]]
		}
		moved[n] = len(out)
		if fonts != nil && appendFontProgram(&out, pdf[offsets[n]:end], fonts) {
			continue
		}
		out = appendObject(out, pdf[offsets[n]:end])
	}
	tail := pdf[xref:]
	trailer := bytes.Index(tail, []byte("trailer\n"))
	startxref := bytes.LastIndex(tail, []byte("startxref\n"))
	if trailer < 0 || startxref < trailer {
		return nil, errors.New("deflate PDF: no trailer")
	}
	at := len(out)
	out = appendXref(out, moved)
	out = append(out, tail[trailer:startxref]...)
	out = fmt.Appendf(out, "startxref\n%d\n%%%%EOF\n", at)
	*scratch = out
	return bytes.Clone(out), nil
}

// appendXref appends a cross-reference table, as fpdf writes it, for objects 1..len(offsets)-1 at
// the given offsets (offsets[0], the free entry, is not read).
func appendXref(out []byte, offsets []int) []byte {
	out = fmt.Appendf(out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets))
	for _, o := range offsets[1:] {
		out = fmt.Appendf(out, "%010d 00000 n \n", o)
	}
	return out
}

var deflateScratch = newKeep(func() *[]byte { return new([]byte) })

// appendObject appends one object, its stream compressed when it had no filter.
func appendObject(out, obj []byte) []byte {
	head := bytes.Index(obj, plainStream)
	if head < 0 || bytes.IndexByte(obj[:head], '\n') >= 0 {
		return append(out, obj...)
	}
	rest := obj[head+len(plainStream):]
	lenEnd := bytes.Index(rest, []byte(">>\nstream\n"))
	if lenEnd < 0 {
		return append(out, obj...)
	}
	n, err := strconv.Atoi(string(rest[:lenEnd]))
	data := rest[lenEnd+len(">>\nstream\n"):]
	if err != nil || n > len(data) || !bytes.Equal(data[n:], []byte("\nendstream\nendobj\n")) {
		return append(out, obj...)
	}
	out = append(out, obj[:head]...)
	out = append(out, " 0 obj\n"...)
	return appendDeflated(out, data[:n])
}

// appendDeflated appends the rest of a stream object after "N 0 obj\n": its dictionary, data
// compressed, and the object's end.
func appendDeflated(out, data []byte) []byte {
	out = append(out, "<</Filter /FlateDecode /Length "...)
	lenAt := len(out)
	out = append(out, "0000000000>>\nstream\n"...) // the length, padded, is filled in below
	start := len(out)
	buf := bytes.NewBuffer(out)
	zw := zlibWriters.get()
	zw.Reset(buf)
	_, _ = zw.Write(data) // a bytes.Buffer does not fail
	_ = zw.Close()
	zlibWriters.put(zw)
	out = buf.Bytes()
	size := strconv.Itoa(len(out) - start)
	// Shift the stream left over the padding so the dictionary reads "/Length 1234>>".
	pad := len("0000000000") - len(size)
	copy(out[lenAt:], size)
	copy(out[lenAt+len(size):], out[lenAt+len("0000000000"):])
	out = out[:len(out)-pad]
	return append(out, "\nendstream\nendobj\n"...)
}

// appendFontProgram appends obj with its font program in place of the stand-in, when obj is a
// font file stream whose whole content is one of fonts' stand-ins:
// "N 0 obj\n<</Length len(standIn)\n/Filter /FlateDecode\n/Length1 …\n>>\nstream\n<standIn>\nendstream\nendobj\n".
func appendFontProgram(out *[]byte, obj []byte, fonts *cpFonts) bool {
	for _, f := range []*cpFont{&fonts.regular, &fonts.bold} {
		if f.standIn == "" {
			continue
		}
		tail, length := f.standInTail, f.standInHead
		if !bytes.HasSuffix(obj, tail) {
			continue
		}
		head := bytes.Index(obj, length)
		if head < 0 || bytes.IndexByte(obj[:head], '\n') >= 0 {
			continue
		}
		o := append(*out, obj[:head]...)
		o = append(o, " 0 obj\n<</Length "...)
		o = strconv.AppendInt(o, int64(len(f.z)), 10)
		o = append(o, obj[head+len(length)-len("\n/Filter /FlateDecode\n"):len(obj)-len(tail)]...)
		o = append(o, "\nstream\n"...)
		o = append(o, f.z...)
		*out = append(o, "\nendstream\nendobj\n"...)
		return true
	}
	return false
}

// fpdfXref finds the cross-reference table fpdf writes last and the offset of every object in it
// (index 0, the free entry, stays 0).
func fpdfXref(pdf []byte) (int, []int, error) {
	i := bytes.LastIndex(pdf, []byte("startxref\n"))
	if i < 0 {
		return 0, nil, errors.New("deflate PDF: no startxref")
	}
	line, _, _ := bytes.Cut(pdf[i+len("startxref\n"):], []byte("\n"))
	xref, err := strconv.Atoi(string(line))
	if err != nil || xref >= len(pdf) || !bytes.HasPrefix(pdf[xref:], []byte("xref\n0 ")) {
		return 0, nil, errors.New("deflate PDF: no xref table")
	}
	rest := pdf[xref+len("xref\n0 "):]
	line, rest, _ = bytes.Cut(rest, []byte("\n"))
	count, err := strconv.Atoi(string(line))
	const entry = len("0000000000 00000 n \n")
	if err != nil || count < 2 || len(rest) < count*entry {
		return 0, nil, errors.New("deflate PDF: bad xref table")
	}
	offsets := make([]int, count)
	for n := 1; n < count; n++ {
		o, err := strconv.Atoi(string(rest[n*entry : n*entry+10]))
		if err != nil || o <= 0 || o >= xref {
			return 0, nil, fmt.Errorf("deflate PDF: bad xref entry %d", n)
		}
		offsets[n] = o
	}
	return xref, offsets, nil
}
