package watcher

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"unicode/utf8"
)

// The XML decoder's answers, which the structural scan (xmlscan.go) replaced: the tests hold the
// scan to them on every prefix of real invoices.

// decoderEndsEarly reports whether the file at path is XML that stops in the middle (an element left
// open, a tag cut off): most likely a writer that has not finished. Everything else — complete XML,
// no XML at all, a file that cannot be read — is reported as not ending early: validation judges it.
func decoderEndsEarly(path string) bool {
	d, closeFile := openXML(path)
	if d == nil {
		return false
	}
	defer closeFile()
	for {
		_, err := d.Token()
		if err == nil {
			continue
		}
		var se *xml.SyntaxError
		return errors.As(err, &se) && se.Msg == "unexpected EOF" || errors.Is(err, io.ErrUnexpectedEOF)
	}
}

// openXML returns a structure-only XML decoder over the file at path and the function that closes
// it, or nil when the file cannot be opened or is larger than maxCompleteCheck.
func openXML(path string) (*xml.Decoder, func()) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
	}
	if fi, err := f.Stat(); err != nil || fi.Size() > maxCompleteCheck {
		_ = f.Close()
		return nil, nil
	}
	d := xml.NewDecoder(bufio.NewReader(f))
	// Structure is all that matters here: any 8-bit code page is read byte for byte.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return &byteRunes{r: bufio.NewReader(r)}, nil }
	return d, func() { _ = f.Close() }
}

// byteRunes turns every byte into the rune of the same value (as ISO-8859-1 does), so a file in
// windows-1250 or ISO-8859-2 can be checked for structure.
type byteRunes struct {
	r   *bufio.Reader
	buf []byte
}

func (b *byteRunes) Read(p []byte) (int, error) {
	for len(b.buf) < len(p) {
		c, err := b.r.ReadByte()
		if err != nil {
			if len(b.buf) == 0 {
				return 0, err
			}
			break
		}
		b.buf = utf8.AppendRune(b.buf, rune(c))
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// decoderComplete reports whether the file holds one whole XML document: a root element opened and
// closed, nothing broken after it. Only such a file may skip the settle window; anything else
// (cut off, only a prolog, not XML at all) waits for it and is judged by validation as before.
func decoderComplete(path string) bool {
	d, closeFile := openXML(path)
	if d == nil {
		return false
	}
	defer closeFile()
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return errors.Is(err, io.EOF) && roots == 1 && depth == 0
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}
