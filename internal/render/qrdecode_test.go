package render

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// TestFastQRDecodesWithZbar reads fastQR's codes with zbarimg (Debian zbar-tools), a decoder that
// shares nothing with go-qrcode: TestFastQRMatchesGoQRCode alone would pass if fastQR copied a
// library bug, and the codes on invoices must scan. It covers the capacity edge of every version
// 1-20 under all eight masks (a wrong mask formula would otherwise hide behind the mask the
// scoring happens to pick), KOD I links and a KOD II link with an RSA-2048 signature (485
// characters, version 17). One zbarimg run reads all the pictures.
func TestFastQRDecodesWithZbar(t *testing.T) {
	bin := testutil.Tool(t, "zbarimg", "zbar-tools")
	rng := rand.New(rand.NewPCG(3, 4))
	// No ']' (zbar's XML wraps the text in CDATA) and no line breaks; '%' and '?' as in links.
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/:.?=&%~+ !"
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		b[0] = 'x' // byte mode
		return string(b)
	}
	type pic struct {
		name, text string
		modules    [][]bool
	}
	var pics []pic
	for v := 1; v < len(qrVersionsM); v++ {
		text := random(qrVersionsM[v].byteCap)
		masked, _, dim, ok := qrCandidates(text)
		if !ok || dim != 4*v+17 {
			t.Fatalf("version %d: fastQR refused %d bytes or chose size %d", v, len(text), dim)
		}
		for mask, m := range masked {
			pics = append(pics, pic{fmt.Sprintf("v%02d-mask%d", v, mask), text, qrBitmap(m, dim)})
		}
	}
	// KOD II as docs/ksef-protocol.md gives it: .../certificate/{ctxType}/{ctxValue}/{sellerNIP}/
	// {certSerialHex}/{invoiceHashB64URL}/{sigB64URL}, with a SHA-256 hash (43 characters) and an
	// RSA-2048 signature (342): 485 characters, version 17.
	hash, sig := make([]byte, 32), make([]byte, 256)
	for i := range sig {
		sig[i] = byte(rng.Uint32())
	}
	for i := range hash {
		hash[i] = byte(rng.Uint32())
	}
	links := []string{
		testQRLink,
		"https://qr-test.ksef.mf.gov.pl/invoice/5260250274/03-12-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE",
		"https://qr.ksef.mf.gov.pl/invoice/9999999999/31-12-2026/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"https://qr-test.ksef.mf.gov.pl/certificate/InternalId/5265877635-12345/5265877635/01F20A5D352AE590/" +
			base64.RawURLEncoding.EncodeToString(hash) + "/" + base64.RawURLEncoding.EncodeToString(sig),
	}
	for i, link := range links {
		m, ok := fastQR(link)
		if !ok {
			t.Fatalf("fastQR refused %q", link)
		}
		pics = append(pics, pic{fmt.Sprintf("link%d-len%d", i, len(link)), link, m})
	}

	dir := t.TempDir()
	args := []string{"--xml", "-q", "-Sdisable", "-Sqrcode.enable"}
	for _, p := range pics {
		name := filepath.Join(dir, p.name+".png")
		writeQRPNG(t, name, p.modules, 3)
		args = append(args, name)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil && len(out) == 0 { // exit 4 when some picture has no code: reported below per picture
		t.Fatalf("zbarimg: %v", err)
	}
	got := parseZbarXML(t, out)
	t.Logf("zbarimg read %d of %d pictures", len(got), len(pics))
	for _, p := range pics {
		if codes := got[filepath.Join(dir, p.name+".png")]; len(codes) != 1 || codes[0] != p.text {
			t.Errorf("%s (%d bytes): zbarimg read %q, want %q", p.name, len(p.text), codes, p.text)
		}
	}
}

