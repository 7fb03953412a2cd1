package watcher

import (
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

const wholeInvoice = `<?xml version="1.0" encoding="UTF-8"?>
<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Fa><P_1>2026-12-02</P_1><P_2>FV/1</P_2></Fa></Faktura>
`

func TestXMLEndsEarly(t *testing.T) {
	cp1250 := "<?xml version=\"1.0\" encoding=\"windows-1250\"?><Faktura><P_2>\xA3\xF3d\x9F</P_2></Faktura>"
	tests := []struct {
		name, content string
		want          bool
	}{
		{"complete", wholeInvoice, false},
		{"cut in text", wholeInvoice[:len(wholeInvoice)/2], true},
		{"cut in a tag", `<Faktura><Fa><P_`, true},
		{"cut after an inner end tag", `<Faktura><Fa><P_1>2026-12-02</P_1>`, true},
		{"root not closed yet", "<Faktura>\n", true},
		{"not XML", "a note from the ERP\n", false},
		{"empty", "", false},
		{"mismatched tags", `<Faktura><Fa></P_1></Faktura>`, false},
		{"windows-1250 complete", cp1250, false},
		{"windows-1250 cut", cp1250[:len(cp1250)-5], true},
		{"UTF-8 BOM complete", "\xEF\xBB\xBF" + wholeInvoice, false},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "f.xml")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := xmlEndsEarly(p); got != tt.want {
				t.Errorf("xmlEndsEarly(%q) = %v, want %v", tt.content, got, tt.want)
			}
		})
	}
	if xmlEndsEarly(filepath.Join(dir, "missing.xml")) {
		t.Error("a missing file ends early")
	}
}

// TestWriterPausingLongerThanSettle: a writer writes half an invoice, pauses for several settle
// windows, then writes the rest. The file is offered once, whole (issue 11, item 6).
func TestWriterPausingLongerThanSettle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		half := len(wholeInvoice) / 2
		h.write("FV_1.xml", wholeInvoice[:half])
		h.w.Rescan()
		synctest.Wait()
		advance(3 * settle) // three settle windows of silence: the XML is still open
		h.expectNone("reported %v while its XML was still open")
		h.appendTo("FV_1.xml", wholeInvoice[half:])
		h.w.Rescan()
		synctest.Wait()
		advance(settle + time.Millisecond)
		select {
		case f := <-h.ready:
			if f.Name != "FV_1.xml" || f.Size != int64(len(wholeInvoice)) {
				t.Fatalf("offered %s with %d bytes, want FV_1.xml with %d", f.Name, f.Size, len(wholeInvoice))
			}
		default:
			t.Fatal("the finished file was not offered")
		}
		h.expectNone("offered again: %v")
	})
}

// TestXMLThatNeverEndsIsOfferedAfterBoundedWait: a file whose XML never closes is not held back
// for ever: after a few settle windows validation gets it (and rejects it as not-xml).
func TestXMLThatNeverEndsIsOfferedAfterBoundedWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, listingOnly(t.TempDir()))
		h.write("cut.xml", wholeInvoice[:40])
		h.w.Rescan()
		synctest.Wait()
		advance(settle * incompleteWaits)
		h.expectNone("reported %v before the bounded wait was over")
		advance(2 * settle)
		h.expect("reported", "cut.xml")
	})
}
