package ksefsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// Each context may have its own rate table. KSeF's limits are per context and change: CIRFMF/ksef-docs
// limity/limity-api.md §5 "limity mają charakter dynamiczny … dopuszcza się ich czasowe
// obniżenie", and in production a context's limits are raised on request (CIRFMF/ksef-api #698). On
// the test environments a context changes its own (open-api.json, "Limity i ograniczenia"):
//
//   - POST /testdata/rate-limits (SetRateLimitsRequest): "Zmienia wartości aktualnie obowiązujących
//     limitów żądań przesyłanych do API dla bieżącego kontekstu."
//   - DELETE /testdata/rate-limits: "Przywraca wartości … dla bieżącego kontekstu do wartości
//     domyślnych."
//   - POST /testdata/rate-limits/production: "Zmienia wartości … dla bieżącego kontekstu na
//     wartości takie jakie będą na środowisku produkcyjnym."
//
// GET /rate-limits ("Zwraca wartości aktualnie obowiązujących limitów") answers the caller's
// context's table, and admitRate enforces it for that context's requests. Other contexts keep the
// server's table (-rate-limits). Like the session limits (context_limits.go), the tables are not
// kept in the state file: a restart goes back to the defaults.

// rateTable is one context's limits, by group (the groups of apiGroups).
type rateTable map[string]rateLimit

// rateLimitsRoute routes the /testdata/rate-limits operations (route's fallback).
func (s *Server) rateLimitsRoute(op string) handlerFunc {
	switch op {
	case "POST /testdata/rate-limits":
		return s.authed(s.handleSetRateLimits)
	case "DELETE /testdata/rate-limits":
		return s.authed(s.handleResetRateLimits)
	case "POST /testdata/rate-limits/production":
		return s.authed(s.handleProductionRateLimits)
	}
	return nil
}

// rateLimitFor is the limit of group for the request's context: its own table when it set one, else
// the server's. Requests counted per IP (no bearer) use the server's table.
func (s *Server) rateLimitFor(ar *apiRequest, group string) (rateLimit, bool) {
	if ar.bearer != nil {
		if t, own := s.contextRates(ar.bearer.NIP); own {
			l, ok := t[group]
			return l, ok
		}
	}
	l, ok := s.limits[group]
	return l, ok
}

// handleRateLimits is GET /rate-limits: the caller's context's table. With -rate-limits off and no
// table of its own, every limit is reported as a million, since none is enforced.
func (s *Server) handleRateLimits(w http.ResponseWriter, ar *apiRequest) {
	own, ok := s.contextRates(ar.bearer.NIP)
	out := rateTable{}
	for _, g := range apiGroups {
		switch {
		case ok:
			out[g] = own[g]
		case s.opts.RateLimits == "off":
			out[g] = rateLimit{1_000_000, 1_000_000, 1_000_000}
		default:
			out[g] = s.limits[g]
		}
	}
	writeJSON(w, 200, out)
}

// contextRates is the context nip's own table, if it set one. Tables are replaced, never changed,
// so the one returned may be read without the lock.
func (s *Server) contextRates(nip string) (rateTable, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.ctxRates[nip]
	return t, ok
}

// setRateLimitsRequest is SetRateLimitsRequest; every group of ApiRateLimitsOverride and all three
// values of each are required (open-api.json).
type setRateLimitsRequest struct {
	RateLimits map[string]*struct {
		PerSecond *int `json:"perSecond"`
		PerMinute *int `json:"perMinute"`
		PerHour   *int `json:"perHour"`
	} `json:"rateLimits"`
}

// handleSetRateLimits is POST /testdata/rate-limits. A body missing a required group or value, or
// with a negative one, is answered 400 21405 "Błąd walidacji danych wejściowych." (the operation's
// only 400 in open-api.json). A value of 0 means no limit for that window, as everywhere here.
func (s *Server) handleSetRateLimits(w http.ResponseWriter, ar *apiRequest) {
	var req setRateLimitsRequest
	if !decodeBody(w, ar, &req) {
		return
	}
	t, problem := req.table()
	if problem != "" {
		writeInvalid(w, ar.r, problem)
		return
	}
	s.setContextRates(ar.bearer.NIP, t)
	w.WriteHeader(http.StatusOK)
}

