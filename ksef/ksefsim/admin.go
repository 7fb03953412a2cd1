package ksefsim

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
)

// serveAdmin implements the loopback-only admin API documented in the package comment.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if ip := net.ParseIP(clientIP(r)); ip == nil || !ip.IsLoopback() {
		http.Error(w, "admin API is loopback-only", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /admin/stats":
		writeJSON(w, 200, s.Stats())
	case "POST /admin/faults":
		var f Faults
		if err := json.Unmarshal(body, &f); err != nil {
			http.Error(w, "faults: "+err.Error(), 400)
			return
		}
		s.SetFaults(f)
		w.WriteHeader(204)
	case "POST /admin/seed":
		var invs []SeedInvoice
		if err := json.Unmarshal(body, &invs); err != nil {
			http.Error(w, "seed: "+err.Error(), 400)
			return
		}
		out, err := s.Seed(invs...)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		writeJSON(w, 200, out)
	case "POST /admin/tokens":
		var req struct {
			NIP string `json:"nip"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.NIP == "" {
			http.Error(w, `tokens: body must be {"nip": "..."}`, 400)
			return
		}
		writeJSON(w, 200, map[string]string{"nip": req.NIP, "token": s.Token(req.NIP)})
	case "POST /admin/grants":
		s.serveGrantsAdmin(w, body) // grants.go
	case "POST /admin/revoke-token":
		var req struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Token == "" {
			http.Error(w, `revoke-token: body must be {"token": "..."}`, 400)
			return
		}
		if !s.RevokeToken(req.Token) {
			http.Error(w, "revoke-token: unknown token", 404)
			return
		}
		w.WriteHeader(204)
	case "POST /admin/delay-dist":
		var req struct {
			Dist string `json:"dist"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, `delay-dist: body must be {"dist": "lognormal:median,p99"}`, 400)
			return
		}
		d, err := ParseDelayDist(req.Dist)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.SetDelayDist(d)
		w.WriteHeader(204)
	case "POST /admin/publish-key":
		var req PublishKey
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "publish-key: "+err.Error(), 400)
			return
		}
		if err := s.PublishKey(req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.WriteHeader(204)
	case "POST /admin/other-tool":
		s.serveOtherToolAdmin(w, body) // other_tool.go
	case "POST /admin/lose-answers":
		s.serveLoseAnswersAdmin(w, r) // lost_answers.go
	case "POST /admin/rotate-keys":
		s.RotateKeys(r.URL.Query().Get("emergency") == "true")
		w.WriteHeader(204)
	case "POST /admin/export-truncate":
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 {
			http.Error(w, "export-truncate: n must be a positive integer", 400)
			return
		}
		s.SetExportTruncateAt(n)
		w.WriteHeader(204)
	default:
		http.NotFound(w, r)
	}
}
