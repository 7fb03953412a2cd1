package render

import "sync"

// go-qrcode builds every code by copying its module matrix sixteen times and scoring the eight
// masks on eight goroutines with per-row slices and a generic KMP search: about half of an
// invoice PDF's CPU time (profile of BenchmarkPull10000, 2026-12-03). fastQR makes the same code
// the same way on flat arrays, for what every verification link is: byte mode, error correction
// M, versions 1 to 20 (up to 666 bytes, a KOD II link with an RSA signature included). Anything
// else goes to go-qrcode. It follows go-qrcode v2.3.0 step by step, including what its mask
// scoring counts (module kinds, not only colours), so the modules are identical:
// TestFastQRMatchesGoQRCode checks that against the library.

// Module values as go-qrcode keeps them: a kind in the high bits, the colour in bit 0.
const (
	qInit     = 1 << 1
	qData     = 2 << 1
	qVersion  = 3 << 1
	qFormat   = 4 << 1
	qFinder   = 5 << 1
	qDark     = 6 << 1
	qSplitter = 7 << 1
	qTiming   = 8 << 1
)

// qrVersionM is one version at error correction M: byte capacity, EC codewords per block, the
// blocks' data codeword counts in two groups, remainder bits, alignment pattern centres.
type qrVersionM struct {
	byteCap, ec      int
	n1, d1, n2, d2   int
	remainder        int
	align            []int
	versionBitString uint32
}

var qrVersionsM = [...]qrVersionM{
	1:  {14, 10, 1, 16, 0, 0, 0, nil, 0},
	2:  {26, 16, 1, 28, 0, 0, 7, []int{6, 18}, 0},
	3:  {42, 26, 1, 44, 0, 0, 7, []int{6, 22}, 0},
	4:  {62, 18, 2, 32, 0, 0, 7, []int{6, 26}, 0},
	5:  {84, 24, 2, 43, 0, 0, 7, []int{6, 30}, 0},
	6:  {106, 16, 4, 27, 0, 0, 7, []int{6, 34}, 0},
	7:  {122, 18, 4, 31, 0, 0, 0, []int{6, 22, 38}, 0x07c94},
	8:  {152, 22, 2, 38, 2, 39, 0, []int{6, 24, 42}, 0x085bc},
	9:  {180, 22, 3, 36, 2, 37, 0, []int{6, 26, 46}, 0x09a99},
	10: {213, 26, 4, 43, 1, 44, 0, []int{6, 28, 50}, 0x0a4d3},
	11: {251, 30, 1, 50, 4, 51, 0, []int{6, 30, 54}, 0x0bbf6},
	12: {287, 22, 6, 36, 2, 37, 0, []int{6, 32, 58}, 0x0c762},
	13: {331, 22, 8, 37, 1, 38, 0, []int{6, 34, 62}, 0x0d847},
	14: {362, 24, 4, 40, 5, 41, 3, []int{6, 26, 46, 66}, 0x0e60d},
	15: {412, 24, 5, 41, 5, 42, 3, []int{6, 26, 48, 70}, 0x0f928},
	16: {450, 28, 7, 45, 3, 46, 3, []int{6, 26, 50, 74}, 0x10b78},
	17: {504, 28, 10, 46, 1, 47, 3, []int{6, 30, 54, 78}, 0x1145d},
	18: {560, 26, 9, 43, 4, 44, 3, []int{6, 30, 56, 82}, 0x12a17},
	19: {624, 26, 3, 44, 11, 45, 3, []int{6, 30, 58, 86}, 0x13532},
	20: {666, 26, 3, 41, 13, 42, 3, []int{6, 34, 62, 90}, 0x149a6},
}

// qrFormatM is go-qrcode's format bit sequence for level M and masks 0..7.
var qrFormatM = [8]uint32{0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97, 0x4aa0}

