package ksef

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// KSeF tokens as Windows tools write them: Notepad adds a UTF-8 BOM, PowerShell 5.1's `>` and
// Out-File write UTF-16 LE with a BOM, editors add a line break. None of that is part of the token,
// and left in it makes KSeF answer 450 ("token invalid") or the encryption fail ("message too long").

// DecodeTokenFile turns the content of a token file (or variable) into the token: UTF-8 with or
// without a BOM, UTF-16 LE or BE with a BOM, or UTF-16 LE without one (recognised by its zero
// bytes); surrounding whitespace is removed.
func DecodeTokenFile(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return decodeUTF16(b[2:], binary.LittleEndian)
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b[2:], binary.BigEndian)
	case len(b) >= 4 && b[1] == 0 && b[3] == 0 && b[0] != 0:
		return decodeUTF16(b, binary.LittleEndian)
	case len(b) >= 4 && b[0] == 0 && b[2] == 0 && b[1] != 0:
		return decodeUTF16(b, binary.BigEndian)
	}
	if !utf8.Valid(b) {
		return "", errors.New("the token file is neither UTF-8 nor UTF-16 text")
	}
	return strings.TrimFunc(string(b), isTokenSpace), nil
}

func decodeUTF16(b []byte, order binary.ByteOrder) (string, error) {
	if len(b)%2 == 1 {
		b = b[:len(b)-1] // a trimmed line break left half a code unit
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	return strings.TrimFunc(string(utf16.Decode(u)), isTokenSpace), nil
}

func isTokenSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f' || r == 0 || r == 0xFEFF || r == 0xA0
}

// maxTokenLength is open-api.json's maxLength of a KSeF token.
const maxTokenLength = 160

// tokenShape is a KSeF token as the KSeF application issues it: the token's reference number, the
// context (nip-…, internalId-…, …) and the secret, separated by "|".
var tokenShape = regexp.MustCompile(`^(\d{8}-EC-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2})\|([A-Za-z]+)-([^|]+)\|([0-9A-Za-z]+)$`)

// CheckToken reports what is wrong with a decoded token, in words an administrator can act on. nip
// is the context NIP the login is for ("" checks the token alone). A KSeF token works only in the
// context it was generated in, which it carries (MF: "kontekst jest "w nim zaszyty"", CIRFMF/ksef-api
// #741), whatever permissions its owner holds in other contexts: an accounting office acts for its
// clients with its certificate, or with a token generated in each client's context.
func CheckToken(tok, nip string) error {
	switch {
	case tok == "":
		return errors.New("the token file is empty: paste the token from the KSeF application")
	case strings.ContainsAny(tok, "\r\n"):
		return errors.New("the token file holds more than one line: keep only the token")
	case len(tok) > maxTokenLength:
		return fmt.Errorf("the token is %d characters long; KSeF tokens have at most %d: is this the right file?", len(tok), maxTokenLength)
	case strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }):
		return errors.New("the token contains spaces, control or non-ASCII characters: copy it again from the KSeF application")
	}
	if m := tokenShape.FindStringSubmatch(tok); m != nil && strings.EqualFold(m[2], "nip") && nip != "" && m[3] != nip {
		return fmt.Errorf("the token was generated in the context of NIP %s and works only there (KSeF binds a token to its context), but this login is for NIP %s: "+
			"use a token generated in NIP %s's context, or log in with a certificate (method = \"certificate\"), which works wherever the NIP granted it permissions", m[3], nip, nip)
	}
	return nil
}

// TokenLooksIssued reports whether tok has the shape of a token issued by the KSeF application
// (reference|nip-NIP|secret). Other shapes may still work on test systems.
func TokenLooksIssued(tok string) bool { return tokenShape.MatchString(tok) }
