package invoicexml

import (
	"unicode/utf8"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// maxReported bounds Details so a file full of control characters still yields a short report.
const maxReported = 10

// forbidden reports characters XML 1.0 does not allow or discourages (KSeF rejects both since 2.4.0):
// C0 controls other than tab, LF and CR, DEL and the C1 controls #x7F–#x84 and #x86–#x9F (XML 1.0
// §2.2 discourages exactly these: U+0085, NEXT LINE, is allowed), the U+FDD0–U+FDEF non-characters
// and the last two code points of every plane.
func forbidden(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\t' && r != '\n' && r != '\r'
	case r < 0x7F, r == 0x85:
		return false
	case r <= 0x9F:
		return true
	case r >= 0xFDD0 && r <= 0xFDEF:
		return true
	default:
		return r&0xFFFE == 0xFFFE
	}
}

// checkCharacters scans valid UTF-8 text for forbidden characters, reporting the first and listing
// a few more.
func checkCharacters(text []byte) *Error {
	var found []msg.Message
	line, lineStart := 1, 0
	for i := 0; i < len(text) && len(found) <= maxReported; {
		c := text[i]
		if c < utf8.RuneSelf {
			if c == '\n' {
				line, lineStart = line+1, i+1
			} else if forbidden(rune(c)) {
				found = append(found, describeChar(rune(c), line, i-lineStart+1))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if forbidden(r) {
			found = append(found, describeChar(r, line, utf8.RuneCount(text[lineStart:i])+1))
		}
		i += size
	}
	if len(found) == 0 {
		return nil
	}
	e := reject(CodeForbiddenCharacter, msg.M(msg.InvForbiddenCharHint), msg.InvForbiddenCharDesc, found[0])
	if len(found) > 1 {
		e.details = found[1:min(len(found), maxReported)]
		e.localize(msg.PL)
	}
	return e
}

func describeChar(r rune, line, col int) msg.Message {
	return msg.M(msg.InvCharAt, r, line, col)
}
