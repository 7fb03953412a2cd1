package invoicexml

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// singleByteEncodings are the legacy code pages Polish ERPs still export in, by lower-case label.
var singleByteEncodings = map[string]struct {
	name string
	cm   *charmap.Charmap
}{
	"windows-1250": {"windows-1250", charmap.Windows1250},
	"cp1250":       {"windows-1250", charmap.Windows1250},
	"x-cp1250":     {"windows-1250", charmap.Windows1250},
	"windows1250":  {"windows-1250", charmap.Windows1250},
	"iso-8859-2":   {"ISO-8859-2", charmap.ISO8859_2},
	"iso8859-2":    {"ISO-8859-2", charmap.ISO8859_2},
	"iso_8859-2":   {"ISO-8859-2", charmap.ISO8859_2},
	"latin2":       {"ISO-8859-2", charmap.ISO8859_2},
	"cp852":        {"CP852", charmap.CodePage852},
	"ibm852":       {"CP852", charmap.CodePage852},
}

var hintUndeclared1250 = msg.M(msg.InvUndeclared1250Hint)

// normalizeEncoding returns raw as UTF-8 without a byte order mark and with a UTF-8 declaration,
// listing what it changed (catalogue messages: the bookkeeper reads them in sent/*.ksef.json).
func normalizeEncoding(raw []byte) ([]byte, []msg.Message, *Error) {
	var conversions []msg.Message
	converted := false // the content was converted from another encoding
	text, removed := raw, 0
	bom := ""
	switch {
	case bytes.HasPrefix(raw, bomUTF8):
		text, removed, bom = raw[len(bomUTF8):], len(bomUTF8), "UTF-8"
		conversions = append(conversions, msg.M(msg.ConvRemovedBOM))
	case bytes.HasPrefix(raw, bomUTF16LE), bytes.HasPrefix(raw, bomUTF16BE):
		decoded, name, err := decodeUTF16(raw)
		if err != nil {
			return nil, nil, err
		}
		text, bom, converted = decoded, name, true
		conversions = append(conversions, msg.M(msg.ConvConvertedFrom, name))
	}
	if trimmed := bytes.TrimLeft(text, " \t\r\n"); len(trimmed) < len(text) && bytes.HasPrefix(trimmed, []byte("<?xml")) {
		if bom != "UTF-16LE" && bom != "UTF-16BE" {
			removed += len(text) - len(trimmed)
		}
		text = trimmed
		conversions = append(conversions, msg.M(msg.ConvRemovedBlank))
	}

	declared, _ := xmlDeclaration(text)
	label := strings.ToLower(declared)
	switch {
	case bom == "UTF-16LE" || bom == "UTF-16BE":
		// Already decoded; the declaration can only be stale.
	case label == "" || label == "utf-8" || label == "utf8":
		if err := checkUTF8(text, removed); err != nil {
			return nil, nil, err
		}
	case singleByteEncodings[label].cm != nil:
		enc := singleByteEncodings[label]
		if bom == "UTF-8" {
			if err := checkUTF8(text, removed); err != nil {
				return nil, nil, err
			}
			break
		}
		if !isASCII(text) && utf8.Valid(text) {
			return nil, nil, reject(CodeBadEncoding, msg.M(msg.InvMislabelledUTF8Hint, enc.name), msg.InvMislabelledUTF8Desc, declared)
		}
		decoded, err := decodeSingleByte(text, enc.cm, enc.name, removed)
		if err != nil {
			return nil, nil, err
		}
		if !bytes.Equal(decoded, text) {
			converted = true
			conversions = append(conversions, msg.M(msg.ConvConvertedFrom, enc.name))
		}
		text = decoded
	case strings.HasPrefix(label, "utf-16"):
		return nil, nil, reject(CodeBadEncoding, msg.M(msg.InvUTF16NoBOMHint), msg.InvUTF16NoBOMDesc, declared)
	default:
		return nil, nil, reject(CodeBadEncoding, msg.M(msg.InvUnsupportedEncodingHint), msg.InvUnsupportedEncodingDesc, declared)
	}
	if declared != "" && !strings.EqualFold(declared, "utf-8") {
		// Re-locate: converting non-ASCII bytes inside the declaration may have moved the value.
		_, valueAt := xmlDeclaration(text)
		text = rewriteDeclaration(text, valueAt, len(declared))
		if !converted {
			conversions = append(conversions, msg.M(msg.ConvChangedDeclared, declared))
		}
	}
	return text, conversions, nil
}

