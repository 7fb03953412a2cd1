package ksefsim

import (
	"encoding/json"
	"testing"
	"time"
)

// TestRateLimitsPerContext: POST /testdata/rate-limits gives the caller's context its own table,
// which GET /rate-limits reports and the 429s enforce for that context only; other contexts keep
// the server's table. POST /testdata/rate-limits/production sets the production values (whatever
// -rate-limits scales), DELETE goes back to the server's table, a body without every group or with
// a negative value is refused with 21405, and the admin hook changes one group of any context.
func TestRateLimitsPerContext(t *testing.T) {
	f := newListingSim(t, Options{RateLimits: "scaled", RateScale: 10})
	const otherNIP = "3861610227"
	other, _ := login(t, f.s, otherNIP)
	table := func(bearer string) rateTable {
		t.Helper()
		var got rateTable
		if err := json.Unmarshal(must(t, call(t, "GET", f.s.URL()+"/rate-limits", bearer, nil), 200).body, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	scaled, production := rateLimit{50, 100, 600}, rateLimit{5, 10, 60}
	if got := table(f.access)["sessionList"]; got != scaled {
		t.Fatalf("server table: sessionList %+v, want %+v", got, scaled)
	}

	own := map[string]rateLimit{}
	for _, g := range apiGroups {
		own[g] = f.s.limits[g]
	}
	own["sessionList"] = rateLimit{2, 100, 1000}
	must(t, call(t, "POST", f.s.URL()+"/testdata/rate-limits", f.access, map[string]any{"rateLimits": own}), 200)
	if got := table(f.access)["sessionList"]; got != own["sessionList"] {
		t.Errorf("own table: sessionList %+v, want %+v", got, own["sessionList"])
	}
	if got := table(other)["sessionList"]; got != scaled {
		t.Errorf("another context: sessionList %+v, want the server's %+v", got, scaled)
	}
	must(t, f.list(t), 200)
	must(t, f.list(t), 200)
	must(t, f.list(t), 429) // the context's own 2 a second
	for range 3 {
		must(t, call(t, "GET", f.s.URL()+"/sessions?sessionType=Online&pageSize=10", other, nil), 200)
	}

	delete(own, "invoiceSend")
	for body, what := range map[string]any{
		"a group missing": map[string]any{"rateLimits": own},
		"negative":        map[string]any{"rateLimits": map[string]any{"sessionList": map[string]int{"perSecond": -1, "perMinute": 1, "perHour": 1}}},
		"no rateLimits":   map[string]any{},
	} {
		r := must(t, call(t, "POST", f.s.URL()+"/testdata/rate-limits", f.access, what), 400)
		if code := r.exceptionCode(t); code != 21405 {
			t.Errorf("%s: code %d, want 21405", body, code)
		}
	}

	must(t, call(t, "POST", f.s.URL()+"/testdata/rate-limits/production", f.access, nil), 200)
	if got := table(f.access)["sessionList"]; got != production {
		t.Errorf("production values: sessionList %+v, want %+v", got, production)
	}
	must(t, call(t, "DELETE", f.s.URL()+"/testdata/rate-limits", f.access, nil), 200)
	if got := table(f.access)["sessionList"]; got != scaled {
		t.Errorf("after DELETE: sessionList %+v, want the server's %+v", got, scaled)
	}

	must(t, call(t, "POST", f.s.AdminURL()+"/ratelimit/context?nip="+otherNIP+"&group=invoiceSend&perSecond=10&perMinute=30&perHour=360", "", nil), 204)
	if got := table(other); got["invoiceSend"] != (rateLimit{10, 30, 360}) || got["sessionList"] != scaled {
		t.Errorf("after the admin hook: invoiceSend %+v sessionList %+v", got["invoiceSend"], got["sessionList"])
	}
	must(t, call(t, "POST", f.s.AdminURL()+"/ratelimit/context?nip="+otherNIP+"&group=nosuch&perSecond=1&perMinute=1&perHour=1", "", nil), 400)
	f.c.Advance(time.Second)
}
