package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/samples"
	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

func runValidate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, stdin: strings.NewReader(""), getenv: func(string) string { return "" }}
	code := dispatch(context.Background(), env, append([]string{"validate"}, args...))
	return code, out.String(), errb.String()
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := string(invoice(2, "VAL"))
	bad := testutil.ReplaceOnce(t, good, "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>")
	bad = testutil.ReplaceOnce(t, bad, "<KodWaluty>PLN</KodWaluty>", "<KodWaluty>ZLOTE</KodWaluty>")
	writeFile(t, filepath.Join(dir, "a-good.xml"), []byte(good))
	writeFile(t, filepath.Join(dir, "b-bad.xml"), []byte(bad))
	writeFile(t, filepath.Join(dir, "c-broken.XML"), []byte("<?xml version=\"1.0\"?>\n<Faktura xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\"><Naglowek>"))
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not an invoice, not checked"))
	lineOf := func(s, sub string) int { return strings.Count(s[:strings.Index(s, sub)], "\n") + 1 }

	code, out, _ := runValidate(t, "-lang", "en", dir)
	if code != exitRejected {
		t.Errorf("exit code %d, want %d", code, exitRejected)
	}
	bf, cf := filepath.Join(dir, "b-bad.xml"), filepath.Join(dir, "c-broken.XML")
	want := fmt.Sprintf("%s:%d: Fa/KodWaluty: 'ZLOTE' is not an allowed value (allowed: AED, AFN, ALL, AMD, ANG, AOA, ARS, AUD, AWG, AZN, BAM, BBD, … (182 values))\n", bf, lineOf(bad, "<KodWaluty>")) +
		fmt.Sprintf("%s:%d: Fa/FaWiersz[1]/P_8B: '1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)\n", bf, lineOf(bad, "<P_8B>1,5")) +
		fmt.Sprintf("%s:2: Faktura: the file is not well-formed XML: line 2, column 69: unexpected EOF\n", cf)
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	if code, out, errOut := runValidate(t, filepath.Join(dir, "a-good.xml")); code != exitOK || out != "" {
		t.Errorf("valid invoice: exit %d, output %q %q", code, out, errOut)
	}
	// -nip checks the seller as the daemon sending for that company does.
	good1 := filepath.Join(dir, "a-good.xml")
	if code, out, _ := runValidate(t, "-lang", "en", "-nip", "3861610227", good1); code != exitRejected ||
		out != good1+":"+fmt.Sprint(lineOf(good, "<NIP>"+testNIP))+": Podmiot1/DaneIdentyfikacyjne/NIP: the seller's NIP is "+testNIP+" but ksef-sync sends for NIP 3861610227\n" {
		t.Errorf("another company's invoice with -nip: exit %d, output %q; want %d naming Podmiot1's NIP", code, out, exitRejected)
	}
	if code, out, errOut := runValidate(t, "-nip", testNIP, good1); code != exitOK || out != "" || strings.Contains(errOut, "not checked") {
		t.Errorf("own invoice with -nip: exit %d, output %q %q", code, out, errOut)
	}
	if _, _, errOut := runValidate(t, good1); !strings.Contains(errOut, "the seller (Podmiot1) was not checked") {
		t.Errorf("without -nip the summary %q does not say the seller was not checked", errOut)
	}
	if code, _, errOut := runValidate(t, "-nip", "1234567890", good1); code != exitUsage || !strings.Contains(errOut, "check digit") {
		t.Errorf("-nip with a wrong check digit: exit %d (%q), want %d", code, errOut, exitUsage)
	}
	// A party's NIP with a wrong check digit: production KSeF refuses it, TEST and DEMO do not.
	typo := filepath.Join(t.TempDir(), "buyer.xml")
	typoed := testutil.ReplaceOnce(t, good, "<NIP>"+samples.BuyerNIP+"</NIP>", "<NIP>3861610228</NIP>")
	writeFile(t, typo, []byte(typoed))
	if code, out, _ := runValidate(t, "-lang", "en", typo); code != exitRejected ||
		out != typo+":"+fmt.Sprint(lineOf(typoed, "3861610228"))+": Podmiot2/DaneIdentyfikacyjne/NIP: the NIP 3861610228 (Podmiot2/DaneIdentyfikacyjne/NIP) has a wrong check digit: production KSeF refuses such an invoice\n" {
		t.Errorf("buyer NIP typo: exit %d, output %q; want %d naming Podmiot2's NIP", code, out, exitRejected)
	}
	if code, out, _ := runValidate(t, "-env", "test", typo); code != exitOK {
		t.Errorf("buyer NIP typo with -env test: exit %d, output %q; want accepted as KSeF TEST does", code, out)
	}
	if code, _, _ := runValidate(t, "-env", "production", typo); code != exitUsage {
		t.Errorf("-env production: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runValidate(t); code != exitUsage {
		t.Errorf("no arguments: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runValidate(t, "-bogus", dir); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, exitUsage)
	}
	if code, _, errOut := runValidate(t, filepath.Join(dir, "missing.xml")); code != exitFatal || !strings.Contains(errOut, "missing.xml") {
		t.Errorf("missing file: exit %d (%q), want %d", code, errOut, exitFatal)
	}
}

// TestSchemaInvalidInvoiceGoesToErrorFolder drives the real binary: a schema-invalid invoice is
// rejected before sending, with stage validation, code schema, one detail per problem and a hint
// naming the field with its Polish label; the valid one beside it is sent.
func TestSchemaInvalidInvoiceGoesToErrorFolder(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "")
	good := invoice(2, "SCH")
	bad := testutil.ReplaceOnce(t, string(invoice(2, "SCHBAD")), "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>")
	e.drop("good.xml", good)
	e.drop("bad.xml", []byte(bad))
	code, out, errOut := e.send(2 * time.Minute)
	if code != exitRejected {
		t.Fatalf("send exit %d, want %d\n%s\n%s", code, exitRejected, out, errOut)
	}
	if _, ok := e.sentRecords()["good"]; !ok {
		t.Errorf("the valid invoice was not sent: %v", glob(t, e.sent, "*"))
	}
	rec, ok := e.errorRecords()["bad"]
	if !ok {
		t.Fatalf("no error/bad.error.json: %v", glob(t, e.errDir, "*"))
	}
	line := strings.Count(bad[:strings.Index(bad, "<P_8B>1,5")], "\n") + 1
	wantDetails := []any{fmt.Sprintf("wiersz %d: Fa/FaWiersz[1]/P_8B: wartość '1,5' nie jest liczbą (użyj cyfr i kropki, np. 1234.50)", line)}
	if rec["stage"] != "validation" || rec["code"] != "schema" || !cmp.Equal(rec["details"], wantDetails) {
		t.Errorf("error record: stage %v, code %v, details %v; want validation, schema, %v", rec["stage"], rec["code"], rec["details"], wantDetails)
	}
	hint, _ := rec["hint"].(string)
	if !strings.Contains(hint, "P_8B (Ilość (liczba) dostarczonych towarów lub zakres wykonanych usług)") {
		t.Errorf("hint %q does not name P_8B with its label", hint)
	}
	if raw, err := os.ReadFile(filepath.Join(e.errDir, "bad.xml")); err != nil || string(raw) != bad {
		t.Errorf("error/bad.xml is not the original bytes (err %v)", err)
	}
	if n := len(e.sim.Stats().Accepted); n != 1 {
		t.Errorf("the simulator received %d invoices, want only the valid one", n)
	}
}

