package testutil

import "strconv"

// ValidNIPs returns n distinct NIPs with valid check digits (weights 6 5 7 2 3 4 5 6 7, sum mod 11,
// 10 never a check digit), for tests that need many companies.
func ValidNIPs(n int) []string {
	w := [9]int{6, 5, 7, 2, 3, 4, 5, 6, 7}
	var out []string
	for base := 212000000; len(out) < n; base++ { // TNIP: the 2nd and 3rd digits are not both 0
		d := strconv.Itoa(base)
		sum := 0
		for i := range 9 {
			sum += int(d[i]-'0') * w[i]
		}
		if sum%11 != 10 {
			out = append(out, d+strconv.Itoa(sum%11))
		}
	}
	return out
}
