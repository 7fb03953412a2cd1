// Package msg is the one catalogue of the words ksef-sync shows a bookkeeper: the hints,
// descriptions and FA(3) schema problems of rejected invoices (error/<name>.error.json, where
// internal/xsd gives a key and arguments, rendered here), the conversion note of sent invoices
// (sent/<name>.ksef.json), the text of `ksef-sync status` and the status page.
// Every message has a key and its text in Polish and English side by side (catalogue.go), so a
// new message cannot be added in one language only (TestCatalogueIsComplete).
//
// Polish is the default: bookkeepers read Polish. Log lines stay English for support and never go
// through this package. Machine fields (codes, stages, JSON keys) are never translated.
package msg

import (
	"fmt"
	"strings"
)

// Lang is the language of the human text.
type Lang string

const (
	PL Lang = "pl" // the default
	EN Lang = "en"
)

// Parse accepts "pl" or "en"; "" is Polish.
func Parse(s string) (Lang, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "pl":
		return PL, nil
	case "en":
		return EN, nil
	}
	return PL, fmt.Errorf("language %q (want pl or en)", s)
}

// Key names one message of the catalogue.
type Key string

// Message is a key with its arguments, rendered later in whichever language the reader wants.
// Arguments that are a Key or a Message are rendered in the same language.
type Message struct {
	Key  Key
	Args []any
}

// M builds a Message.
func M(key Key, args ...any) Message { return Message{Key: key, Args: args} }

// IsZero reports whether m was never set.
func (m Message) IsZero() bool { return m.Key == "" }

// In renders m in l.
func (m Message) In(l Lang) string { return l.T(m.Key, m.Args...) }

// T renders key in l with args (fmt verbs). A key missing from the catalogue renders as the key
// itself, which TestCatalogueIsComplete keeps from ever happening.
func (l Lang) T(key Key, args ...any) string {
	t, ok := catalogue[key]
	if !ok {
		return string(key)
	}
	format := t.pl
	if l == EN {
		format = t.en
	}
	if len(args) == 0 {
		return format
	}
	rendered := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case Key:
			rendered[i] = l.T(v)
		case Message:
			rendered[i] = v.In(l)
		default:
			rendered[i] = a
		}
	}
	return fmt.Sprintf(format, rendered...)
}

// text is one message in both languages.
type text struct{ pl, en string }
