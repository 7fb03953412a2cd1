package xsd

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/samples"
)

// tnode is an editable XML element for generating mutated invoices; names keep their prefixes
// and xmlns attributes stay attributes, so printing gives back an equivalent document.
type tnode struct {
	name  string
	attrs []xml.Attr
	text  string // leaf text (elements with children keep only their children)
	kids  []*tnode
}

func parseTree(data []byte) *tnode {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*tnode
	var root *tnode
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return root
		}
		if err != nil {
			panic(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &tnode{name: rawName(t.Name), attrs: append([]xml.Attr(nil), t.Attr...)}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
}

func rawName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func (n *tnode) clone() *tnode {
	c := *n
	c.attrs = append([]xml.Attr(nil), n.attrs...)
	c.kids = make([]*tnode, len(n.kids))
	for i, k := range n.kids {
		c.kids[i] = k.clone()
	}
	return &c
}

func (n *tnode) write(b *bytes.Buffer, depth int) {
	ind := "\n" + strings.Repeat("  ", depth)
	b.WriteString(ind + "<" + n.name)
	for _, a := range n.attrs {
		b.WriteString(" " + rawName(a.Name) + `="`)
		xml.EscapeText(b, []byte(a.Value))
		b.WriteString(`"`)
	}
	b.WriteString(">")
	if len(n.kids) == 0 {
		xml.EscapeText(b, []byte(n.text))
	} else {
		for _, k := range n.kids {
			k.write(b, depth+1)
		}
		b.WriteString(ind)
	}
	b.WriteString("</" + n.name + ">")
}

func (n *tnode) bytes() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	n.write(&b, 0)
	b.WriteString("\n")
	return b.Bytes()
}

// all lists every element below the root with its parent.
func (n *tnode) all() (nodes, parents []*tnode) {
	var walk func(p *tnode)
	walk = func(p *tnode) {
		for _, k := range p.kids {
			nodes, parents = append(nodes, k), append(parents, p)
			walk(k)
		}
	}
	walk(n)
	return nodes, parents
}

func (n *tnode) leaves() []*tnode {
	nodes, _ := n.all()
	var out []*tnode
	for _, k := range nodes {
		if len(k.kids) == 0 {
			out = append(out, k)
		}
	}
	return out
}

// sampleInvoices are the official samples with their placeholders filled.
func sampleInvoices() [][]byte {
	day := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)
	var out [][]byte
	for i := range samples.Names() {
		out = append(out, samples.Invoice(i, "5265877635", day, fmt.Sprint(i)))
	}
	self := strings.NewReplacer("#nip#", "5265877635", "#invoicing_date#", "2026-02-03", "#invoice_number#", "9",
		"#selfInvocingNip#", samples.BuyerNIP, "#subject2nip#", samples.BuyerNIP).
		Replace(string(samples.Template("invoice_template_v3_self_invoicing.xml")))
	return append(out, []byte(self))
}

// tricky values for leaf mutations: the lexical edge cases of the FA(3) types.
var trickyValues = []string{
	"", " ", "0", "1", "2", "3", "01", "+1", "-1", "1.5", "1,5", "1.555", "1.50", "1.", ".5", "-0", "1e3",
	"12345678901234567", "1234567890123456", "123456789012345678901", "0.12345678", "0.123456789",
	"100", "100.000000", "100.0000001", "99.999999", "50.1234567", " 23 ", "\n7\n", "1 2",
	"2026-02-03", "2026-02-30", "2024-02-29", "2025-02-29", "2026-13-01", "2026-2-3", "2016-06-30",
	"2016-07-01", "2006-01-01", "2005-12-31", "2050-01-01", "2050-01-02", "1990-01-01", "2026-02-03Z",
	"2026-02-03+01:00", " 2026-02-03 ", "02026-02-03", "2026-02-03T10:00:00", "2026-02-03T10:00:00Z",
	"2026-02-03T24:00:00Z", "2026-02-03T10:00:00.5+02:00", "2025-09-01T00:00:00Z", "2025-08-31T23:59:59Z",
	"2025-09-01T05:00:00", "2025-09-02T00:00:00", "2050-01-01T23:59:59Z", "2050-01-02T00:00:00Z",
	"2026-02-03T10:00", "2026-02-03T10:00:00+14:00", "2026-02-03T10:00:00+15:00",
	"PL", "DE", "XX", "pl", " PL ", "PLN", "EUR", "ZZZ", " PLN ", "XI", "GB",
	"VAT", "KOR", "ZAL", "KOR_ZAL", "vat", "23", "22", "8", "zw", "np I", "np  I", "np II", "oo", "0 KR",
	"5265877635", "0265877635", "526587763", "52658776350", "5265877635-00001", "١٢٣٤٥٦٧٨٩٠",
	"a@b", "abc@", "@b", "a@", "x", strings.Repeat("A", 256), strings.Repeat("A", 257), strings.Repeat("Ż", 512),
	strings.Repeat("B", 513), "  spaced   out  ", "tab\there", "GTU_01", "GTU_14", "WSTO_EE", "I_42",
	"12345", "123456789", "12345678901234", "1234567890", "PKOPPLPW", "PKOPPLPWXXX", "pkopplpw",
	"123abcdefghij", "12abcdefghijk", "https://pay.example.pl/x?IPKSeF=123abcdefghij",
	"https://pay.example.pl/x?a=1&IPKSeF=123abcdefghij&b=2", "http://x/?IPKSeF=123abcdefghij",
	"5265877635-20260203-0123456789AB-CD", "M123456789-20260203-012345-6789AB-CD", "true", "FA",
	"\u00a0", "line1\nline2",
	"100.0000000", "0100.5", "-0.00", "1234567890123456.12", "12345678901234567.1", "99999999999999.99999999",
	"+5", "5.", "-", "00", "٣", "2026-02-03T10:00:00.000Z", "2026-02-03T10:00:00-00:00", "2026-02-03T10:00:00+00:00",
	"2026-02-03T10:00:00.1234567891234Z", "COBADEFFXXX", "COBADEFF", "COBADEFFXX", "DE89370400440532013000", "123456789",
	"M123456789-20260105-ABCDEF-012345-9F", "M123456789-20260105-ABCDEF012345-9F", "ABC1234567-20260105-ABCDEF-012345-9F",
	"5265877635-20191301-0123456789AB-CD", "EIN 12-3456789", strings.Repeat("x", 50), strings.Repeat("x", 51), "txt", "dec",
	"int", "date", "datetime", "time", "1900-01-01", "1899-12-31", "2050-12-31", "9999-12-31", "-2026-01-01",
}

