package ksefsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// crc8 is CRC-8/SMBUS (poly 0x07, init 0, no reflection, no final XOR) as used in KSeF numbers.
//
// ksef/ids.go has the same function on purpose: the simulator is an independent implementation of
// KSeF's rules and imports nothing of the client (ksef), so a mistake in the client's checksum
// makes the client and the simulator disagree in the tests instead of agreeing on the mistake.
func crc8(b []byte) byte {
	var c byte
	for _, x := range b {
		c ^= x
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
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
	return fmt.Sprintf("%s-%02X", base, crc8([]byte(base)))
}

// newKsefNumber builds NIP-YYYYMMDD-<12 hex>-CC with the CRC-8 over the first 32 chars.
func newKsefNumber(nip string, acquired time.Time) string {
	base := fmt.Sprintf("%s-%s-%s", nip, acquired.UTC().Format("20060102"), randomHex(6))
	return fmt.Sprintf("%s-%02X", base, crc8([]byte(base)))
}

// validKsefNumber reports whether n is a 35-char KSeF number with a correct CRC.
func validKsefNumber(n string) bool {
	return len(n) == 35 && fmt.Sprintf("%02X", crc8([]byte(n[:32]))) == n[33:]
}
