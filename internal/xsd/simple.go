package xsd

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/ksef-sync/ksef-sync/internal/msg"
)

// primitive is the built-in primitive a simple type derives from; it fixes the lexical rules and
// the value space comparisons.
type primitive int

const (
	primString primitive = iota
	primDecimal
	primDate
	primDateTime
	primGYear
	primBoolean
)

type whiteSpace int

const (
	wsPreserve whiteSpace = iota
	wsReplace
	wsCollapse
)

// whiteSpaces are the values of the whiteSpace facet.
var whiteSpaces = map[string]whiteSpace{"preserve": wsPreserve, "replace": wsReplace, "collapse": wsCollapse}

// simpleType is one derivation step: a value of the type must be valid for base and satisfy this
// step's facets (patterns of one step are alternatives, steps are all required).
type simpleType struct {
	name    string // "TKwotowy", "xsd:decimal", "" for anonymous
	base    *simpleType
	prim    primitive
	ws      whiteSpace
	integer bool          // lexical form of xsd:integer and its derivations
	union   []*simpleType // member types of a union (then nothing else is set)
	f       facets

	// known holds texts already found valid: the same currency, country codes, dates, rates and
	// NIPs recur invoice after invoice, and checking them again (patterns, long enumerations) was
	// most of validation's cost. validate is a pure function of the type and the text, so a
	// remembered answer is the answer; at most knownLimit texts per type are kept, so memory stays
	// bounded whatever arrives.
	known  sync.Map // string → struct{}
	knownN atomic.Int32
}

// knownLimit bounds each type's memory of valid texts.
const knownLimit = 512

type facets struct {
	patterns   []*regexp.Regexp
	patternSrc []string
	enum       []value
	enumLex    []string
	length     int // -1 when absent, as for the others below
	minLen     int
	maxLen     int
	totalDig   int
	fracDig    int
	minInc     limit
	maxInc     limit
	minExc     limit
	maxExc     limit
}

// limit is one of the four range facets: its value (nil when absent) and its literal, for messages.
type limit struct {
	v   *value
	lex string
}

// limit is the range facet named by its XSD name ("minInclusive").
func (f *facets) limit(name string) *limit {
	return map[string]*limit{"minInclusive": &f.minInc, "maxInclusive": &f.maxInc,
		"minExclusive": &f.minExc, "maxExclusive": &f.maxExc}[name]
}

func noFacets() facets {
	return facets{length: -1, minLen: -1, maxLen: -1, totalDig: -1, fracDig: -1}
}

// value is a parsed literal in the value space of its primitive.
type value struct {
	s string
	d decimal
	t dateTime
	b bool
}

func builtinTypes() map[string]*simpleType {
	m := map[string]*simpleType{}
	add := func(name string, base *simpleType, prim primitive, ws whiteSpace, integer bool) *simpleType {
		t := &simpleType{name: "xsd:" + name, base: base, prim: prim, ws: ws, integer: integer, f: noFacets()}
		m[name] = t
		return t
	}
	any := add("anySimpleType", nil, primString, wsPreserve, false)
	str := add("string", any, primString, wsPreserve, false)
	ns := add("normalizedString", str, primString, wsReplace, false)
	tok := add("token", ns, primString, wsCollapse, false)
	add("language", tok, primString, wsCollapse, false)
	add("NMTOKEN", tok, primString, wsCollapse, false)
	add("anyURI", any, primString, wsCollapse, false)
	add("boolean", any, primBoolean, wsCollapse, false)
	add("date", any, primDate, wsCollapse, false)
	add("dateTime", any, primDateTime, wsCollapse, false)
	add("gYear", any, primGYear, wsCollapse, false)
	dec := add("decimal", any, primDecimal, wsCollapse, false)
	integer := add("integer", dec, primDecimal, wsCollapse, true)
	ranged := func(name string, base *simpleType, lo, hi string) *simpleType {
		t := add(name, base, primDecimal, wsCollapse, true)
		if lo != "" {
			v, _ := parseDecimal(lo)
			t.f.minInc = limit{&value{d: v}, lo}
		}
		if hi != "" {
			v, _ := parseDecimal(hi)
			t.f.maxInc = limit{&value{d: v}, hi}
		}
		return t
	}
	nonNeg := ranged("nonNegativeInteger", integer, "0", "")
	ranged("positiveInteger", nonNeg, "1", "")
	nonPos := ranged("nonPositiveInteger", integer, "", "0")
	ranged("negativeInteger", nonPos, "", "-1")
	long := ranged("long", integer, "-9223372036854775808", "9223372036854775807")
	i32 := ranged("int", long, "-2147483648", "2147483647")
	short := ranged("short", i32, "-32768", "32767")
	ranged("byte", short, "-128", "127")
	ul := ranged("unsignedLong", nonNeg, "", "18446744073709551615")
	ui := ranged("unsignedInt", ul, "", "4294967295")
	us := ranged("unsignedShort", ui, "", "65535")
	ranged("unsignedByte", us, "", "255")
	return m
}

