package xsd

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
)

// xmllintVerdicts validates files with libxml2's xmllint in a few batched invocations and returns
// file → valid. Without xmllint the test is skipped, except in CI (CI set), where it fails.
func xmllintVerdicts(t *testing.T, files []string) map[string]bool {
	t.Helper()
	bin := testutil.Tool(t, "xmllint", "libxml2-utils")
	schemaDir, err := filepath.Abs("schemas")
	if err != nil {
		t.Fatal(err)
	}
	// The FA(3) schema imports its base types from crd.gov.pl; a catalog maps them to our copies.
	catalog := filepath.Join(t.TempDir(), "catalog.xml")
	cat := `<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <rewriteSystem systemIdStartString="http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/" rewritePrefix="file://` + schemaDir + `/"/>
</catalog>`
	if err := os.WriteFile(catalog, []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]bool{}
	const chunk = 400
	for start := 0; start < len(files); start += chunk {
		batch := files[start:min(start+chunk, len(files))]
		args := append([]string{"--noout", "--nonet", "--schema", filepath.Join(schemaDir, "schemat_FA(3)_v1-0E.xsd")}, batch...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+catalog)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // exit status 3 when any file is invalid
		sc := bufio.NewScanner(&stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if f, ok := strings.CutSuffix(line, " validates"); ok {
				verdicts[f] = true
			} else if f, ok := strings.CutSuffix(line, " fails to validate"); ok {
				verdicts[f] = false
			} else if f, _, ok := strings.Cut(line, ": parser error"); ok {
				if i := strings.LastIndexByte(f, ':'); i > 0 {
					verdicts[f[:i]] = false // not well-formed: xmllint does not validate it at all
				}
			}
		}
		for _, f := range batch {
			if _, ok := verdicts[f]; !ok {
				t.Fatalf("xmllint gave no verdict for %s:\n%s", f, grepLines(stderr.String(), f))
			}
		}
	}
	return verdicts
}

// TestDifferentialXmllint mutates the sample invoices thousands of ways and checks that the
// validator and libxml2 agree on valid/invalid for every one.
func TestDifferentialXmllint(t *testing.T) {
	s, err := FA3()
	if err != nil {
		t.Fatal(err)
	}
	n := 2400
	if testing.Short() {
		n = 400
	}
	if v := os.Getenv("XSD_DIFF_N"); v != "" {
		fmt.Sscan(v, &n)
	}
	dir := t.TempDir()
	if v := os.Getenv("XSD_DIFF_KEEP"); v != "" {
		dir = v // keep the generated documents for a closer look
	}
	r := rand.New(rand.NewPCG(18, seed()))
	var bases []*tnode
	for _, b := range sampleInvoices() {
		bases = append(bases, parseTree(b))
	}
	// The hand-written invoice covers far more of the schema than the samples: it is mutated as
	// often as all the samples together.
	rich := parseTree(richInvoice(t))
	for range len(bases) {
		bases = append(bases, rich)
	}
	type gen struct {
		file, what string
		data       []byte
	}
	var docs []gen
	var files []string
	for i := range n {
		doc, what := mutate(bases[i%len(bases)], r)
		if r.IntN(5) == 0 { // some documents get two mutations
			doc, what = mutateAgain(doc, what, r)
		}
		data := doc.bytes()
		f := filepath.Join(dir, fmt.Sprintf("m%04d.xml", i))
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, gen{f, what, data})
		files = append(files, f)
	}
	for i, e := range edgeCases(t) {
		f := filepath.Join(dir, fmt.Sprintf("e%03d.xml", i))
		if err := os.WriteFile(f, []byte(e.doc), 0o644); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, gen{f, e.what, []byte(e.doc)})
		files = append(files, f)
	}
	want := xmllintVerdicts(t, files)
	valid, mismatches := 0, 0
	for _, d := range docs {
		errs := s.Validate(d.data)
		got := len(errs) == 0
		if got {
			valid++
		}
		if got != want[d.file] {
			mismatches++
			if mismatches <= 15 {
				t.Errorf("%s (%s): xmllint valid=%v, ours valid=%v %v", filepath.Base(d.file), d.what, want[d.file], got, errs)
			}
		}
	}
	t.Logf("%d documents, %d valid, %d invalid, %d mismatches", len(docs), valid, len(docs)-valid, mismatches)
	if valid < len(docs)/10 || valid > len(docs)*9/10 {
		t.Errorf("the mutations should give a mix of valid and invalid documents, got %d of %d valid", valid, len(docs))
	}
}

func mutateAgain(doc *tnode, what string, r *rand.Rand) (*tnode, string) {
	d2, w2 := mutate(doc, r)
	return d2, what + "; " + w2
}

