package render

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// TestFastQRMatchesGoQRCode compares fastQR with go-qrcode itself for KOD I links and random
// byte-mode text at and around every version's capacity and at random lengths up to 666. go-qrcode
// picks among masks of equal score whichever goroutine finishes first, so there any of the tied
// masks is its answer.
func TestFastQRMatchesGoQRCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var lengths []int
	for v := 1; v < len(qrVersionsM); v++ {
		c := qrVersionsM[v].byteCap
		lengths = append(lengths, c-1, c, c+1)
	}
	for range 60 {
		lengths = append(lengths, 1+rng.IntN(666))
	}
	for _, link := range testQRLinks(rng, lengths, 40) {
		masked, scores, dim, ok := qrCandidates(link)
		if !ok {
			t.Fatalf("fastQR refused %q", link)
		}
		q, err := qrcode.NewWith(link, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
		if err != nil {
			t.Fatal(err)
		}
		var w matrixWriter
		if err := q.Save(&w); err != nil {
			t.Fatal(err)
		}
		low := slices.Min(scores[:])
		matched := false
		for i := range 8 {
			if scores[i] == low && equalBits(qrBitmap(masked[i], dim), w.bits) {
				matched = true
			}
		}
		if !matched {
			t.Fatalf("len %d: fastQR differs from go-qrcode for %q (scores %v)", len(link), link, scores)
		}
	}
}

func equalBits(a, b [][]bool) bool {
	return slices.EqualFunc(a, b, func(x, y []bool) bool { return slices.Equal(x, y) })
}

// TestFastQRLeavesTheRestToGoQRCode: what is not byte mode, or too long, goes to the library.
func TestFastQRLeavesTheRestToGoQRCode(t *testing.T) {
	for _, link := range []string{"12345", "HTTPS://QR.KSEF/ABC", "zażółć", string(make([]byte, 667))} {
		if _, ok := fastQR(link); ok {
			t.Errorf("fastQR took %q", link)
		}
	}
}

// BenchmarkQRModules is one KOD I code (version 6): fastQR against go-qrcode.
func BenchmarkQRModules(b *testing.B) {
	const link = "https://qr-test.ksef.mf.gov.pl/invoice/5260250274/03-12-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE"
	b.Run("fastQR", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := fastQR(link); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("go-qrcode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q, err := qrcode.NewWith(link, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
			if err != nil {
				b.Fatal(err)
			}
			var w matrixWriter
			_ = q.Save(&w)
		}
	})
}

// TestQRScoreBitsMatchesQRScore scores every mask of codes of versions 1 to 11 (at and around each
// capacity, random lengths, KOD I links) with both scorers: the bit-set one must count exactly
// what the byte-per-module one (go-qrcode's rules) counts, rule by rule summed.
func TestQRScoreBitsMatchesQRScore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var lengths []int
	for v := 1; v < len(qrKindsCache); v++ {
		c := qrVersionsM[v].byteCap
		lengths = append(lengths, c-1, c, 1+rng.IntN(c))
	}
	links := testQRLinks(rng, lengths, 20)
	versions := map[int]bool{}
	for _, link := range links {
		masked, scores, dim, ok := qrCandidates(link)
		if !ok {
			t.Fatalf("fastQR refused %q", link)
		}
		ver := (dim - 17) / 4
		versions[ver] = true
		tr := make([]uint8, dim*dim)
		for mask, m := range masked {
			if want := qrScore(m, tr, dim); scores[mask] != want {
				t.Errorf("version %d, mask %d, %q: bit-set score %d, qrScore %d", ver, mask, link, scores[mask], want)
			}
		}
	}
	if len(versions) != len(qrKindsCache)-1 {
		t.Errorf("covered versions %v, want 1-%d", versions, len(qrKindsCache)-1)
	}
}

// testQRLinks is byte-mode text of each of lengths (at most 666 bytes, with an 'x' somewhere so
// that it is byte mode) followed by kodI KOD I links, all drawn from rng.
func testQRLinks(rng *rand.Rand, lengths []int, kodI int) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/:.?=&%"
	var links []string
	for _, n := range lengths {
		b := make([]byte, min(n, 666))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		b[rng.IntN(len(b))] = 'x' // byte mode
		links = append(links, string(b))
	}
	for i := range kodI {
		links = append(links, fmt.Sprintf("https://qr-test.ksef.mf.gov.pl/invoice/%010d/%02d-12-2026/%043x", 5260250274+i, i%28+1, rng.Uint64()))
	}
	return links
}
