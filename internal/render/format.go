package render

import (
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/plzone"
)

// amount formats a decimal from the XML for reading: thousands grouped, at least two decimals,
// the decimal separator of the language ("13 102,43" in Polish, "13,102.43" in English). The digits
// are the file's own, never rounded through a float, so what the PDF shows is what KSeF holds.
func amount(s string, l Lang) string { return number(s, l, 2) }

// price is like amount but keeps any further decimals (unit prices carry up to 8).
func price(s string, l Lang) string { return number(s, l, 2) }

// quantity is like amount but keeps the file's precision (quantities and unit prices carry up to
// 6 and 8 decimals) and pads nothing.
func quantity(s string, l Lang) string { return number(s, l, 0) }

func number(s string, l Lang, minFrac int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	sign := ""
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if !allDigits(intPart) || !allDigits(frac) {
		return sign + s // not a plain decimal: show it as it is
	}
	for len(frac) < minFrac {
		frac += "0"
	}
	groupSep, decSep := " ", ","
	if l == English {
		groupSep, decSep = ",", "."
	}
	var b strings.Builder
	b.WriteString(sign)
	if intPart == "" {
		intPart = "0"
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(groupSep)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(decSep)
		b.WriteString(frac)
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// date shows an XML date (YYYY-MM-DD) as DD.MM.YYYY in Polish and keeps ISO in English; anything
// else (a timestamp) is shown in Warsaw time to the minute.
func date(s string, l Lang) string {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if l == Polish {
			return t.Format("02.01.2006")
		}
		return s
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.In(plzone.Warsaw).Format("2006-01-02 15:04:05")
	}
	return s
}

// join glues the non-empty parts with sep.
func join(sep string, parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