func normalize(s string, ws whiteSpace) string {
	switch ws {
	case wsReplace:
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	case wsCollapse:
		if !needsCollapse(s) {
			return s
		}
		return strings.Join(strings.FieldsFunc(s, isXMLSpace), " ")
	}
	return s
}

func needsCollapse(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		sp := isXMLSpace(rune(s[i]))
		if sp && (prevSpace || s[i] != ' ') {
			return true
		}
		prevSpace = sp
	}
	return prevSpace && s != ""
}

func isXMLSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// timeLexes are the date-like primitives' parsers and the message for a literal they refuse.
var timeLexes = map[primitive]struct {
	parse func(string) (dateTime, bool)
	not   msg.Key
}{
	primDate:     {parseDate, msg.XsdNotDate},
	primDateTime: {parseDateTime, msg.XsdNotDateTime},
	primGYear:    {parseGYear, msg.XsdNotYear},
}

// parseValue checks the primitive's lexical rules on a normalized literal.
func (t *simpleType) parseValue(s string) (value, msg.Message) {
	switch t.prim {
	case primDecimal:
		if t.integer {
			d, ok := parseInteger(s)
			if !ok {
				return value{}, msg.M(msg.XsdNotInteger, clip(s))
			}
			return value{d: d}, msg.Message{}
		}
		d, ok := parseDecimal(s)
		if !ok {
			return value{}, msg.M(msg.XsdNotDecimal, clip(s))
		}
		return value{d: d}, msg.Message{}
	case primDate, primDateTime, primGYear:
		lex := timeLexes[t.prim]
		d, ok := lex.parse(s)
		if !ok {
			return value{}, msg.M(lex.not, clip(s))
		}
		return value{t: d}, msg.Message{}
	case primBoolean:
		switch s {
		case "true", "1":
			return value{b: true}, msg.Message{}
		case "false", "0":
			return value{}, msg.Message{}
		}
		return value{}, msg.M(msg.XsdNotBoolean, clip(s))
	}
	return value{s: s}, msg.Message{}
}

// cmp orders two values of primitive p; 2 means indeterminate (date/time with and without timezone).
func (p primitive) cmp(a, b value) int {
	switch p {
	case primDecimal:
		return a.d.cmp(b.d)
	case primDate, primDateTime, primGYear:
		return cmpDateTime(a.t, b.t)
	case primBoolean:
		if a.b == b.b {
			return 0
		}
		return 2
	}
	return strings.Compare(a.s, b.s)
}

// validate checks a raw (unnormalized) literal and returns a message for the bookkeeper, or the
// zero Message.
func (t *simpleType) validate(raw string) msg.Message {
	if _, ok := t.known.Load(raw); ok {
		return msg.Message{}
	}
	prob := t.check(raw)
	if prob.IsZero() && t.knownN.Load() < knownLimit {
		// A clone: raw may share memory with the whole invoice, which must not stay pinned.
		if _, loaded := t.known.LoadOrStore(strings.Clone(raw), struct{}{}); !loaded {
			t.knownN.Add(1)
		}
	}
	return prob
}

