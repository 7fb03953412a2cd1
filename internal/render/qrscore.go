package render

import (
	"math/bits"
	"sync"
)

// qrScoreBits is qrScore for codes up to 64 modules wide (versions 1 to 11: every KOD I link) on
// bit sets, one 64-bit word per row and per column, instead of one byte per module: the eight
// mask evaluations were most of a code's CPU time (profile of BenchmarkPull10000, 2026-12-03).
// Same rules, same counts: TestQRScoreBitsMatchesQRScore compares the two on every mask.
func qrScoreBits(m []uint8, dim int, k *qrKinds) int {
	var col, row [64]uint64
	dark := 0
	for x := range dim {
		var c uint64
		for y, v := range m[x*dim : (x+1)*dim] {
			b := uint64(v & 1)
			c |= b << uint(y)
			row[y] |= b << uint(x)
		}
		col[x] = c
		dark += bits.OnesCount64(c)
	}
	score := 0
	for i := range dim {
		score += qrBitsLineScore(col[i], k.winCol[i], dim) + qrBitsLineScore(row[i], k.winRow[i], dim)
	}
	// rule 2: bit y of e is set when the 2×2 block at (x, y) has one colour; sameKind2x2 adds
	// go-qrcode's "and one kind"
	for x := 0; x < dim-1; x++ {
		c, n := col[x], col[x+1]
		e := ^(c ^ c>>1) & ^(n ^ n>>1) & ^(c ^ n) & k.sameKind2x2[x]
		score += 3 * bits.OnesCount64(e)
	}
	return score + qrDarkScore(dark, dim)
}

// qrBitsLineScore is qrLineScore for one line as bits (bit i, module i); win has bit i set when
// modules i..i+10 are all data modules.
func qrBitsLineScore(l, win uint64, dim int) int {
	// rule 1: bit i of eq says modules i and i+1 have one colour, of w5 that i..i+4 have; a run
	// of n ≥ 5 scores n-2: n-4 bits of w5 and 2 for its first one
	eq := ^(l ^ l>>1) & (1<<uint(dim-1) - 1)
	w5 := eq & (eq >> 1) & (eq >> 2) & (eq >> 3) // in Go & and >> bind equally: the parentheses matter
	score := bits.OnesCount64(w5) + 2*bits.OnesCount64(w5&^(eq<<1))
	if win == 0 {
		return score
	}
	// rule 3: 1011101 0000 or its mirror starting at module i, on data modules only
	n := ^l
	a := l & (n >> 1) & (l >> 2) & (l >> 3) & (l >> 4) & (n >> 5) & (l >> 6) & (n >> 7) & (n >> 8) & (n >> 9) & (n >> 10)
	b := n & (n >> 1) & (n >> 2) & (n >> 3) & (l >> 4) & (n >> 5) & (l >> 6) & (l >> 7) & (l >> 8) & (n >> 9) & (l >> 10)
	return score + 40*bits.OnesCount64((a|b)&win)
}

// qrDarkScore is rule 4, go-qrcode's reading of the dark ratio.
func qrDarkScore(dark, dim int) int {
	ratio := dark * 100 / (dim * dim)
	step := 0
	if ratio%5 == 0 {
		step = 1
	}
	prev := abs((ratio/5-step)*5 - 50)
	next := abs((ratio/5+1-step)*5 - 50)
	return min(prev, next) / 5 * 10
}

// qrKinds is what the scoring needs of the module kinds of a version's codes. Kinds do not depend
// on the text or the mask (every free module becomes a data module), so each version's is made
// once per process from its first masked code.
type qrKinds struct {
	winCol, winRow [64]uint64 // bit i of line j: modules i..i+10 of that column (row) are data
	sameKind2x2    [64]uint64 // bit y of [x]: modules (x,y), (x+1,y), (x,y+1), (x+1,y+1) are of one kind
}

func newQRKinds(m []uint8, dim int) *qrKinds {
	k := &qrKinds{}
	var dataCol, dataRow [64]uint64
	kind := func(x, y int) uint8 { return m[x*dim+y] &^ 1 }
	for x := range dim {
		for y := range dim {
			if kind(x, y) == qData {
				dataCol[x] |= 1 << uint(y)
				dataRow[y] |= 1 << uint(x)
			}
			if x < dim-1 && y < dim-1 {
				if s := kind(x, y); s == kind(x+1, y) && s == kind(x, y+1) && s == kind(x+1, y+1) {
					k.sameKind2x2[x] |= 1 << uint(y)
				}
			}
		}
	}
	win := func(d uint64) uint64 {
		w := d
		for i := 1; i <= 10; i++ {
			w &= d >> uint(i)
		}
		return w
	}
	for i := range dim {
		k.winCol[i], k.winRow[i] = win(dataCol[i]), win(dataRow[i])
	}
	return k
}

// qrKindsCache holds each version's qrKinds (versions above 11 are scored with qrScore).
var qrKindsCache [12]struct {
	once  sync.Once
	kinds *qrKinds
}

// qrKindsFor returns ver's kinds, made from m (a masked code of that version) the first time.
func qrKindsFor(ver int, m []uint8, dim int) *qrKinds {
	c := &qrKindsCache[ver]
	c.once.Do(func() { c.kinds = newQRKinds(m, dim) })
	return c.kinds
}
