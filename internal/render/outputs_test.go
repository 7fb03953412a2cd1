package render

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOutputs(t *testing.T) {
	upo, err := os.ReadFile("testdata/upo-faktura-kontekst-id-nip.xml")
	if err != nil {
		t.Fatal(err)
	}
	x := variants()[0].xml()
	files, err := Outputs(x, upo, []Format{PDF, HTML}, Options{KsefNumber: genKsefNumber, QRCodeI: testQRLink})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Suffix)
		pdf := bytes.HasPrefix(f.Data, []byte("%PDF-"))
		html := bytes.HasPrefix(f.Data, []byte("<!DOCTYPE html>"))
		if (f.Suffix == ".pdf" || f.Suffix == ".upo.pdf") != pdf || (f.Suffix == ".html" || f.Suffix == ".upo.html") != html {
			t.Errorf("%s holds the wrong format", f.Suffix)
		}
	}
	if diff := cmp.Diff([]string{".pdf", ".upo.pdf", ".html", ".upo.html"}, got); diff != "" {
		t.Errorf("suffixes (-want +got):\n%s", diff)
	}

	// A broken UPO does not cost the invoice its PDF.
	files, err = Outputs(x, []byte("<broken"), []Format{PDF}, Options{})
	if err == nil || len(files) != 1 || files[0].Suffix != ".pdf" {
		t.Errorf("got %d files, err %v; want the invoice PDF and an error", len(files), err)
	}
	// No formats, nothing rendered.
	if files, err := Outputs(x, upo, nil, Options{}); len(files) != 0 || err != nil {
		t.Errorf("no formats: %d files, %v", len(files), err)
	}
}
