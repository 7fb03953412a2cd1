package engine

import (
	"strings"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/ksef"
)

// ksefHints are the catalogue's hints for KSeF's rejection codes.
var ksefHints = map[int]msg.Key{
	410: msg.HintKSeF410,
	415: msg.HintKSeF415,
	430: msg.HintKSeF430,
	435: msg.HintKSeF435,
	440: msg.HintKSeF440,
	450: msg.HintKSeF450,
	500: msg.HintKSeF500,
}

// hintFor turns a KSeF status into one line a bookkeeper can act on, in l.
func hintFor(l msg.Lang, st ksef.Status) string {
	key, ok := ksefHints[st.Code]
	if !ok {
		key = msg.HintKSeFOther
	}
	return l.T(key)
}

// joinHints puts hints one after another, skipping empty ones.
func joinHints(hs ...string) string {
	var out []string
	for _, h := range hs {
		if h != "" {
			out = append(out, h)
		}
	}
	return strings.Join(out, " ")
}
