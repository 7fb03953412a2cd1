package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ksef-sync/ksef-sync/internal/testutil"
	"github.com/ksef-sync/ksef-sync/ksef/ksefsim"
)

// TestBookkeeperTextIsPolishByDefault drives the real binary: the hint and description of an
// error file and the `status` text are Polish by default and English with the top-level
// language = "en"; the machine fields (code, stage, the JSON keys) are the same in both
// (issue 11 item 4).
func TestBookkeeperTextIsPolishByDefault(t *testing.T) {
	tests := []struct {
		name, top                  string
		wantDesc, wantHint, status string
	}{
		{"default", "", "brak wartości: numer faktury (P_2)", "uzupełnij w systemie ERP: numer faktury (P_2)", "Ostatnie odrzucenia (od najnowszych):"},
		{"en", "language = \"en\"\n", "the invoice number (numer faktury, P_2) is missing or empty", "fill in the invoice number", "Last rejections (newest first):"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, ksefsim.Options{}, "")
			if tt.top != "" {
				writeFile(t, e.cfgPath, append([]byte(tt.top), testutil.ReadFile(t, e.cfgPath)...))
			}
			e.drop("no-number.xml", regexp.MustCompile(`<P_2>[^<]*</P_2>`).ReplaceAll(invoice(1, "LANG"), nil))
			if code, out, errOut := e.send(2 * time.Minute); code != exitRejected {
				t.Fatalf("send exit %d, want %d\n%s\n%s", code, exitRejected, out, errOut)
			}
			rec, ok := e.errorRecords()["no-number"]
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
			_, text, _ := e.runCmd(time.Minute, "status", "-config", e.cfgPath)
			if !strings.Contains(text, tt.status) || !strings.Contains(text, "[missing-field]") {
				t.Errorf("status text lacks %q or the code:\n%s", tt.status, text)
			}
		})
	}
}