// table checks the request and returns its table, or what is wrong with it.
func (req setRateLimitsRequest) table() (rateTable, string) {
	if req.RateLimits == nil {
		return nil, "rateLimits is required"
	}
	t := rateTable{}
	for _, g := range apiGroups {
		v := req.RateLimits[g]
		if v == nil || v.PerSecond == nil || v.PerMinute == nil || v.PerHour == nil {
			return nil, "rateLimits." + g + " with perSecond, perMinute and perHour is required"
		}
		if *v.PerSecond < 0 || *v.PerMinute < 0 || *v.PerHour < 0 {
			return nil, "rateLimits." + g + " must not be negative"
		}
		t[g] = rateLimit{*v.PerSecond, *v.PerMinute, *v.PerHour}
	}
	return t, ""
}

// handleResetRateLimits is DELETE /testdata/rate-limits: the context goes back to the server's table.
func (s *Server) handleResetRateLimits(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	delete(s.ctxRates, ar.bearer.NIP)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// handleProductionRateLimits is POST /testdata/rate-limits/production: the context gets the
// production values, the spec's x-rate-limits (specLimits), whatever -rate-limits scales.
func (s *Server) handleProductionRateLimits(w http.ResponseWriter, ar *apiRequest) {
	t := rateTable{}
	for g, l := range specLimits() {
		if slices.Contains(apiGroups, g) {
			t[g] = l
		}
	}
	s.setContextRates(ar.bearer.NIP, t)
	w.WriteHeader(http.StatusOK)
}

// setContextRates keeps t as the context nip's table.
func (s *Server) setContextRates(nip string, t rateTable) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctxRates == nil {
		s.ctxRates = map[string]rateTable{}
	}
	s.ctxRates[nip] = t
}

// SetContextRateLimit sets one group's limits in the context nip's table (starting from the
// server's table when the context has none), as POST /testdata/rate-limits does for a logged-in
// context and as KSeF does when it lowers or raises a context's limits while clients run.
func (s *Server) SetContextRateLimit(nip, group string, perSecond, perMinute, perHour int) error {
	if !slices.Contains(apiGroups, group) {
		return fmt.Errorf("unknown rate-limit group %q (want one of GET /rate-limits' groups)", group)
	}
	if perSecond < 0 || perMinute < 0 || perHour < 0 {
		return fmt.Errorf("negative limit for %s", group)
	}
	t, ok := s.contextRates(nip)
	if !ok {
		t = rateTable{}
		for _, g := range apiGroups {
			t[g] = s.limits[g]
		}
	}
	t = maps.Clone(t)
	t[group] = rateLimit{perSecond, perMinute, perHour}
	s.setContextRates(nip, t)
	return nil
}

// serveContextRateAdmin is POST /admin/ratelimit/context?nip=…&group=…&perSecond=…&perMinute=…&perHour=….
func (s *Server) serveContextRateAdmin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("nip") == "" {
		http.Error(w, "context rate limit: nip is required", http.StatusBadRequest)
		return
	}
	var v [3]int
	for i, name := range []string{"perSecond", "perMinute", "perHour"} {
		n, err := strconv.Atoi(q.Get(name))
		if err != nil {
			http.Error(w, "POST /admin/ratelimit/context?nip=NIP&group=GROUP&perSecond=N&perMinute=N&perHour=N", http.StatusBadRequest)
			return
		}
		v[i] = n
	}
	if err := s.SetContextRateLimit(q.Get("nip"), q.Get("group"), v[0], v[1], v[2]); err != nil {
		http.Error(w, "context rate limit: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
