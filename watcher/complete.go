package watcher

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"unicode/utf8"
)

// incompleteWaits bounds how many extra settle windows a file whose XML ends early is held back.
// A writer that pauses longer than the settle window leaves such a file; one that never finishes
// is offered after these windows and rejected by validation with its reason.
const incompleteWaits = 5

// maxCompleteCheck is the largest file the check parses; larger ones are far beyond any invoice
// and are handed on for the engine to judge.
const maxCompleteCheck = 16 << 20

// xmlEndsEarly reports whether the file at path is XML that stops in the middle (an element left
// open, a tag cut off): most likely a writer that has not finished. Everything else — complete XML,
// no XML at all, a file that cannot be read — is reported as not ending early: validation judges it.
func xmlEndsEarly(path string) bool {
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
