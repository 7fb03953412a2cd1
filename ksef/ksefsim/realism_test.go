package ksefsim

import (
	"strings"
	"testing"
	"time"
)

func TestValidNIP(t *testing.T) {
	for nip, want := range map[string]bool{"5265877635": true, "3861610227": true, "5265877636": false, "123": false, "52658776a5": false} {
		if got := validNIP(nip); got != want {
			t.Errorf("validNIP(%s) = %v, want %v", nip, got, want)
		}
	}
}

// TestInvoiceRealism: KSeF's content rules beyond the schema, as invoice statuses.
func TestInvoiceRealism(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{RateLimits: "off", Now: c.Now})
	access, _ := login(t, s, testNIP)
	sess, k := openOnline(t, s, access)
	base := string(sampleInvoice(t, testNIP, "REAL/1"))
	buyer := "3861610227"
	if !strings.Contains(base, buyer) {
		t.Fatalf("template has no buyer NIP %s", buyer)
	}
	tests := []struct {
		name string
		edit func(string) string
		code int
	}{
		{"buyer NIP check digit", func(x string) string { return strings.Replace(x, buyer, "3861610228", 1) }, 450},
		{"discouraged U+0086", func(x string) string { return strings.Replace(x, "REAL/", "REAL\u0086/", 1) }, 430},
		{"U+0085 is allowed", func(x string) string { return strings.Replace(x, "REAL/", "REAL\u0085/", 1) }, 200},
		{"plain", func(x string) string { return strings.Replace(x, "REAL/1", "REAL/2", 1) }, 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := strings.Replace(tt.edit(base), "REAL", "REAL"+string(rune('A'+i)), 1)
			ref := sendInvoice(t, s, access, sess, k, []byte(x))
			c.Advance(time.Minute)
			st := invoiceStatus(t, s, access, sess, ref)
			if got := statusCode(st); got != tt.code {
				t.Fatalf("status %d, want %d: %v", got, tt.code, st["status"])
			}
		})
	}
}