// TestPartyNIPTypoRefusedBeforeSendingInProduction drives the real binary: with
// ksef.environment = "prod" a buyer NIP with a wrong check digit, which production KSeF refuses
// (weryfikacja-faktury.md), goes to error/ at once with stage validation and code invalid-nip,
// and nothing reaches KSeF; the valid invoice beside it is sent.
func TestPartyNIPTypoRefusedBeforeSendingInProduction(t *testing.T) {
	e := newE2E(t, ksefsim.Options{}, "")
	editConfig(t, e.cfgPath, `environment = "test"`, `environment = "prod"`)
	e.drop("good.xml", invoice(2, "NIPOK"))
	e.drop("typo.xml", []byte(testutil.ReplaceOnce(t, string(invoice(2, "NIPTYPO")), "<NIP>"+samples.BuyerNIP+"</NIP>", "<NIP>3861610228</NIP>")))
	if code, out, errOut := e.send(2 * time.Minute); code != exitRejected {
		t.Fatalf("send exit %d, want %d\n%s\n%s", code, exitRejected, out, errOut)
	}
	rec := e.errorRecords()["typo"]
	if rec["stage"] != "validation" || rec["code"] != "invalid-nip" || !strings.Contains(fmt.Sprint(rec["description"]), "Podmiot2/DaneIdentyfikacyjne/NIP") {
		t.Errorf("error record %v; want stage validation, code invalid-nip naming Podmiot2's NIP", rec)
	}
	if n := len(e.sim.Stats().Accepted); n != 1 {
		t.Errorf("the simulator received %d invoices, want only the valid one", n)
	}
}

