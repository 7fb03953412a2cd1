package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

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
			if code, out, errOut := e.send(2 * time.Minute); code != exitRejected {
				t.Fatalf("send exit %d, want %d\n%s\n%s", code, exitRejected, out, errOut)
			}
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