// check is validate without the memory of known texts.
func (t *simpleType) check(raw string) msg.Message {
	if t.union != nil {
		for _, m := range t.union {
			if m.validate(raw).IsZero() {
				return msg.Message{}
			}
		}
		if t.name == "" {
			return msg.M(msg.XsdNotValidForItType, clip(raw))
		}
		return msg.M(msg.XsdNotValidForType, clip(raw), t.name)
	}
	if t.prim == primDateTime && raw != "" && isXMLSpace(rune(raw[0])) {
		// XSD collapses the whitespace, but libxml2 (xmllint, the reference the differential test
		// holds us to) refuses a dateTime that starts with one; being as strict costs one space.
		return msg.M(msg.XsdLeadingSpace, clip(raw))
	}
	s := normalize(raw, t.ws)
	v, prob := t.parseValue(s)
	if !prob.IsZero() {
		return prob
	}
	var chain [16]*simpleType
	steps := chain[:0]
	for st := t; st != nil; st = st.base {
		steps = append(steps, st)
	}
	for i := len(steps) - 1; i >= 0; i-- {
		if prob := steps[i].checkFacets(s, v); !prob.IsZero() {
			return prob
		}
	}
	return msg.Message{}
}

func (t *simpleType) checkFacets(s string, v value) msg.Message {
	f := &t.f
	if f.length >= 0 || f.minLen >= 0 || f.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		switch {
		case f.length >= 0 && n != f.length:
			return msg.M(msg.XsdLength, clip(s), n, f.length)
		case f.minLen >= 0 && n < f.minLen:
			if n == 0 {
				return msg.M(msg.XsdEmpty, f.minLen)
			}
			return msg.M(msg.XsdTooShort, clip(s), n, f.minLen)
		case f.maxLen >= 0 && n > f.maxLen:
			return msg.M(msg.XsdTooLong, clip(s), n, f.maxLen)
		}
	}
	if len(f.patterns) > 0 && !anyMatch(f.patterns, s) {
		return msg.M(msg.XsdPattern, clip(s), orJoin(f.patternSrc))
	}
	if f.enum != nil && !t.inEnum(v) {
		return msg.M(msg.XsdEnum, clip(s), listClip(f.enumLex, 12))
	}
	if f.totalDig >= 0 && v.d.totalDigits() > f.totalDig {
		return msg.M(msg.XsdTotalDigits, clip(s), f.totalDig)
	}
	if f.fracDig >= 0 && len(v.d.frac) > f.fracDig {
		return msg.M(msg.XsdFractionDigits, clip(s), f.fracDig)
	}
	return t.checkBounds(s, v)
}

func (t *simpleType) checkBounds(s string, v value) msg.Message {
	f := &t.f
	p := t.prim
	if f.minInc.v != nil {
		if c := p.cmp(v, *f.minInc.v); c < 0 || c == 2 {
			return msg.M(msg.XsdBelowMin, clip(s), f.minInc.lex)
		}
	}
	if f.maxInc.v != nil {
		if c := p.cmp(v, *f.maxInc.v); c >= 1 { // 2: indeterminate also fails
			return msg.M(msg.XsdAboveMax, clip(s), f.maxInc.lex)
		}
	}
	if f.minExc.v != nil {
		if c := p.cmp(v, *f.minExc.v); c <= 0 || c == 2 {
			return msg.M(msg.XsdNotAbove, clip(s), f.minExc.lex)
		}
	}
	if f.maxExc.v != nil {
		if c := p.cmp(v, *f.maxExc.v); c >= 0 {
			return msg.M(msg.XsdNotBelow, clip(s), f.maxExc.lex)
		}
	}
	return msg.Message{}
}

func (t *simpleType) inEnum(v value) bool {
	for _, e := range t.f.enum {
		if t.prim.cmp(v, e) == 0 {
			return true
		}
	}
	return false
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

// listClip lists the first n items, then how many there are (a Message, in the reader's language).
func listClip(items []string, n int) any {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return msg.M(msg.XsdListClipped, strings.Join(items[:n], ", "), len(items))
}

// orJoin joins alternatives: "a", then "a or b", "a, b or c" in the reader's language.
func orJoin(items []string) any {
	if len(items) == 1 {
		return items[0]
	}
	last := len(items) - 1
	return msg.M(msg.XsdOr, strings.Join(items[:last], ", "), items[last])
}
