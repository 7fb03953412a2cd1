package watcher

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// xmlShape is what a structural scan of a file finds: enough to tell a document that is whole
// from one a writer has not finished, without decoding it. The scan looks at markup only (tags,
// comments, CDATA sections, processing instructions, declarations), which is the same in UTF-8
// and in every 8-bit code page an ERP may write; it checks neither names nor entities nor
// encodings — validation does, once, when the file is claimed. It is some twenty times cheaper
// than a full XML decoder, and a 10,000-file burst is checked file by file.
type xmlShape struct {
	cut       bool // the file stops inside markup, or with an element still open
	malformed bool // markup no writer could finish into XML (an end tag that closes nothing open)
	roots     int  // top-level elements
}

// readShape scans the file at path; ok is false when it cannot be read or is larger than
// maxCompleteCheck.
func readShape(path string) (xmlShape, bool) {
	f, err := os.Open(path)
	if err != nil {
		return xmlShape{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() > maxCompleteCheck {
		return xmlShape{}, false
	}
	b := make([]byte, fi.Size())
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return xmlShape{}, false
	}
	return scanXML(b[:n]), true // a file that shrank since the stat is scanned as it is
}

var (
	piEnd      = []byte("?>")
	commentEnd = []byte("-->")
	cdataEnd   = []byte("]]>")
)

// scanXML follows the markup of b and reports its shape.
func scanXML(b []byte) xmlShape {
	var s xmlShape
	if bytes.HasPrefix(b, []byte{0xFE, 0xFF}) || bytes.HasPrefix(b, []byte{0xFF, 0xFE}) {
		s.malformed = true // UTF-16: not markup this scan reads (nor the decoder before it)
		return s
	}
	var open [][]byte
	for i := 0; ; {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			s.cut = len(open) > 0
			return s
		}
		i += lt + 1
		var end int
		switch rest := b[i:]; {
		case bytes.HasPrefix(rest, []byte("?")):
			end = after(b, i+1, piEnd)
		case bytes.HasPrefix(rest, []byte("!--")):
			end = after(b, i+3, commentEnd)
		case bytes.HasPrefix(rest, []byte("![CDATA[")):
			end = after(b, i+8, cdataEnd)
		case bytes.HasPrefix(rest, []byte("!")):
			end = declEnd(b, i+1)
		case bytes.HasPrefix(rest, []byte("/")):
			var name []byte
			end, name, _ = tagEnd(b, i+1)
			if end >= 0 {
				if len(open) == 0 || !bytes.Equal(open[len(open)-1], name) {
					s.malformed = true
					return s
				}
				open = open[:len(open)-1]
			}
		default:
			var name []byte
			var empty bool
			end, name, empty = tagEnd(b, i)
			if end >= 0 && len(name) == 0 {
				s.malformed = true // '<' that starts no markup
				return s
			}
			if end >= 0 {
				if len(open) == 0 {
					s.roots++
				}
				if !empty {
					open = append(open, name)
				}
			}
		}
		if end < 0 {
			s.cut = true
			return s
		}
		i = end
	}
}

// after returns the index just past the first sep at or after from, or -1.
func after(b []byte, from int, sep []byte) int {
	if from > len(b) {
		return -1
	}
	k := bytes.Index(b[from:], sep)
	if k < 0 {
		return -1
	}
	return from + k + len(sep)
}

// tagEnd reads a start or end tag whose name begins at from: it returns the index just past its
// '>' (-1 if the file ends first), the name, and whether the tag closes itself ("/>"). Quoted
// attribute values may hold '>'.
func tagEnd(b []byte, from int) (end int, name []byte, empty bool) {
	i := from
	for i < len(b) && !isSpace(b[i]) && b[i] != '>' && b[i] != '/' {
		i++
	}
	name = b[from:i]
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '"', '\'':
			k := bytes.IndexByte(b[i+1:], c)
			if k < 0 {
				return -1, name, false
			}
			i += k + 1
		case '>':
			return i + 1, name, i > from && b[i-1] == '/'
		}
	}
	return -1, name, false
}

// declEnd returns the index just past a declaration (<!DOCTYPE ...>, with its internal subset in
// brackets), or -1.
func declEnd(b []byte, from int) int {
	depth := 0
	for i := from; i < len(b); i++ {
		switch c := b[i]; c {
		case '"', '\'':
			k := bytes.IndexByte(b[i+1:], c)
			if k < 0 {
				return -1
			}
			i += k + 1
		case '[':
			depth++
		case ']':
			depth--
		case '>':
			if depth <= 0 {
				return i + 1
			}
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
