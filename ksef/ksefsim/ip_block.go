package ksefsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A sustained firewall block of a client IP: the lasting form of the waf403 fault.
//
// Besides the per-(context, IP) rate table KSeF defends itself at the level of IP addresses, and
// that defence outlasts any one request. CIRFMF/ksef-docs limity/limity-api.md §3 "Rejestrowanie
// przekroczeń": "W przypadku powtarzających się naruszeń lub skrajnego obciążenia system może
// automatycznie zastosować działania ochronne, takie jak: blokada dostępu do API KSeF dla danego
// podmiotu lub zakresu adresów IP". Users meet it as the firewall's 403: CIRFMF/ksef-api #617
// ("This request was blocked by our security service"; the reporter: "my IP was locked", and it
// lasted days), and #247, where one server sending for 5 NIPs was blocked: "Imperva jest dużo
// bardziej restrykcyjna niż opisane limity API". While such a block lasts, every API request from
// the address, in every context, gets that 403; KSeF itself never sees the request.

// IPBlock blocks a client IP at KSeF's firewall for a while (Options.IPBlock, Server.BlockIP).
type IPBlock struct {
	// IP is the client address refused, as the simulator sees it ("127.0.0.1"); "" blocks every
	// client.
	IP string `json:"ip,omitempty"`
	// Minutes is how long the block lasts from when it is set; 0 lifts a block.
	Minutes int `json:"minutes"`
}

// IPBlockStatus is the block in force and what it refused.
type IPBlockStatus struct {
	IP     string    `json:"ip,omitempty"`
	Until  time.Time `json:"until,omitzero"`
	Active bool      `json:"active"`
	// Refused counts the API requests the block answered with the firewall's 403 since it was set.
	Refused int `json:"refused"`
}

// ipBlock is the block in force; its own lock, as it is checked before every API request.
type ipBlock struct {
	mu      sync.Mutex
	set     bool
	ip      string
	until   time.Time
	refused int
}

// BlockIP blocks b.IP (every client when "") from now for b.Minutes; 0 minutes lifts the block.
// The count of refused requests starts again.
func (s *Server) BlockIP(b IPBlock) IPBlockStatus {
	blk := &s.ipBlock
	blk.mu.Lock()
	blk.set, blk.ip, blk.refused = b.Minutes > 0, b.IP, 0
	blk.until = s.now().Add(time.Duration(b.Minutes) * time.Minute)
	blk.mu.Unlock()
	if b.Minutes > 0 {
		s.log.Info("firewall blocks a client IP", "ip", orEvery(b.IP), "minutes", b.Minutes)
	}
	return s.IPBlockStatus()
}

// IPBlockStatus reports the block set with BlockIP (or Options.IPBlock) and what it refused.
func (s *Server) IPBlockStatus() IPBlockStatus {
	blk := &s.ipBlock
	blk.mu.Lock()
	defer blk.mu.Unlock()
	if !blk.set {
		return IPBlockStatus{Refused: blk.refused}
	}
	return IPBlockStatus{IP: blk.ip, Until: blk.until, Active: s.now().Before(blk.until), Refused: blk.refused}
}

// refuses reports whether the block refuses a request from ip at now, and counts it if so.
func (b *ipBlock) refuses(ip string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.set || !now.Before(b.until) || (b.ip != "" && b.ip != ip) {
		return false
	}
	b.refused++
	return true
}

// withIPBlock answers the API requests of a blocked IP with the firewall's 403. Only the API host
// (/v2) is behind that firewall: the storage links are another service, and /admin is ours.
func (s *Server) withIPBlock(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r)
		if strings.HasPrefix(r.URL.Path, "/v2/") && s.ipBlock.refuses(ip, s.now()) {
			writeFirewall403(w, ip)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeFirewall403 is the firewall's refusal: the body users report in CIRFMF/ksef-api #761
// ({"title": "Request blocked", "detail": "", "status": 403, "security": {"clientIp", "incidentId"}});
// #617 shows the same with "detail": "This request was blocked by our security service".
func writeFirewall403(w http.ResponseWriter, clientIP string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": "Request blocked", "detail": "", "status": 403,
		"security": map[string]string{"clientIp": clientIP, "incidentId": newUUID()}})
}

// serveFirewallAdmin implements GET /admin/firewall/block-ip (the status) and POST with
// {"minutes": N, "ip": "…"}; without "ip" the caller's own address is blocked.
func (s *Server) serveFirewallAdmin(w http.ResponseWriter, r *http.Request) {
	if !adminLoopback(w, r) {
		return
	}
	const usage = `POST /admin/firewall/block-ip {"minutes": N, "ip": "127.0.0.1"} (N ≥ 0; ip defaults to the caller's), or GET it`
	if r.URL.Path != "/admin/firewall/block-ip" {
		http.Error(w, usage, http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, s.IPBlockStatus())
	case http.MethodPost:
		var b struct {
			IP      *string `json:"ip"`
			Minutes int     `json:"minutes"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Minutes < 0 {
			http.Error(w, usage, http.StatusBadRequest)
			return
		}
		ip := clientIP(r)
		if b.IP != nil {
			ip = *b.IP
		}
		writeJSON(w, http.StatusOK, s.BlockIP(IPBlock{IP: ip, Minutes: b.Minutes}))
	default:
		http.Error(w, usage, http.StatusMethodNotAllowed)
	}
}

func orEvery(ip string) string {
	if ip == "" {
		return "every client"
	}
	return ip
}