// seed is fixed so failures reproduce; XSD_DIFF_SEED explores other mutations.
func seed() uint64 {
	var s uint64 = 2026
	if v := os.Getenv("XSD_DIFF_SEED"); v != "" {
		fmt.Sscan(v, &s)
	}
	return s
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type edgeCase struct{ what, doc string }

// edgeCases are hand-picked documents at the edges of the lexical rules, most of them valid.
func edgeCases(t *testing.T) []edgeCase {
	v3 := string(v3Sample())
	rich := string(richInvoice(t))
	var out []edgeCase
	add := func(what, base, old, new string) {
		out = append(out, edgeCase{what, testutil.ReplaceOnce(t, base, old, new)})
	}
	add("comment inside a value", v3, "<P_2>FA/", "<P_2><!-- numer -->FA/")
	add("character references", v3, "<KodWaluty>PLN</KodWaluty>", "<KodWaluty>&#80;&#x4C;N</KodWaluty>")
	add("CDATA value", v3, "<KodWaluty>PLN</KodWaluty>", "<KodWaluty><![CDATA[PLN]]></KodWaluty>")
	add("spaces around a decimal", v3, "<P_15>", "<P_15>  ")
	add("plus sign in a choice field", v3, "<P_16>2</P_16>", "<P_16>+2</P_16>")
	add("leading zero in a choice field", v3, "<P_16>2</P_16>", "<P_16>02</P_16>")
	add("newline in a choice field", v3, "<P_16>2</P_16>", "<P_16>\n2\n</P_16>")
	add("empty element with a fixed value", rich, "<tns:PrefiksPodatnika>PL</tns:PrefiksPodatnika>", "<tns:PrefiksPodatnika/>")
	add("fixed value with spaces", rich, "<tns:PrefiksPodatnika>PL</tns:PrefiksPodatnika>", "<tns:PrefiksPodatnika> PL </tns:PrefiksPodatnika>")
	add("other fixed value", rich, "<tns:PrefiksPodatnika>PL</tns:PrefiksPodatnika>", "<tns:PrefiksPodatnika>DE</tns:PrefiksPodatnika>")
	add("form code with spaces", v3, ">FA</KodFormularza>", "> FA </KodFormularza>")
	add("system code with a space", v3, `kodSystemowy="FA (3)"`, `kodSystemowy=" FA (3)"`)
	add("namespace redeclared on a child", v3, "<Fa>", `<Fa xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">`)
	add("prefixed child in default-namespace document", v3, "<Fa>", `<f:Fa xmlns:f="http://crd.gov.pl/wzor/2025/06/25/13775/">`)
	add("CRLF and tabs between elements", v3, "<Fa>\n", "<Fa>\r\n\t\t")
	add("xml:lang attribute", v3, "<Fa>", `<Fa xml:lang="pl">`)
	add("unqualified attribute from another namespace", v3, "<Fa>", `<Fa xmlns:o="urn:o" o:x="1">`)
	add("no XML declaration", v3, `<?xml version="1.0" encoding="utf-8"?>`, "")
	add("dateTime without seconds fraction", v3, "2026-06-05T02:45:33.422866Z", "2026-06-05T02:45:33Z")
	add("dateTime with offset", v3, "2026-06-05T02:45:33.422866Z", "2026-06-05T04:45:33+02:00")
	add("dateTime at the minimum", v3, "2026-06-05T02:45:33.422866Z", "2025-09-01T00:00:00Z")
	add("dateTime just before the minimum", v3, "2026-06-05T02:45:33.422866Z", "2025-08-31T23:59:59.999Z")
	add("date at the maximum", v3, "<P_1>2026-02-03</P_1>", "<P_1>2050-01-01</P_1>")
	add("thousands of digits", v3, "<P_15>", "<P_15>0000000000000000000000000")
	add("NIP with Arabic-Indic digits", v3, "<NIP>3861610227</NIP>", "<NIP>٣٨٦١٦١٠٢٢٧</NIP>")
	add("percent with trailing zeros", rich, "<tns:Udzial>50.5</tns:Udzial>", "<tns:Udzial>50.50000000</tns:Udzial>")
	add("percent at 100", rich, "<tns:Udzial>50.5</tns:Udzial>", "<tns:Udzial>100.000000</tns:Udzial>")
	add("percent above 100", rich, "<tns:Udzial>50.5</tns:Udzial>", "<tns:Udzial>100.000001</tns:Udzial>")
	add("empty attribute table column", rich, `<tns:Kol Typ="dec">`, `<tns:Kol Typ="">`)
	add("tab in a token value", v3, "<P_1M>Lidzbark</P_1M>", "<P_1M>Lidz\tbark</P_1M>")
	add("non-breaking space only", v3, "<P_1M>Lidzbark</P_1M>", "<P_1M>\u00a0</P_1M>")
	return out
}