// writeQRPNG draws modules at scale pixels each with the quiet zone of four modules the standard
// asks for.
func writeQRPNG(t *testing.T, name string, modules [][]bool, scale int) {
	t.Helper()
	const quiet = 4
	side := (len(modules) + 2*quiet) * scale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range modules {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray((x+quiet)*scale+dx, (y+quiet)*scale+dy, color.Gray{})
				}
			}
		}
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// parseZbarXML maps each picture zbarimg --xml read to the texts of the codes it found there.
func parseZbarXML(t *testing.T, out []byte) map[string][]string {
	t.Helper()
	var doc struct {
		Sources []struct {
			Href    string `xml:"href,attr"`
			Symbols []struct {
				Data struct {
					Format string `xml:"format,attr"`
					Text   string `xml:",chardata"`
				} `xml:"data"`
			} `xml:"index>symbol"`
		} `xml:"source"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("zbarimg --xml: %v\n%s", err, out)
	}
	got := map[string][]string{}
	for _, s := range doc.Sources {
		for _, sym := range s.Symbols {
			text := sym.Data.Text
			if sym.Data.Format == "base64" {
				b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
				if err != nil {
					t.Fatalf("zbarimg base64 data: %v", err)
				}
				text = string(b)
			}
			got[s.Href] = append(got[s.Href], text)
		}
	}
	return got
}

// TestFastQRFunctionPatterns checks each version's function patterns module by module against
// ISO/IEC 18004, worked out here independently of qrfast.go's tables: format information (BCH
// 15,5 with generator 0x537, mask 0x5412) in both copies, version information (BCH 18,6 with
// generator 0x1f25) in both blocks from version 7, alignment centres from the standard's spacing
// rule, finders, separators, timing patterns and the dark module. A decoder corrects a wrong bit
// or two of format or version information, so zbarimg reading a code does not prove them right.
func TestFastQRFunctionPatterns(t *testing.T) {
	for v := 1; v < len(qrVersionsM); v++ {
		masked, _, dim, ok := qrCandidates(strings.Repeat("x", qrVersionsM[v].byteCap))
		if !ok {
			t.Fatalf("version %d refused", v)
		}
		for mask, m := range masked {
			if err := checkFunctionPatterns(qrBitmap(m, dim), v, mask); err != "" {
				t.Errorf("version %d mask %d: %s", v, mask, err)
			}
		}
	}
}

func checkFunctionPatterns(q [][]bool, v, mask int) string {
	dim := 4*v + 17
	if len(q) != dim {
		return fmt.Sprintf("size %d, want %d", len(q), dim)
	}
	at := func(r, c int) int { // 1 dark, 0 light
		if q[r][c] {
			return 1
		}
		return 0
	}
	// Finders with their separators: dark ring, light ring, 3×3 dark core, light border.
	for _, o := range [][2]int{{0, 0}, {0, dim - 7}, {dim - 7, 0}} {
		for r := -1; r <= 7; r++ {
			for c := -1; c <= 7; c++ {
				rr, cc := o[0]+r, o[1]+c
				if rr < 0 || cc < 0 || rr >= dim || cc >= dim {
					continue
				}
				ring := max(abs(r-3), abs(c-3))
				if want := map[bool]int{true: 1, false: 0}[ring != 2 && ring != 4]; at(rr, cc) != want {
					return fmt.Sprintf("finder at %v: module (%d,%d) is %d", o, rr, cc, at(rr, cc))
				}
			}
		}
	}
	for i := 8; i < dim-8; i++ {
		if want := 1 - i%2; at(6, i) != want || at(i, 6) != want {
			return fmt.Sprintf("timing module %d", i)
		}
	}
	if at(4*v+9, 8) != 1 {
		return "dark module light"
	}
	// Alignment centres: 6, then evenly spaced (an even step) up to dim-7.
	var centres []int
	if v >= 2 {
		n := v/7 + 2
		step := (v*4 + n*2 + 1) / (2*n - 2) * 2
		centres = []int{6}
		for p := dim - 7 - (n-2)*step; p <= dim-7; p += step {
			centres = append(centres, p)
		}
	}
	if fmt.Sprint(centres) != fmt.Sprint(qrVersionsM[v].align) && !(len(centres) == 0 && qrVersionsM[v].align == nil) {
		return fmt.Sprintf("alignment centres %v, the standard's %v", qrVersionsM[v].align, centres)
	}
	for _, r := range centres {
		for _, c := range centres {
			if r < 9 && c < 9 || r < 9 && c > dim-10 || r > dim-10 && c < 9 {
				continue // on a finder
			}
			for dr := -2; dr <= 2; dr++ {
				for dc := -2; dc <= 2; dc++ {
					if want := map[bool]int{true: 0, false: 1}[max(abs(dr), abs(dc)) == 1]; at(r+dr, c+dc) != want {
						return fmt.Sprintf("alignment pattern at (%d,%d)", r, c)
					}
				}
			}
		}
	}
	// Format information: error correction M (00) and the mask, bit 14 first.
	format := bchCode(mask, 10, 0x537) ^ 0x5412
	first := [15][2]int{{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8}, {7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}}
	for i := range 15 {
		bit := int(format >> uint(14-i) & 1)
		second := [2]int{dim - 1 - i, 8} // bits 14..8 up column 8 from the bottom
		if i >= 7 {
			second = [2]int{8, dim - 15 + i} // bits 7..0 along row 8 on the right
		}
		if at(first[i][0], first[i][1]) != bit || at(second[0], second[1]) != bit {
			return fmt.Sprintf("format bit %d (of %015b)", 14-i, format)
		}
	}
	// Version information: bit i at (dim-11+i%3, i/3) and its transpose, bit 0 least significant.
	if v >= 7 {
		version := bchCode(v, 12, 0x1f25)
		for i := range 18 {
			bit := int(version >> uint(i) & 1)
			if at(dim-11+i%3, i/3) != bit || at(i/3, dim-11+i%3) != bit {
				return fmt.Sprintf("version bit %d (of %018b)", i, version)
			}
		}
	}
	return ""
}

// bchCode is data followed by the remainder of data·x^n divided by gen (n+1 bits).
func bchCode(data, n int, gen uint32) uint32 {
	rem := uint32(data) << uint(n)
	for i := 31; i >= n; i-- {
		if rem>>uint(i)&1 == 1 {
			rem ^= gen << uint(i-n)
		}
	}
	return uint32(data)<<uint(n) | rem
}

// TestRSRemainder checks the error correction codewords two ways that do not use rsRemainder's
// generator: the worked example of ISO/IEC 18004 Annex I ("01234567" as version 1-M), and, for
// every block size of versions 1-20 at M, that data followed by its codewords is a codeword, i.e.
// vanishes at α^0 … α^(n-1) (in GF(256) multiplied out bit by bit here). A decoder silently
// corrects a few wrong codewords, so zbarimg reading a code does not prove them right.
func TestRSRemainder(t *testing.T) {
	data := []byte{0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11}
	want := []byte{0xa5, 0x24, 0xd4, 0xc1, 0xed, 0x36, 0xc7, 0x87, 0x2c, 0x55}
	if got := rsRemainder(data, 10); string(got) != string(want) {
		t.Errorf("Annex I: % x, want % x", got, want)
	}
	mul := func(a, b byte) byte {
		var p byte
		for ; b != 0; b >>= 1 {
			if b&1 == 1 {
				p ^= a
			}
			a = a<<1 ^ byte(0x1d*int(a>>7))
		}
		return p
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for v := 1; v < len(qrVersionsM); v++ {
		vi := qrVersionsM[v]
		for _, d := range []int{vi.d1, vi.d2} {
			if d == 0 {
				continue
			}
			block := make([]byte, d)
			for i := range block {
				block[i] = byte(rng.Uint32())
			}
			block = append(block, rsRemainder(block, vi.ec)...)
			root := byte(1)
			for i := range vi.ec {
				var s byte // Horner: the block as a polynomial, first byte highest, at α^i
				for _, c := range block {
					s = mul(s, root) ^ c
				}
				if s != 0 {
					t.Fatalf("version %d, %d data codewords: syndrome %d is %#x", v, d, i, s)
				}
				root = mul(root, 2)
			}
		}
	}
}

// TestQRVersionsMTable checks the table's arithmetic against ISO/IEC 18004's count of data modules
// per version: the blocks fill exactly the codewords there are, the remainder bits are what is left
// over, the second group's blocks are one codeword longer, and the byte capacity is what the data
// codewords hold after the mode indicator and the character count.
func TestQRVersionsMTable(t *testing.T) {
	for v := 1; v < len(qrVersionsM); v++ {
		vi := qrVersionsM[v]
		modules := (16*v+128)*v + 64
		if v >= 2 {
			n := v/7 + 2
			modules -= (25*n-10)*n - 55
		}
		if v >= 7 {
			modules -= 36
		}
		codewords := vi.n1*(vi.d1+vi.ec) + vi.n2*(vi.d2+vi.ec)
		countBits := 8
		if v >= 10 {
			countBits = 16
		}
		byteCap := ((vi.n1*vi.d1+vi.n2*vi.d2)*8 - 4 - countBits) / 8
		if codewords != modules/8 || vi.remainder != modules%8 || vi.n2 != 0 && vi.d2 != vi.d1+1 || vi.byteCap != byteCap {
			t.Errorf("version %d: %d codewords and %d remainder bits for %d modules; byte capacity %d, want %d",
				v, codewords, vi.remainder, modules, vi.byteCap, byteCap)
		}
	}
}

// TestPDFQRScans rasterises a rendered invoice as a viewer would (pdftoppm) and reads the KOD I
// code on the page with zbarimg: the code is drawn as raw page content in module units (qrPath),
// so a wrong transformation or row direction would print a code no phone can read.
func TestPDFQRScans(t *testing.T) {
	ppm := testutil.Tool(t, "pdftoppm", "poppler-utils")
	zbar := testutil.Tool(t, "zbarimg", "zbar-tools")
	in := richSamplePDF(t, "invoice.pdf")
	dir := filepath.Dir(in)
	if out, err := exec.Command(ppm, "-png", "-r", "150", "-singlefile", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	out, err := exec.Command(zbar, "-q", "--raw", "-Sdisable", "-Sqrcode.enable", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg found no code on the page: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != testQRLink {
		t.Errorf("zbarimg read %q, want %q", got, testQRLink)
	}
}

// richSamplePDF renders the richest official sample with its KSeF number and KOD I into a file
// called name in a new temporary folder and returns the file's path.
func richSamplePDF(t *testing.T, name string) string {
	t.Helper()
	x := samples.Invoice(2, genSellerNIP, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "42")
	pdf, err := Invoice(x, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
