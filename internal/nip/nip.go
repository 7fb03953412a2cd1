// Package nip checks Polish tax identifiers (NIP): ten digits, the last a check digit.
package nip

// weights are the check-digit weights of the first nine digits (Ministry of Finance rule: the sum
// of the products modulo 11 is the tenth digit, and a sum giving 10 is never issued).
var weights = [9]int{6, 5, 7, 2, 3, 4, 5, 6, 7}

// TenDigits reports whether s is exactly ten ASCII digits.
func TenDigits(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Valid reports whether s is ten digits whose last is the right check digit.
func Valid(s string) bool {
	if !TenDigits(s) {
		return false
	}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	return sum%11 != 10 && sum%11 == int(s[9]-'0')
}