// fastQR returns the modules of link's code (true = dark, [row][column]) and true, or false when
// link needs something fastQR does not do.
func fastQR(link string) ([][]bool, bool) {
	masked, scores, dim, ok := qrCandidates(link)
	if !ok {
		return nil, false
	}
	defer releaseQRCells(masked[0])
	best := 0
	for i, s := range scores {
		if s < scores[best] { // the first of equal scores: go-qrcode takes whichever goroutine ends first
			best = i
		}
	}
	return qrBitmap(masked[best], dim), true
}

// qrCandidates is the code of link under each of the eight masks with go-qrcode's score for it.
func qrCandidates(link string) (masked [8][]uint8, scores [8]int, dim int, ok bool) {
	if !qrByteMode(link) {
		return masked, scores, 0, false
	}
	ver := 0
	for v := 1; v < len(qrVersionsM); v++ {
		if qrVersionsM[v].byteCap >= len(link) {
			ver = v
			break
		}
	}
	if ver == 0 {
		return masked, scores, 0, false
	}
	vi := &qrVersionsM[ver]
	bits := qrCodewordBits(link, ver, vi)
	dim = ver*4 + 17
	base := qrPrefill(ver, vi, dim)
	filled := make([]uint8, len(base))
	copy(filled, base)
	qrFillData(filled, dim, bits)
	free := qrFreeModules(ver, base, dim)
	cells := qrCells(9 * len(base))
	t := cells[8*len(base):] // the transposed matrix, for scoring rows as contiguous lines
	for mask := range 8 {
		m := cells[mask*len(base) : (mask+1)*len(base)]
		copy(m, filled)
		qrApplyMask(m, free, mask)
		qrFillFormat(m, dim, qrFormatM[mask])
		if ver >= 7 {
			qrFillVersion(m, dim, vi.versionBitString)
		}
		masked[mask] = m
		if ver < len(qrKindsCache) {
			scores[mask] = qrScoreBits(m, dim, qrKindsFor(ver, m, dim))
		} else {
			scores[mask] = qrScore(m, t, dim)
		}
	}
	return masked, scores, dim, true
}

// The eight masked codes and the transposed scratch of qrCandidates live in one buffer, reused
// once fastQR has copied the best code out (16 KB a verification link).
var qrCellPool = newKeep(func() *[]uint8 { return new([]uint8) })

// qrCells is a buffer of n cells, its contents undefined (qrCandidates overwrites every cell).
func qrCells(n int) []uint8 {
	if b := qrCellPool.get(); cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]uint8, n)
}

// releaseQRCells gives back the buffer that begins with first, qrCandidates' masked[0].
func releaseQRCells(first []uint8) {
	b := first[:cap(first)]
	qrCellPool.put(&b)
}

// qrBitmap turns go-qrcode's column-major module values into rows of colours.
func qrBitmap(m []uint8, dim int) [][]bool {
	out := make([][]bool, dim)
	cells := make([]bool, dim*dim)
	for y := range dim {
		out[y] = cells[y*dim : (y+1)*dim]
		for x := range dim {
			out[y][x] = m[x*dim+y]&1 == 1
		}
	}
	return out
}

// qrByteMode reports whether go-qrcode encodes link in byte mode: ASCII with at least one
// character outside the alphanumeric set (a lower-case letter in every https link).
func qrByteMode(link string) bool {
	byteOnly := false
	for i := 0; i < len(link); i++ {
		c := link[i]
		if c >= 0x80 {
			return false
		}
		alnum := c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
		switch c {
		case ' ', '$', '%', '*', '+', '-', '.', '/', ':':
			alnum = true
		}
		byteOnly = byteOnly || !alnum
	}
	return byteOnly
}

