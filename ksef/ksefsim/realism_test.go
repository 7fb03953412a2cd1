package ksefsim

import (
	"fmt"
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
		{"Podmiot3 NIP check digit", withParty(subject3("<NIP>1111111112</NIP>")), 450},
		{"Podmiot3 IDWew NIP check digit", withParty(subject3("<IDWew>1111111112-00001</IDWew>")), 450},
		{"PodmiotUpowazniony NIP check digit", withParty(authorized("1111111112")), 450},
		{"Podmiot3 and PodmiotUpowazniony", withParty(subject3("<NIP>1111111111</NIP>") + subject3("<IDWew>1111111111-00001</IDWew>") + authorized("1111111111")), 200},
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
			if tt.code == 450 && !strings.Contains(fmt.Sprint(st["status"]), "Nieprawidłowa suma kontrolna numeru NIP") {
				t.Errorf("450 without the check digit detail: %v", st["status"])
			}
		})
	}
}

// withParty adds the XML of further parties after Podmiot2 (FA(3): Podmiot3 up to 100 times, then
// PodmiotUpowazniony, then Fa).
func withParty(parties string) func(string) string {
	return func(x string) string { return strings.Replace(x, "</Podmiot2>", "</Podmiot2>"+parties, 1) }
}

// subject3 is a Podmiot3 (a recipient, Rola 2) identified by id (a NIP or IDWew element).
func subject3(id string) string {
	return "<Podmiot3><DaneIdentyfikacyjne>" + id + "<Nazwa>Odbiorca</Nazwa></DaneIdentyfikacyjne><Rola>2</Rola></Podmiot3>"
}

// authorized is a PodmiotUpowazniony (a tax representative, RolaPU 3) with NIP nip.
func authorized(nip string) string {
	return "<PodmiotUpowazniony><DaneIdentyfikacyjne><NIP>" + nip + "</NIP><Nazwa>Przedstawiciel</Nazwa></DaneIdentyfikacyjne>" +
		"<Adres><KodKraju>PL</KodKraju><AdresL1>ul. Upoważniona 4</AdresL1></Adres><RolaPU>3</RolaPU></PodmiotUpowazniony>"
}
