package ksef

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"time"
)

// crc8 is CRC-8/SMBUS (poly 0x07, init 0, no reflection, no final XOR) as used by KSeF numbers (§10).
// ksef/ksefsim computes it on its own, another way, on purpose (see there): client and simulator
// must be able to disagree.
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

// KsefNumberCRC returns the two upper-hex check characters for the first 32 characters of a KSeF number.
func KsefNumberCRC(first32 string) string { return fmt.Sprintf("%02X", crc8([]byte(first32))) }

var (
	ksefNumber35 = regexp.MustCompile(`^[1-9](\d[1-9]|[1-9]\d)\d{7}-(\d{4})(\d{2})(\d{2})-[0-9A-F]{12}-[0-9A-F]{2}$`)
	ksefNumber36 = regexp.MustCompile(`^[1-9](\d[1-9]|[1-9]\d)\d{7}-(\d{4})(\d{2})(\d{2})-[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{2}$`)
)

// ValidKsefNumber checks the 35-character format with its CRC-8, or the legacy 36-character pattern.
func ValidKsefNumber(s string) bool {
	switch len(s) {
	case 35:
		if !ksefNumber35.MatchString(s) || !validDate(s[11:19]) {
			return false
		}
		return KsefNumberCRC(s[:32]) == s[33:]
	case 36:
		return ksefNumber36.MatchString(s) && validDate(s[11:19])
	}
	return false
}

func validDate(yyyymmdd string) bool {
	_, err := time.Parse("20060102", yyyymmdd)
	return err == nil
}

// QRCodeI builds the KOD I verification link (§11): {qrBase}/invoice/{NIP}/{DD-MM-YYYY}/{b64url sha256}.
func QRCodeI(qrBase, sellerNIP string, issueDate time.Time, invoiceSHA256 []byte) string {
	return fmt.Sprintf("%s/invoice/%s/%s/%s", trimSlash(qrBase), sellerNIP, issueDate.Format("02-01-2006"),
		base64.RawURLEncoding.EncodeToString(invoiceSHA256))
}

// InvoiceSHA256 is the raw SHA-256 of an invoice file, as needed by QRCodeI.
func InvoiceSHA256(invoiceXML []byte) []byte {
	s := sha256.Sum256(invoiceXML)
	return s[:]
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