// qrCodewordBits is the final bit sequence: data codewords (mode, count, bytes, terminator,
// padding) split into blocks, Reed–Solomon codewords per block, both interleaved, then the
// remainder bits.
func qrCodewordBits(link string, ver int, vi *qrVersionM) []bool {
	nData := vi.n1*vi.d1 + vi.n2*vi.d2
	var w qrBitWriter
	w.put(0b0100, 4)
	if ver <= 9 {
		w.put(uint32(len(link)), 8)
	} else {
		w.put(uint32(len(link)), 16)
	}
	for i := 0; i < len(link); i++ {
		w.put(uint32(link[i]), 8)
	}
	maxCap := nData * 8
	w.put(0, min(4, maxCap-len(w.bits)))
	if mod := len(w.bits) % 8; mod != 0 {
		w.put(0, 8-mod)
	}
	for i, n := 1, (maxCap-len(w.bits))/8; i <= n; i++ {
		if i%2 == 1 {
			w.put(0xEC, 8)
		} else {
			w.put(0x11, 8)
		}
	}
	data := w.bytes()
	var blocks, ecs [][]byte
	at := 0
	for g, n := range [2]int{vi.n1, vi.n2} {
		d := vi.d1
		if g == 1 {
			d = vi.d2
		}
		for range n {
			blocks = append(blocks, data[at:at+d])
			ecs = append(ecs, rsRemainder(data[at:at+d], vi.ec))
			at += d
		}
	}
	var out qrBitWriter
	for _, set := range [2][][]byte{blocks, ecs} {
		for i := 0; ; i++ {
			more := false
			for _, b := range set {
				if i < len(b) {
					out.put(uint32(b[i]), 8)
					more = true
				}
			}
			if !more {
				break
			}
		}
	}
	out.put(0, vi.remainder)
	return out.bits
}

type qrBitWriter struct{ bits []bool }

func (w *qrBitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bits = append(w.bits, v>>uint(i)&1 == 1)
	}
}

func (w *qrBitWriter) bytes() []byte {
	out := make([]byte, len(w.bits)/8)
	for i, b := range w.bits {
		if b {
			out[i/8] |= 0x80 >> uint(i%8)
		}
	}
	return out
}

