package ksefsim

import (
	"strings"
	"testing"
	"time"
)

// TestIPBlockRefusesEveryContext: a blocked address gets the firewall's 403 on every API request,
// in every context, until the block's minutes have passed on the simulator's clock; the admin API
// counts what it refused, and a block of another address leaves this one alone
// (CIRFMF/ksef-docs limity/limity-api.md §3: "blokada dostępu do API KSeF dla danego podmiotu lub
// zakresu adresów IP").
func TestIPBlockRefusesEveryContext(t *testing.T) {
	c := newClock()
	s := startSim(t, Options{Now: c.Now, IPBlock: IPBlock{Minutes: 2}})
	keys := s.URL() + "/security/public-key-certificates"
	blocked := must(t, call(t, "GET", keys, "", nil), 403).json(t)
	if blocked["title"] != "Request blocked" || blocked["security"].(map[string]any)["incidentId"] == "" {
		t.Fatalf("refusal %v, want the firewall's body", blocked)
	}
	c.Advance(2 * time.Minute)
	must(t, call(t, "GET", keys, "", nil), 200)

	other := "1111111111"
	tokens := map[string]string{}
	for _, nip := range []string{testNIP, other} {
		tokens[nip], _ = login(t, s, nip)
	}
	admin := strings.TrimSuffix(s.URL(), "/v2") + "/admin/firewall/block-ip"
	if st := must(t, call(t, "POST", admin, "", map[string]any{"minutes": 5}), 200).json(t); st["ip"] != "127.0.0.1" || st["active"] != true {
		t.Fatalf("block the caller's address: %v", st)
	}
	for _, nip := range []string{testNIP, other} {
		must(t, call(t, "GET", s.URL()+"/limits/context", tokens[nip], nil), 403)
	}
	must(t, call(t, "GET", s.URL()+"/sessions?sessionType=Online&pageSize=10", tokens[testNIP], nil), 403)
	if st := must(t, call(t, "GET", admin, "", nil), 200).json(t); st["refused"] != 3.0 {
		t.Fatalf("status %v, want 3 refused", st)
	}
	if got := s.Stats().Requests["other"]; got != 0 {
		t.Fatalf("KSeF saw %d refused requests", got)
	}
	c.Advance(5 * time.Minute)
	must(t, call(t, "GET", s.URL()+"/limits/context", tokens[other], nil), 200)
	if got := s.Stats().Requests["other"]; got != 1 {
		t.Fatalf("KSeF counted %d requests after the block, want the one let through", got)
	}

	s.BlockIP(IPBlock{IP: "192.0.2.7", Minutes: 5})
	must(t, call(t, "GET", s.URL()+"/limits/context", tokens[testNIP], nil), 200)
	if st := s.IPBlockStatus(); !st.Active || st.Refused != 0 {
		t.Fatalf("another address's block: %+v", st)
	}
}
