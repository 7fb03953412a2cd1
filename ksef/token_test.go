package ksef

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16Bytes(s string, order binary.AppendByteOrder, bom bool) []byte {
	var out []byte
	if bom {
		out = order.AppendUint16(out, 0xFEFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = order.AppendUint16(out, u)
	}
	return out
}

func TestDecodeTokenFile(t *testing.T) {
	const tok = "20261122-EC-0123456789-ABCDEF0123-AB|nip-5265877635|0123456789abcdef"
	tests := []struct {
		name string
		in   []byte
	}{
		{"plain", []byte(tok)},
		{"line break", []byte(tok + "\r\n")},
		{"surrounding whitespace", []byte("  \t" + tok + " \n\n")},
		{"UTF-8 BOM (Notepad)", append([]byte{0xEF, 0xBB, 0xBF}, tok+"\r\n"...)},
		{"UTF-16 LE BOM (PowerShell 5.1)", utf16Bytes(tok+"\r\n", binary.LittleEndian, true)},
		{"UTF-16 BE BOM", utf16Bytes(tok+"\r\n", binary.BigEndian, true)},
		{"UTF-16 LE no BOM", utf16Bytes(tok+"\r\n", binary.LittleEndian, false)},
		{"UTF-16 BE trimmed by a reader", utf16Bytes(tok+"\r\n", binary.BigEndian, true)[:2*(len(tok)+1)+1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTokenFile(tt.in)
			if err != nil || got != tok {
				t.Fatalf("got %q, %v; want %q", got, err, tok)
			}
			if err := CheckToken(got, "5265877635"); err != nil || !TokenLooksIssued(got) {
				t.Fatalf("CheckToken: %v", err)
			}
		})
	}
}

func TestCheckToken(t *testing.T) {
	tests := []struct{ name, tok, want string }{
		{"empty", "", "empty"},
		{"two lines", "abc\ndef", "more than one line"},
		{"inner space", "abc def", "spaces"},
		{"too long", strings.Repeat("a", 161), "at most 160"},
		{"another NIP", "20261122-EC-0123456789-ABCDEF0123-AB|nip-1111111111|ab", "generated in the context of NIP 1111111111 and works only there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckToken(tt.tok, "5265877635")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckToken(%q) = %v, want %q", tt.tok, err, tt.want)
			}
		})
	}
	if err := CheckToken("tok", "5265877635"); err != nil {
		t.Fatalf("a short test token is not an error: %v", err)
	}
}
