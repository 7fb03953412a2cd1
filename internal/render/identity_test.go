package render

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

var updateHashes = flag.Bool("update-hashes", false, "rewrite testdata/render-sha256.txt from the current renderer")

const hashFile = "testdata/render-sha256.txt"

var reStamp = regexp.MustCompile(`(/CreationDate|/ModDate) \(D:[0-9]+\)`)

// TestRenderingsUnchanged pins the exact bytes of every rendering of the samples (official
// invoices, generated variants, a windows-1250 file, the UPO examples; PDF and HTML, Polish and
// English; a clock's time stamp masked): a change meant to make rendering cheaper must not change a single byte. A change meant
// to change the output rewrites the list with -update-hashes (and says why in its commit).
// The PDF bytes follow from float arithmetic and compress/flate, so the list is for amd64 and may
// need rewriting after a Go upgrade.
func TestRenderingsUnchanged(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the pinned hashes are amd64's (other architectures may fuse multiply-adds)")
	}
	got := map[string]string{}
	for name, r := range hashedRenderings(t) {
		// A document without a date of its own (a session UPO) is stamped with the clock.
		r = reStamp.ReplaceAll(r, []byte("$1 (D:masked)"))
		sum := sha256.Sum256(r)
		got[name] = hex.EncodeToString(sum[:])
	}
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if *updateHashes {
		var b strings.Builder
		for _, n := range names {
			b.WriteString(got[n] + "  " + n + "\n")
		}
		if err := os.WriteFile(hashFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(hashFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		want[name] = sum
	}
	for _, n := range names {
		if want[n] != got[n] {
			t.Errorf("%s: sha256 %s, pinned %q", n, got[n], want[n])
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d renderings, %d pinned", len(got), len(want))
	}
}

// hashedRenderings renders every input of TestRenderingsUnchanged in every format and language.
func hashedRenderings(t *testing.T) map[string][]byte {
	invoices := sampleInvoices()
	for _, v := range variants() {
		invoices["variant "+v.name] = v.xml()
	}
	utf := strings.Replace(string(variants()[0].xml()), `encoding="UTF-8"`, `encoding="windows-1250"`, 1)
	cp, err := charmap.Windows1250.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	invoices["windows-1250"] = []byte(cp)
	out := map[string][]byte{}
	for name, x := range invoices {
		for _, f := range []Format{PDF, HTML} {
			for _, l := range []Lang{Polish, English} {
				for _, o := range []Options{
					{Lang: l, Format: f, KsefNumber: genKsefNumber, QRCodeI: testQRLink},
					{Lang: l, Format: f, QRCodeI: testQRLink, QRCodeII: testQRLink + "/certificate"},
				} {
					r, err := Invoice(x, o)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					kind := "online"
					if o.KsefNumber == "" {
						kind = "offline"
					}
					out[name+" "+string(f)+" "+string(l)+" "+kind] = r
				}
			}
		}
	}
	upos, _ := filepath.Glob("testdata/upo-*.xml")
	for _, file := range upos {
		x, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []Format{PDF, HTML} {
			for _, l := range []Lang{Polish, English} {
				r, err := UPO(x, Options{Lang: l, Format: f})
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				out[filepath.Base(file)+" "+string(f)+" "+string(l)] = r
			}
		}
	}
	return out
}
