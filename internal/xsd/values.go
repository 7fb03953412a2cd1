package xsd

import (
	"strconv"
	"strings"
)

// decimal is an xsd:decimal value: sign, integer digits without leading zeros and fraction digits
// without trailing zeros. Zero is {false, "", ""}. Comparing digit strings keeps arbitrary
// precision without allocating big numbers.
type decimal struct {
	neg        bool
	intp, frac string
}

// parseDecimal reads the xsd:decimal lexical form (+|-)?([0-9]+(.[0-9]*)?|.[0-9]+).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if s != "" && (s[0] == '+' || s[0] == '-') {
		d.neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp, dot := strings.Cut(s, ".")
	if (ip == "" && fp == "") || !allDigits(ip) || !allDigits(fp) || (dot && ip == "" && fp == "") {
		return decimal{}, false
	}
	d.intp = strings.TrimLeft(ip, "0")
	d.frac = strings.TrimRight(fp, "0")
	if d.intp == "" && d.frac == "" {
		d.neg = false
	}
	return d, true
}

// parseInteger reads the xsd:integer lexical form (+|-)?[0-9]+.
func parseInteger(s string) (decimal, bool) {
	if strings.Contains(s, ".") {
		return decimal{}, false
	}
	d, ok := parseDecimal(s)
	return d, ok
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cmp returns -1, 0 or +1.
func (a decimal) cmp(b decimal) int {
	if a.neg != b.neg {
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmpMagnitude(a, b)
	if a.neg {
		return -c
	}
	return c
}

func cmpMagnitude(a, b decimal) int {
	if len(a.intp) != len(b.intp) {
		return sign(len(a.intp) - len(b.intp))
	}
	if c := strings.Compare(a.intp, b.intp); c != 0 {
		return c
	}
	return strings.Compare(a.frac, b.frac) // no trailing zeros: plain string order is numeric order
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// totalDigits counts the significant digits as the XSD value space defines them.
func (a decimal) totalDigits() int {
	return max(1, len(a.intp)+len(a.frac))
}

// dateTime is an xsd:date, xsd:dateTime or xsd:gYear value on one timeline: days since 0001-01-01
// (proleptic Gregorian), seconds into the day, fraction digits, and the timezone offset in minutes
// when the value has one.
type dateTime struct {
	days  int64
	secs  int64
	frac  string
	hasTZ bool
	tz    int // minutes east of UTC
}

// normalized returns the instant in UTC (days, seconds) after applying the timezone shift of
// extra minutes on top of its own.
func (d dateTime) normalized(shiftMin int) (int64, int64) {
	total := d.days*86400 + d.secs - int64(d.tz+shiftMin)*60
	days := total / 86400
	secs := total % 86400
	if secs < 0 {
		secs += 86400
		days--
	}
	return days, secs
}

func cmpInstant(ad, as int64, af string, bd, bs int64, bf string) int {
	if ad != bd {
		return sign(int(ad - bd))
	}
	if as != bs {
		return sign(int(as - bs))
	}
	return strings.Compare(af, bf)
}

// cmpDateTime orders two values. When exactly one has a timezone, XSD 1.0 §3.2.7.4 compares the
// other at +14:00 and -14:00 and calls the order indeterminate (2) unless both agree. This follows
// libxml2's xmlSchemaCompareDates step by step (including its fall-back to comparing the values
// as if both were UTC when the days differ), so the verdicts match xmllint's.
func cmpDateTime(x, y dateTime) int {
	type inst struct {
		d, s int64
		f    string
	}
	at := func(v dateTime, shift int) inst {
		d, s := v.normalized(shift)
		return inst{d, s, v.frac}
	}
	cmpTime := func(a, b inst) int { return cmpInstant(0, a.s, a.f, 0, b.s, b.f) }
	// bracket is libxml2's test of the zoneless side read at both extremes: the lo pair decides
	// "below", the hi pair "above", equal hi days without a later time are indeterminate (2);
	// decided is false where libxml2 falls back to comparing both as UTC.
	bracket := func(loX, loY, hiX, hiY inst) (order int, decided bool) {
		if loX.d < loY.d {
			return -1, true
		}
		if loX.d != loY.d {
			return 0, false
		}
		if cmpTime(loX, loY) < 0 {
			return -1, true
		}
		if hiX.d > hiY.d {
			return 1, true
		}
		if hiX.d != hiY.d {
			return 0, false
		}
		if cmpTime(hiX, hiY) > 0 {
			return 1, true
		}
		return 2, true
	}
	if x.hasTZ && !y.hasTZ {
		if order, ok := bracket(at(x, 0), at(y, 14*60), at(x, 0), at(y, -14*60)); ok {
			return order
		}
	} else if !x.hasTZ && y.hasTZ {
		if order, ok := bracket(at(x, -14*60), at(y, 0), at(x, 14*60), at(y, 0)); ok {
			return order
		}
	}
	a, b := at(x, 0), at(y, 0)
	return cmpInstant(a.d, a.s, a.f, b.d, b.s, b.f)
}

func daysIn(year int64, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 0001-01-01 (Howard Hinnant's algorithm, shifted).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mm := int64(m)
	if mm > 2 {
		mm -= 3
	} else {
		mm += 9
	}
	doy := (153*mm+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe
}

// parseYear reads -?[0-9]{4,} without superfluous leading zeros; year 0000 does not exist in XSD 1.0.
func parseYear(s string) (int64, string, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n < 4 || n > 12 || (n > 4 && s[0] == '0') {
		return 0, "", false
	}
	y, _ := strconv.ParseInt(s[:n], 10, 64)
	if y == 0 {
		return 0, "", false
	}
	if neg {
		y = -y
	}
	return y, s[n:], true
}

func twoDigits(s string) (int, bool) {
	if len(s) < 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// parseTZ reads an optional Z or (+|-)hh:mm suffix, which must be all of rest.
func parseTZ(rest string, d *dateTime) bool {
	switch {
	case rest == "":
		return true
	case rest == "Z":
		d.hasTZ = true
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		h, ok1 := twoDigits(rest[1:])
		m, ok2 := twoDigits(rest[4:])
		if !ok1 || !ok2 || m > 59 || h > 14 || (h == 14 && m != 0) {
			return false
		}
		d.hasTZ = true
		d.tz = h*60 + m
		if rest[0] == '-' {
			d.tz = -d.tz
		}
		return true
	}
	return false
}

// parseDatePart reads yyyy-mm-dd and returns what follows.
func parseDatePart(s string, d *dateTime) (string, bool) {
	y, rest, ok := parseYear(s)
	if !ok || len(rest) < 6 || rest[0] != '-' || rest[3] != '-' {
		return "", false
	}
	mo, ok1 := twoDigits(rest[1:])
	da, ok2 := twoDigits(rest[4:])
	if !ok1 || !ok2 || mo < 1 || mo > 12 || da < 1 || da > daysIn(y, mo) {
		return "", false
	}
	d.days = daysFromCivil(y, mo, da)
	return rest[6:], true
}

func parseDate(s string) (dateTime, bool) {
	var d dateTime
	rest, ok := parseDatePart(s, &d)
	return d, ok && parseTZ(rest, &d)
}

func parseGYear(s string) (dateTime, bool) {
	var d dateTime
	y, rest, ok := parseYear(s)
	if !ok {
		return d, false
	}
	d.days = daysFromCivil(y, 1, 1)
	return d, parseTZ(rest, &d)
}

// parseDateTime reads yyyy-mm-ddThh:mm:ss(.s+)?(tz)?; 24:00:00 is the first instant of the next day.
func parseDateTime(s string) (dateTime, bool) {
	var d dateTime
	rest, ok := parseDatePart(s, &d)
	if !ok || len(rest) < 9 || rest[0] != 'T' || rest[3] != ':' || rest[6] != ':' {
		return d, false
	}
	h, ok1 := twoDigits(rest[1:])
	mi, ok2 := twoDigits(rest[4:])
	se, ok3 := twoDigits(rest[7:])
	if !ok1 || !ok2 || !ok3 || h > 24 || mi > 59 || se > 59 {
		return d, false
	}
	rest = rest[9:]
	if strings.HasPrefix(rest, ".") {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return d, false
		}
		d.frac = strings.TrimRight(rest[1:n], "0")
		rest = rest[n:]
	}
	if h == 24 {
		if mi != 0 || se != 0 || d.frac != "" {
			return d, false
		}
		h = 0
		d.days++
	}
	d.secs = int64(h*3600 + mi*60 + se)
	return d, parseTZ(rest, &d)
}
