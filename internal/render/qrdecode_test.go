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

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// TestFastQRDecodesWithZbar reads fastQR's codes with zbarimg (Debian zbar-tools), a decoder that
// shares nothing with go-qrcode: TestFastQRMatchesGoQRCode alone would pass if fastQR copied a
// library bug, and the codes on invoices must scan. It covers the capacity edge of every version
// 1-20 under all eight masks (a wrong mask formula would otherwise hide behind the mask the
// scoring happens to pick), KOD I links and a KOD II link with an RSA-2048 signature (~480
// characters, version 19). One zbarimg run reads all the pictures.
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
	sig := make([]byte, 256) // an RSA-2048 signature, base64url without padding: 342 characters
	for i := range sig {
		sig[i] = byte(rng.Uint32())
	}
	links := []string{
		testQRLink,
		"https://qr-test.ksef.mf.gov.pl/invoice/5260250274/03-12-2026/UtQp9Gpc51y-u3xApZjIjgkpZ01js-J8KflSPW8WzIE",
		"https://qr.ksef.mf.gov.pl/invoice/9999999999/31-12-2026/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"https://qr-test.ksef.mf.gov.pl/certificate/Nip/5265877635/5265877635/01F20A5D352AE590/" +
			base64.RawURLEncoding.EncodeToString(sig),
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
