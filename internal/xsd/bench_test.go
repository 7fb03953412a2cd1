package xsd

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
)

// BenchmarkCompile proves that loading FA(3) (four schema files, 180 KB, maxOccurs up to 50,000)
// costs milliseconds, not the minutes an unfolding validator needs.
func BenchmarkCompile(b *testing.B) {
	for b.Loop() {
		if _, err := Compile(schemaFS, "schemas/schemat_FA(3)_v1-0E.xsd"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchValidate(b *testing.B, doc []byte) {
	s := mustFA3(b)
	if errs := s.Validate(doc); len(errs) != 0 {
		b.Fatal(errs)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		s.Validate(doc)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}

// BenchmarkValidateSample: the official sample invoice (4.6 KB, 2 lines).
func BenchmarkValidateSample(b *testing.B) { benchValidate(b, v3Sample()) }

// BenchmarkValidate1000Lines: the sample with 1,000 invoice lines (FaWiersz), about 400 KB.
func BenchmarkValidate1000Lines(b *testing.B) { benchValidate(b, manyLines(1000)) }

// manyLines is the sample invoice with n invoice lines.
func manyLines(n int) []byte {
	base := string(v3Sample())
	start := strings.Index(base, "<FaWiersz>")
	end := strings.LastIndex(base, "</FaWiersz>") + len("</FaWiersz>")
	row := base[start : strings.Index(base, "</FaWiersz>")+len("</FaWiersz>")]
	var rows strings.Builder
	for i := 1; i <= n; i++ {
		rows.WriteString(strings.Replace(row, "<NrWierszaFa>1</NrWierszaFa>", fmt.Sprintf("<NrWierszaFa>%d</NrWierszaFa>", i), 1))
		rows.WriteString("\n        ")
	}
	return []byte(base[:start] + rows.String() + base[end:])
}

func TestManyLinesIsValid(t *testing.T) {
	doc := manyLines(1000)
	if errs := mustFA3(t).Validate(doc); len(errs) != 0 {
		t.Fatal(errs[0])
	}
	if n := strings.Count(string(doc), "<FaWiersz>"); n != 1000 {
		t.Fatalf("%d lines", n)
	}
}

// FuzzValidate: the validator never panics or hangs, whatever the input.
func FuzzValidate(f *testing.F) {
	for _, s := range sampleInvoices() {
		f.Add(s)
	}
	f.Add([]byte(`<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Naglowek/></Faktura>`))
	f.Add([]byte(`<?xml version="1.0"?><a:Faktura xmlns:a="http://crd.gov.pl/wzor/2025/06/25/13775/"><a:Fa>x</a:Fa></a:Faktura>`))
	f.Add([]byte("<"))
	s, err := FA3()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		errs := s.Validate(data)
		if len(errs) > MaxErrors {
			t.Fatalf("%d errors, more than MaxErrors", len(errs))
		}
		for _, e := range errs {
			if e.Line < 1 || e.Msg.IsZero() {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}

// BenchmarkStreamSample measures the validation logic alone: the tokens are decoded once, as
// invoicexml.Prepare shares its decoder pass with the validator.
func BenchmarkStreamSample(b *testing.B) { benchStream(b, v3Sample()) }

// BenchmarkStreamBurstInvoice is the validation that the 10,000-invoice burst (BenchmarkBurst10000
// in cmd/ksef-sync) adds per invoice, on the very invoice it sends. Its ns/op times 10,000 is the
// most validation can add to that run's wall time, even if none of it overlapped other work: the
// README's proof that validating costs the run less than 5 %.
func BenchmarkStreamBurstInvoice(b *testing.B) {
	benchStream(b, samples.Invoice(0, "5265877635", time.Now(), "BURST-00000"))
}

func benchStream(b *testing.B, doc []byte) {
	s := mustFA3(b)
	type tokAt struct {
		tok xml.Token
		off int64
	}
	var toks []tokAt
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			break
		}
		toks = append(toks, tokAt{xml.CopyToken(tok), off})
	}
	b.ReportAllocs()
	for b.Loop() {
		st := s.NewStream(doc)
		for _, t := range toks {
			st.Token(t.tok, t.off)
		}
		if errs := st.Errors(); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}
