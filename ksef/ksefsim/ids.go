package ksefsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// checksum is the two upper-hex check characters KSeF appends to its numbers: CRC-8/SMBUS
// (polynomial x^8+x^2+x+1, init 0, no reflection, no final XOR) of s.
//
// ksef/ids.go computes the same CRC on purpose: the simulator is an independent implementation of
// KSeF's rules and imports nothing of the client (ksef), so a mistake in the client's checksum
// makes the client and the simulator disagree in the tests instead of agreeing on the mistake.
// For that it is also written the other way: as the textbook long division of the message,
// followed by eight zero bits, by the polynomial, where the client uses the shift-register form.
func checksum(s string) string {
	var rem uint16 // the running remainder, with the bit just shifted in at bit 8
	shiftIn := func(bit uint16) {
		rem = rem<<1 | bit
		if rem&0x100 != 0 {
			rem ^= 0x107
		}
	}
	for i := 0; i < len(s); i++ {
		for k := 7; k >= 0; k-- {
			shiftIn(uint16(s[i]>>k) & 1)
		}
	}
	for range 8 {
		shiftIn(0)
	}
	return fmt.Sprintf("%02X", rem)
}

func randomHex(nBytes int) string {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Errorf("crypto/rand: %w", err))
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// newReferenceNumber builds YYYYMMDD-TT-XXXXXXXXXX-XXXXXXXXXX-CC with the CRC-8 over the first 33 chars.
func newReferenceNumber(now time.Time, typ string) string {
	h := randomHex(10)
	base := fmt.Sprintf("%s-%s-%s-%s", now.UTC().Format("20060102"), typ, h[:10], h[10:])
	return base + "-" + checksum(base)
}

// newKsefNumber builds NIP-YYYYMMDD-<12 hex>-CC with the CRC-8 over the first 32 chars.
func newKsefNumber(nip string, acquired time.Time) string {
	base := fmt.Sprintf("%s-%s-%s", nip, acquired.UTC().Format("20060102"), randomHex(6))
	return base + "-" + checksum(base)
}

// validKsefNumber reports whether n is a 35-char KSeF number with a correct CRC.
func validKsefNumber(n string) bool {
	return len(n) == 35 && checksum(n[:32]) == n[33:]
}
