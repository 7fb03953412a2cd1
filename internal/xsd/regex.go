package xsd

import (
	"fmt"
	"regexp"
	"strings"
)

// compilePattern translates an XML Schema regular expression (XSD 1.0 Appendix F) into an
// equivalent Go RE2 expression anchored at both ends (XSD patterns always match the whole value).
//
// The differences that matter: \d is any Unicode decimal digit (Nd), not just 0-9; \s is only
// space, tab, CR and LF; . excludes CR as well as LF; ^ and $ are ordinary characters; \i and \c
// are XML name characters; character class subtraction ([a-z-[aeiou]]) has no RE2 equivalent and
// is refused (FA(3) does not use it).
func compilePattern(src string) (*regexp.Regexp, error) {
	tr, err := translateRegex(src)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	re, err := regexp.Compile(`^(?:` + tr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	return re, nil
}

// Escapes outside a character class.
var outsideEscapes = map[rune]string{
	'd': `\p{Nd}`, 'D': `\P{Nd}`,
	's': `[\t\n\r ]`, 'S': `[^\t\n\r ]`,
	'w': `[^\p{P}\p{Z}\p{C}]`, 'W': `[\p{P}\p{Z}\p{C}]`,
	'i': `[\p{L}\p{Nl}_:]`, 'I': `[^\p{L}\p{Nl}_:]`,
	'c': `[\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Lm}._:\-\x{B7}]`, 'C': `[^\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Lm}._:\-\x{B7}]`,
}

// Escapes inside a character class (only those that can be written as class items).
var insideEscapes = map[rune]string{
	'd': `\p{Nd}`, 'D': `\P{Nd}`,
	's': `\t\n\r `, 'S': `\x00-\x08\x0B\x0C\x0E-\x1F\x{21}-\x{10FFFF}`,
	'i': `\p{L}\p{Nl}_:`, 'c': `\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Lm}._:\-\x{B7}`,
}

func translateRegex(src string) (string, error) {
	var b strings.Builder
	rs := []rune(src)
	inClass := false
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if c == '\\' {
			if i+1 >= len(rs) {
				return "", fmt.Errorf("trailing backslash")
			}
			i++
			n, err := translateEscape(rs, &i, inClass)
			if err != nil {
				return "", err
			}
			b.WriteString(n)
			continue
		}
		if inClass {
			switch {
			case c == ']':
				inClass = false
			case c == '[':
				if i > 0 && rs[i-1] == '-' {
					return "", fmt.Errorf("character class subtraction is not supported")
				}
				return "", fmt.Errorf("unescaped [ inside a character class")
			}
			b.WriteRune(c)
			continue
		}
		switch c {
		case '[':
			inClass = true
			b.WriteRune(c)
			if i+1 < len(rs) && rs[i+1] == '^' {
				b.WriteRune('^')
				i++
			}
		case '.':
			b.WriteString(`[^\n\r]`)
		case '^', '$':
			b.WriteString(`\` + string(c))
		default:
			b.WriteRune(c)
		}
	}
	if inClass {
		return "", fmt.Errorf("unterminated character class")
	}
	return b.String(), nil
}

func translateEscape(rs []rune, i *int, inClass bool) (string, error) {
	c := rs[*i]
	switch c {
	case 'n':
		return `\n`, nil
	case 'r':
		return `\r`, nil
	case 't':
		return `\t`, nil
	case 'p', 'P':
		end := *i + 1
		if end >= len(rs) || rs[end] != '{' {
			return "", fmt.Errorf(`\%c without {name}`, c)
		}
		for end < len(rs) && rs[end] != '}' {
			end++
		}
		if end >= len(rs) {
			return "", fmt.Errorf(`unterminated \%c{`, c)
		}
		name := string(rs[*i+2 : end])
		if strings.HasPrefix(name, "Is") {
			return "", fmt.Errorf(`Unicode block escapes (\%c{%s}) are not supported`, c, name)
		}
		*i = end
		return `\` + string(c) + `{` + name + `}`, nil
	}
	if strings.ContainsRune(`\|.-^?*+{}()[]`, c) {
		return `\` + string(c), nil
	}
	table := outsideEscapes
	if inClass {
		table = insideEscapes
	}
	if s, ok := table[c]; ok {
		return s, nil
	}
	return "", fmt.Errorf(`unsupported escape \%c`, c)
}
