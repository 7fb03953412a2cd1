package nip

import "testing"

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"5265877635", true},
		{"3861610227", true},
		{"5265877636", false}, // check digit off by one
		{"1234567890", false}, // the usual placeholder: its sum modulo 11 is 10, never issued
		{"526587763", false},
		{"52658776355", false},
		{"526-587-76", false},
		{"", false},
	} {
		if got := Valid(tc.in); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