// GF(256) with the QR polynomial x^8+x^4+x^3+x^2+1.
var gfExp, gfLog = func() (exp [512]byte, log [256]byte) {
	x := 1
	for i := range 255 {
		exp[i] = byte(x)
		log[x] = byte(i)
		if x <<= 1; x&0x100 != 0 {
			x ^= 0x11d
		}
	}
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsRemainder is the n error correction codewords of data.
func rsRemainder(data []byte, n int) []byte {
	gen := []byte{1}
	for i := range n {
		next := make([]byte, len(gen)+1)
		for j, c := range gen {
			next[j] ^= c
			next[j+1] ^= gfMul(c, gfExp[i])
		}
		gen = next
	}
	rem := make([]byte, n)
	for _, d := range data {
		lead := d ^ rem[0]
		copy(rem, rem[1:])
		rem[n-1] = 0
		for j := range n {
			rem[j] ^= gfMul(gen[j+1], lead)
		}
	}
	return rem
}

// qrPrefill lays the function patterns out as go-qrcode does (m[x*dim+y], x the column).
func qrPrefill(ver int, vi *qrVersionM, dim int) []uint8 {
	m := make([]uint8, dim*dim)
	for i := range m {
		m[i] = qInit
	}
	set := func(x, y int, v uint8) {
		if x >= 0 && x < dim && y >= 0 && y < dim {
			m[x*dim+y] = v
		}
	}
	finder := func(top, left int) {
		for x := top; x < top+7; x++ {
			for y := left; y < left+7; y++ {
				dx, dy := x-top, y-left
				ring := min(dx, dy, 6-dx, 6-dy)
				if ring == 1 {
					set(x, y, qFinder)
				} else {
					set(x, y, qFinder|1)
				}
			}
		}
	}
	finder(0, 0)
	for pos := range 8 {
		set(7, pos, qSplitter)
		set(pos, 7, qSplitter)
	}
	finder(dim-7, 0)
	for pos := range 8 {
		set(dim-8, 7-pos, qSplitter)
		set(dim-8+pos, 7, qSplitter)
	}
	finder(0, dim-7)
	for pos := range 8 {
		set(7, dim-8+pos, qSplitter)
		set(7-pos, dim-8, qSplitter)
	}
	for _, cx := range vi.align {
		for _, cy := range vi.align {
			if cx-2 < 7 && cy-2 < 7 || cx+2 > dim-7 && cy-2 < 7 || cx-2 < 7 && cy+2 > dim-7 {
				continue
			}
			for x := cx - 2; x <= cx+2; x++ {
				for y := cy - 2; y <= cy+2; y++ {
					if max(abs(x-cx), abs(y-cy)) == 1 {
						set(x, y, qData)
					} else {
						set(x, y, qData|1)
					}
				}
			}
		}
	}
	for pos := 8; pos < dim-8; pos++ {
		v := uint8(qTiming)
		if pos%2 == 0 {
			v |= 1
		}
		set(6, pos, v)
		set(pos, 6, v)
	}
	set(8, 4*ver+9, qDark|1)
	for pos := 1; pos < 9; pos++ {
		switch pos {
		case 6:
			set(8, dim-pos, qFormat)
			set(dim-pos, 8, qFormat)
		case 8:
			set(8, pos, qFormat)
			set(pos, 8, qFormat)
			set(dim-pos, 8, qFormat)
		default:
			set(8, pos, qFormat)
			set(pos, 8, qFormat)
			set(dim-pos, 8, qFormat)
			set(8, dim-pos, qFormat)
		}
	}
	set(0, 8, qFormat)
	set(8, 0, qFormat)
	if ver >= 7 {
		for i := 1; i <= 3; i++ {
			for pos := range 6 {
				set(dim-8-i, pos, qVersion)
				set(pos, dim-8-i, qVersion)
			}
		}
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// qrFillData walks the data zig-zag exactly as go-qrcode's fillDataBinary.
func qrFillData(m []uint8, dim int, bits []bool) {
	x, y := dim-1, dim-1
	up := true
	pos := 0
	for i := 0; pos < len(bits); i++ {
		v := uint8(qData)
		if bits[pos] {
			v |= 1
		}
		if x >= dim || x < 0 {
			break
		}
		state := uint8(qInit)
		if y >= dim || y < 0 {
			x -= 2
			if up {
				y++
			} else {
				y--
			}
			if x == 7 || x == 6 {
				x--
			}
			up = !up
			if x >= 0 && x < dim && y >= 0 && y < dim {
				state = m[x*dim+y]
			}
		} else {
			state = m[x*dim+y]
		}
		if state&0xfe == qInit {
			if x >= 0 && x < dim && y >= 0 && y < dim {
				m[x*dim+y] = v
			}
			pos++
		}
		if i%2 == 0 {
			x--
		} else if up {
			y--
			x++
		} else {
			y++
			x++
		}
	}
}

// qrApplyMask xors the modules go-qrcode masks (those still free after the function patterns)
// with mask pattern mask, with go-qrcode's xor of whole module values.
func qrApplyMask(m []uint8, free []qrFree, mask int) {
	for _, f := range free {
		mv := uint8(qData) | f.masks>>uint(mask)&1
		// without a branch: which way the comparison goes is as random as the data, and the
		// mispredicted branch was most of this loop's time
		var dark uint8
		if m[f.at] != mv {
			dark = 1
		}
		m[f.at] = qData | dark
	}
}

// qrFree is a module left free by the function patterns (index x*dim+y) with its bit under each
// of the eight masks (bit i for mask i).
type qrFree struct {
	at    int32
	masks uint8
}

// qrFreeModules lists the free modules of base; they depend only on the version, so each
// version's list is made once per process.
func qrFreeModules(ver int, base []uint8, dim int) []qrFree {
	return qrFreeCache[ver].get(func() []qrFree {
		var free []qrFree
		for x := range dim {
			for y := range dim {
				if base[x*dim+y]&0xfe != qInit {
					continue
				}
				f := qrFree{at: int32(x*dim + y)}
				for mask := range 8 {
					if qrMaskBit(mask, x, y) {
						f.masks |= 1 << uint(mask)
					}
				}
				free = append(free, f)
			}
		}
		return free
	})
}

type qrFreeOnce struct {
	once sync.Once
	free []qrFree
}

func (c *qrFreeOnce) get(make func() []qrFree) []qrFree {
	c.once.Do(func() { c.free = make() })
	return c.free
}

var qrFreeCache [len(qrVersionsM)]qrFreeOnce

func qrMaskBit(mask, x, y int) bool {
	switch mask {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (x/3+y/2)%2 == 0
	case 5:
		return (x*y)%2+(x*y)%3 == 0
	case 6:
		return ((x*y)%2+(x*y)%3)%2 == 0
	default:
		return ((x+y)%2+(x*y)%3)%2 == 0
	}
}

func qrFillFormat(m []uint8, dim int, seq uint32) {
	x, y := 0, dim-1
	for pos := range 15 {
		v := uint8(qFormat)
		if seq>>uint(14-pos)&1 == 1 {
			v |= 1
		}
		m[x*dim+8] = v
		m[8*dim+y] = v
		x++
		y--
		if x == 6 {
			x = 7
		} else if x == 8 {
			x = dim - 8
		}
		if y == dim-8 {
			y = 8
		} else if y == 6 {
			y = 5
		}
	}
}

func qrFillVersion(m []uint8, dim int, seq uint32) {
	pos := 0
	for j := 5; j >= 0; j-- {
		for i := 1; i <= 3; i++ {
			v := uint8(qVersion)
			if seq>>uint(17-pos)&1 == 1 {
				v |= 1
			}
			m[(dim-8-i)*dim+j] = v
			m[j*dim+dim-8-i] = v
			pos++
		}
	}
}

// qrScore is go-qrcode's mask evaluation: runs of one colour, 2×2 blocks of one module value,
// finder-like sequences of data modules, and the dark ratio. t is scratch for the transpose.
func qrScore(m, t []uint8, dim int) int {
	for x := range dim {
		for y := range dim {
			t[y*dim+x] = m[x*dim+y]
		}
	}
	score := 0
	for c := range dim { // columns of m, then its rows (the columns of t)
		score += qrLineScore(m[c*dim:(c+1)*dim]) + qrLineScore(t[c*dim:(c+1)*dim])
	}
	// rule 2
	for x := 0; x < dim-1; x++ {
		col, next := m[x*dim:(x+1)*dim], m[(x+1)*dim:(x+2)*dim]
		for y := 0; y < dim-1; y++ {
			s := col[y]
			if s == next[y] && s == col[y+1] && s == next[y+1] {
				score += 3
			}
		}
	}
	// rule 4
	dark := 0
	for _, v := range m {
		dark += int(v & 1)
	}
	return score + qrDarkScore(dark, dim)
}

// qrLineScore is rules 1 and 3 for one row or column: 3 for five modules of one colour in a row
// and 1 for each more (the line starts as if after a light module, as in go-qrcode), and 40 for
// each 1011101 0000 or 0000 1011101 of data modules, counted overlapping.
func qrLineScore(line []uint8) int {
	const p1, p2 = 0b10111010000, 0b00001011101
	score, cnt, cur := 0, 0, uint8(0)
	var win uint32 // the last 11 colours; valid counts the data modules among them, trailing
	valid := 0
	for _, v := range line {
		if b := v & 1; b != cur {
			cur, cnt = b, 1
		} else if cnt++; cnt == 5 {
			score += 3
		} else if cnt > 5 {
			score++
		}
		if v&0xfe != qData {
			valid, win = 0, 0
			continue
		}
		win = (win<<1 | uint32(v&1)) & 0x7ff
		if valid++; valid >= 11 && (win == p1 || win == p2) {
			score += 40
		}
	}
	return score
}