// mutate returns one mutated copy of base and a short description of the mutation.
func mutate(base *tnode, r *rand.Rand) (*tnode, string) {
	doc := base.clone()
	nodes, parents := doc.all()
	i := r.IntN(len(nodes))
	n, p := nodes[i], parents[i]
	at := indexOf(p.kids, n)
	switch k := r.IntN(12); k {
	case 0: // remove an element
		p.kids = append(p.kids[:at], p.kids[at+1:]...)
		return doc, "remove " + n.name
	case 1: // swap with the next sibling
		if at+1 < len(p.kids) {
			p.kids[at], p.kids[at+1] = p.kids[at+1], p.kids[at]
		}
		return doc, "swap " + n.name
	case 2: // unknown element
		u := &tnode{name: []string{"Nieznany", "P_99", "Uwagi"}[r.IntN(3)], text: "x"}
		pos := r.IntN(len(p.kids) + 1)
		p.kids = append(p.kids[:pos], append([]*tnode{u}, p.kids[pos:]...)...)
		return doc, "unknown in " + p.name
	case 3: // one more occurrence
		p.kids = append(p.kids[:at+1], append([]*tnode{n.clone()}, p.kids[at+1:]...)...)
		return doc, "duplicate " + n.name
	case 4: // many more occurrences
		extra := 2 + r.IntN(3)
		for range extra {
			p.kids = append(p.kids[:at+1], append([]*tnode{n.clone()}, p.kids[at+1:]...)...)
		}
		return doc, fmt.Sprintf("repeat %s +%d", n.name, extra)
	case 5: // wrong namespace
		n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Local: "xmlns"}, Value: []string{"http://example.com/x", ""}[r.IntN(2)]})
		return doc, "namespace of " + n.name
	case 6: // attributes
		switch r.IntN(4) {
		case 0:
			n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Local: "extra"}, Value: "1"})
		case 1:
			n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Space: "xsi", Local: "schemaLocation"}, Value: "a b"})
		case 2:
			kf := findNode(doc, "KodFormularza")
			if kf != nil && len(kf.attrs) > 0 {
				kf.attrs = kf.attrs[1:]
			}
		case 3:
			kf := findNode(doc, "KodFormularza")
			if kf != nil && len(kf.attrs) > 0 {
				kf.attrs[r.IntN(len(kf.attrs))].Value = []string{"FA (2)", "FA (3)", " FA (3)", "1-0E", "1-1E"}[r.IntN(5)]
			}
		}
		return doc, "attribute on " + n.name
	case 7: // element content where text belongs, or text where elements belong
		if len(n.kids) == 0 {
			n.kids = []*tnode{{name: "X", text: "1"}}
		} else {
			n.kids = nil
			n.text = "tekst"
		}
		return doc, "content kind of " + n.name
	default: // a leaf value
		leaves := doc.leaves()
		l := leaves[r.IntN(len(leaves))]
		v := trickyValues[r.IntN(len(trickyValues))]
		if r.IntN(4) == 0 {
			v = tweak(l.text, r)
		}
		l.text = v
		return doc, fmt.Sprintf("value of %s = %q", l.name, clip(v))
	}
}

func tweak(s string, r *rand.Rand) string {
	switch r.IntN(5) {
	case 0:
		return s + "0"
	case 1:
		return " " + s + " "
	case 2:
		return strings.Repeat(s, 3)
	case 3:
		if s != "" {
			return s[:len(s)-1]
		}
		return s
	}
	return "-" + s
}

func indexOf(kids []*tnode, n *tnode) int {
	for i, k := range kids {
		if k == n {
			return i
		}
	}
	return -1
}

func findNode(n *tnode, local string) *tnode {
	if strings.HasSuffix(n.name, local) {
		return n
	}
	for _, k := range n.kids {
		if f := findNode(k, local); f != nil {
			return f
		}
	}
	return nil
}
