package watcher

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
)

// TestScanAgreesWithDecoderOnEveryPrefix: for every prefix of real invoices (each sample, and one
// with comments, CDATA, a DOCTYPE and a quoted '>'), the structural scan is at least as cautious
// as the XML decoder it replaced: whatever the decoder saw cut off, the scan sees cut off, and what
// the scan calls complete, the decoder did too. A writer's half-written file is never taken for
// whole. (The decoder missed files cut inside a comment or a CDATA section, which the scan holds
// back.)
func TestScanAgreesWithDecoderOnEveryPrefix(t *testing.T) {
	docs := map[string][]byte{
		"tricky": []byte("<?xml version=\"1.0\"?>\n<!DOCTYPE Faktura [<!ELEMENT Faktura ANY>]>\n<!-- a <comment> -->" +
			"<Faktura a=\"x>y\" b='1/2'><Fa><![CDATA[<not a tag>]]><P_2>FV/1</P_2><Empty/></Fa></Faktura>\n<!-- after -->\n"),
	}
	for _, name := range samples.Names() {
		docs[name] = samples.Invoice(1, "5265877635", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), "FV/1")
	}
	p := filepath.Join(t.TempDir(), "f.xml")
	write := func(b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, doc := range docs {
		step := max(1, len(doc)/200) // every prefix of the small one, two hundred of each sample
		if name == "tricky" {
			step = 1
		}
		for n := 0; n < len(doc); n += step {
			write(doc[:n])
			early, complete := xmlEndsEarly(p), xmlComplete(p)
			if decoderEndsEarly(p) && !early {
				t.Fatalf("%s, %d of %d bytes (%q): the decoder saw it cut off, the scan did not", name, n, len(doc), tail(doc[:n]))
			}
			if complete && !decoderComplete(p) {
				t.Fatalf("%s, %d of %d bytes (%q): the scan calls it complete, the decoder did not", name, n, len(doc), tail(doc[:n]))
			}
			if open, closed := bytes.Contains(doc[:n], []byte("<Faktura")), bytes.Contains(doc[:n], []byte("</Faktura>")); !closed && (complete || open && !early) {
				t.Fatalf("%s, %d of %d bytes (%q): an unfinished invoice taken as finished (ends early %v, complete %v)", name, n, len(doc), tail(doc[:n]), early, complete)
			}
		}
		write(doc)
		if !xmlComplete(p) || xmlEndsEarly(p) {
			t.Errorf("%s: the whole document is not complete", name)
		}
	}
}

func tail(b []byte) string { return string(b[max(0, len(b)-30):]) }

func TestScanShapes(t *testing.T) {
	tests := []struct {
		in   string
		want xmlShape
	}{
		{"<a><b/></a>", xmlShape{roots: 1}},
		{"<a><b></a>", xmlShape{malformed: true, roots: 1}},
		{"<a></a><b></b>", xmlShape{roots: 2}},
		{"<a x='>'>", xmlShape{cut: true, roots: 1}},
		{"< a>", xmlShape{malformed: true}},
		{"\xFF\xFE<\x00a\x00", xmlShape{malformed: true}},
		{"plain text", xmlShape{}},
	}
	for _, tt := range tests {
		if got := scanXML([]byte(tt.in)); got != tt.want {
			t.Errorf("scanXML(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// BenchmarkCompletenessCheck: the check every file of a burst gets, against the decoder it replaced.
func BenchmarkCompletenessCheck(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f.xml")
	doc := samples.Invoice(1, "5265877635", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), "FV/1")
	if err := os.WriteFile(p, doc, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			xmlEndsEarly(p)
		}
	})
	b.Run("decoder", func(b *testing.B) {
		for b.Loop() {
			decoderEndsEarly(p)
		}
	})
}