var encodingAttr = regexp.MustCompile(`\sencoding\s*=\s*(?:"([^"]*)"|'([^']*)')`)

// xmlDeclaration finds the XML declaration at the start of text and its encoding pseudo-attribute.
// valueAt is the offset of the encoding value in text (-1 when there is none).
func xmlDeclaration(text []byte) (encoding string, valueAt int) {
	if len(text) < 6 || !bytes.HasPrefix(text, []byte("<?xml")) || !isXMLSpace(text[5]) {
		return "", -1
	}
	end := bytes.Index(text, []byte("?>"))
	if end < 0 {
		return "", -1
	}
	m := encodingAttr.FindSubmatchIndex(text[:end])
	switch {
	case m == nil:
		return "", -1
	case m[2] >= 0:
		return string(text[m[2]:m[3]]), m[2]
	default:
		return string(text[m[4]:m[5]]), m[4]
	}
}

func isXMLSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// rewriteDeclaration replaces the encoding value of the leading declaration with UTF-8.
func rewriteDeclaration(text []byte, valueAt, valueLen int) []byte {
	out := make([]byte, 0, len(text)+5)
	out = append(out, text[:valueAt]...)
	out = append(out, "UTF-8"...)
	out = append(out, text[valueAt+valueLen:]...)
	return out
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkUTF8 rejects text that is not valid UTF-8, naming the first bad byte by its offset in the
// original file (removed = bytes dropped from the front).
func checkUTF8(text []byte, removed int) *Error {
	if utf8.Valid(text) {
		return nil
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError && size <= 1 {
			return reject(CodeBadEncoding, hintUndeclared1250, msg.InvBadUTF8Desc, i+removed, lineAt(text, i), text[i])
		}
		i += size
	}
	return nil
}

// decodeSingleByte converts a legacy code page to UTF-8, refusing bytes the code page leaves
// undefined rather than replacing them with U+FFFD (that would silently change the invoice).
func decodeSingleByte(text []byte, cm *charmap.Charmap, name string, removed int) ([]byte, *Error) {
	if isASCII(text) {
		return text, nil
	}
	out := make([]byte, 0, len(text)+len(text)/8)
	for i, c := range text {
		if c < utf8.RuneSelf {
			out = append(out, c)
			continue
		}
		r := cm.DecodeByte(c)
		if r == utf8.RuneError {
			return nil, reject(CodeBadEncoding, msg.M(msg.InvNotReallyHint, name), msg.InvUndefinedByteDesc, i+removed, lineAt(text, i), c, name)
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}

// decodeUTF16 converts a file starting with a UTF-16 byte order mark, refusing odd lengths and
// unpaired surrogates instead of replacing them.
func decodeUTF16(raw []byte) ([]byte, string, *Error) {
	name, be := "UTF-16LE", false
	if raw[0] == 0xFE {
		name, be = "UTF-16BE", true
	}
	body := raw[2:]
	if len(body)%2 != 0 {
		return nil, "", reject(CodeBadEncoding, msg.M(msg.InvExportAgainUTF8Hint), msg.InvUTF16OddDesc, name)
	}
	out := make([]byte, 0, len(body)/2+len(body)/8)
	for i := 0; i < len(body); i += 2 {
		u := unit(body[i:], be)
		r := rune(u)
		switch {
		case utf16.IsSurrogate(r) && u < 0xDC00 && i+3 < len(body):
			r = utf16.DecodeRune(r, rune(unit(body[i+2:], be)))
			i += 2
		case utf16.IsSurrogate(r):
			r = utf8.RuneError
		}
		if r == utf8.RuneError {
			return nil, "", reject(CodeBadEncoding, msg.M(msg.InvExportAgainUTF8Hint), msg.InvUTF16BrokenDesc, i+2, name)
		}
		out = utf8.AppendRune(out, r)
	}
	return out, name, nil
}

func unit(b []byte, bigEndian bool) uint16 {
	if bigEndian {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

// lineAt returns the 1-based line number of offset in text.
func lineAt(text []byte, offset int) int {
	return bytes.Count(text[:offset], []byte{'\n'}) + 1
}