// TestValidateSpeaksPolishByDefault: the description is Polish unless -lang en (issue 11 item 4).
func TestValidateSpeaksPolishByDefault(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.xml")
	writeFile(t, broken, []byte("<?xml version=\"1.0\"?>\n<Faktura xmlns=\"http://crd.gov.pl/wzor/2025/06/25/13775/\"><Naglowek>"))
	schema := filepath.Join(dir, "schema.xml")
	bad := testutil.ReplaceOnce(t, string(invoice(2, "VALPL")), "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>")
	writeFile(t, schema, []byte(bad))
	at := fmt.Sprintf("%s:%d: Fa/FaWiersz[1]/P_8B: ", schema, strings.Count(bad[:strings.Index(bad, "<P_8B>1,5")], "\n")+1)
	for _, tt := range []struct{ args, want []string }{
		{[]string{broken}, []string{broken + ":2: Faktura: plik nie jest poprawnym dokumentem XML: wiersz 2, kolumna 69: unexpected EOF\n"}},
		{[]string{"-lang", "en", broken}, []string{broken + ":2: Faktura: the file is not well-formed XML: line 2, column 69: unexpected EOF\n"}},
		{[]string{schema}, []string{at + "wartość '1,5' nie jest liczbą (użyj cyfr i kropki, np. 1234.50)\n"}},
		{[]string{"-lang", "en", schema}, []string{at + "'1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)\n"}},
	} {
		code, out, errOut := runValidate(t, tt.args...)
		if code != exitRejected || !cmp.Equal([]string{out}, tt.want) {
			t.Errorf("validate %v: exit %d, output %q (%s); want %d, %q", tt.args, code, out, errOut, exitRejected, tt.want)
		}
	}
}

// TestBookkeeperTextIsPolishByDefault drives the real binary: the hint and description of an
// error file, the FA(3) schema problems in its details, the conversion note in sent/*.ksef.json
// and the `status` text are Polish by default and English with the top-level language = "en";
// the machine fields (code, stage, the JSON keys) are the same in both (issue 11 item 4).
func TestBookkeeperTextIsPolishByDefault(t *testing.T) {
	tests := []struct {
		name, top                  string
		wantDesc, wantHint, status string
		schemaDetail, conversion   string // %d: the line of the bad value
	}{
		{"default", "", "brak wartości: numer faktury (P_2)", "uzupełnij w systemie ERP: numer faktury (P_2)", "Ostatnie odrzucenia (od najnowszych):",
			"wiersz %d: Fa/FaWiersz[1]/P_8B: wartość '1,5' nie jest liczbą (użyj cyfr i kropki, np. 1234.50)",
			"usunięto puste znaki przed deklaracją XML; przekonwertowano z kodowania windows-1250 na UTF-8"},
		{"en", "language = \"en\"\n", "the invoice number (numer faktury, P_2) is missing or empty", "fill in the invoice number", "Last rejections (newest first):",
			"line %d: Fa/FaWiersz[1]/P_8B: '1,5' is not a decimal number (use digits and a dot, e.g. 1234.50)",
			"removed blank space before the XML declaration; converted from windows-1250"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, ksefsim.Options{}, "")
			if tt.top != "" {
				writeFile(t, e.cfgPath, append([]byte(tt.top), testutil.ReadFile(t, e.cfgPath)...))
			}
			e.drop("no-number.xml", regexp.MustCompile(`<P_2>[^<]*</P_2>`).ReplaceAll(invoice(1, "LANG"), nil))
			bad := testutil.ReplaceOnce(t, string(invoice(2, "LANGSCH")), "<P_8B>8</P_8B>", "<P_8B>1,5</P_8B>")
			e.drop("schema.xml", []byte(bad))
			e.drop("cp1250.xml", append([]byte("\r\n"), windows1250(t, invoice(1001, "LANGCP"))...))
			e.sendWants(exitRejected, 2*time.Minute)
			recs := e.errorRecords()
			rec, ok := recs["no-number"]
			if !ok {
				entries, _ := os.ReadDir(e.errDir)
				t.Fatalf("no error/no-number.error.json: %v", entries)
			}
			desc, _ := rec["description"].(string)
			hint, _ := rec["hint"].(string)
			if rec["code"] != "missing-field" || rec["stage"] != "validation" || !strings.Contains(desc, tt.wantDesc) || !strings.Contains(hint, tt.wantHint) {
				t.Errorf("error record: code %v, stage %v, description %q, hint %q; want missing-field, validation, %q…, %q…",
					rec["code"], rec["stage"], desc, hint, tt.wantDesc, tt.wantHint)
			}
			wantDetails := []any{fmt.Sprintf(tt.schemaDetail, strings.Count(bad[:strings.Index(bad, "<P_8B>1,5")], "\n")+1)}
			if rec := recs["schema"]; rec["code"] != "schema" || !cmp.Equal(rec["details"], wantDetails) {
				t.Errorf("schema error record: code %v, details %q; want schema, %q", rec["code"], rec["details"], wantDetails)
			}
			if got := e.sentRecords()["cp1250"].Conversion; got != tt.conversion {
				t.Errorf("sent/cp1250.ksef.json conversion %q, want %q", got, tt.conversion)
			}
			_, text, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
			if !strings.Contains(text, tt.status) || !strings.Contains(text, "[missing-field]") {
				t.Errorf("status text lacks %q or the code:\n%s", tt.status, text)
			}
		})
	}
}
