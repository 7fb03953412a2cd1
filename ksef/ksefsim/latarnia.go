package ksefsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The KSeF status service ("Latarnia", ksef-protocol.md §8.6), served under /latarnia:
//
//	GET /latarnia/status   → {"status": "AVAILABLE"|"MAINTENANCE"|"FAILURE"|"TOTAL_FAILURE", "messages": [...]}
//	GET /latarnia/messages → every announcement published so far, newest first
//
// In production it is a separate host (api-latarnia.ksef.mf.gov.pl), so the faults injected into
// the KSeF API (Faults.Outage and the rest) never reach it: a full outage announced as FAILURE is
// an outage of the API with a status service that still answers. The status service's own outages
// (it has been down for hours, CIRFMF/ksef-latarnia #31) are set separately with Down and HTML.
//
// Admin (loopback only): POST /admin/latarnia with a LatarniaControl body; GET /admin/latarnia
// returns the current control state.

// LatarniaStatuses are the states the status service announces.
var LatarniaStatuses = []string{"AVAILABLE", "MAINTENANCE", "FAILURE", "TOTAL_FAILURE"}

// LatarniaMessage is one announcement, in the shape the status service publishes. The ministry's
// clients read eventId and version as numbers and the times as offsets (ksef-client-csharp,
// KSeF.Client.Core/Models/Lighthouse/Message.cs: "public string Id", "public int EventId",
// "public DateTimeOffset Start", "public DateTimeOffset? End", "public int Version"; ksef-client-java
// model/lighthouse/Message.java: "private int eventId"), so a string eventId would break them.
type LatarniaMessage struct {
	ID        string `json:"id"`
	EventID   int    `json:"eventId"`
	Category  string `json:"category"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Start     string `json:"start"`
	End       string `json:"end,omitempty"`
	Version   int    `json:"version"`
	Published string `json:"published"`
}

// LatarniaControl sets the status service. Status is required. Messages are the announcements of
// the new status (title and text required; id, eventId, category, start, version and published are
// filled in when empty). Setting AVAILABLE ends the current announcements: they stay in /messages
// with their end time. Down makes the service answer 503 with an HTML page; HTML makes it answer
// 200 with an HTML page (a proxy's challenge), both as it has done in production.
type LatarniaControl struct {
	Status   string            `json:"status"`
	Messages []LatarniaMessage `json:"messages,omitempty"`
	Down     bool              `json:"down,omitempty"`
	HTML     bool              `json:"html,omitempty"`
}

// latarnia is the status service's state; the zero value announces AVAILABLE.
type latarnia struct {
	mu      sync.Mutex
	status  string
	current []LatarniaMessage // announcements of the current status
	all     []LatarniaMessage // everything published, oldest first
	down    bool
	html    bool
	nextID  int
}

// SetLatarnia changes what the status service announces; see LatarniaControl.
func (s *Server) SetLatarnia(c LatarniaControl) error {
	if err := c.validate(); err != nil {
		return err
	}
	now := s.now()
	l := &s.latarnia
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down, l.html = c.Down, c.HTML
	if c.Status != l.statusLocked() || len(c.Messages) > 0 {
		l.endCurrentLocked(now)
	}
	l.status = c.Status
	for _, m := range c.Messages {
		l.nextID++
		m = fillMessage(m, c.Status, l.nextID, now)
		l.current = append(l.current, m)
		l.all = append(l.all, m)
	}
	return nil
}

// AnnounceLatarnia announces status with one message; AVAILABLE ends the announcement.
func (s *Server) AnnounceLatarnia(status, title, text string) error {
	c := LatarniaControl{Status: status}
	if status != "AVAILABLE" {
		c.Messages = []LatarniaMessage{{Title: title, Text: text}}
	}
	return s.SetLatarnia(c)
}

func (c LatarniaControl) validate() error {
	ok := false
	for _, st := range LatarniaStatuses {
		ok = ok || c.Status == st
	}
	if !ok {
		return fmt.Errorf("latarnia: status must be one of %s, got %q", strings.Join(LatarniaStatuses, ", "), c.Status)
	}
	for i, m := range c.Messages {
		if strings.TrimSpace(m.Title) == "" || strings.TrimSpace(m.Text) == "" {
			return fmt.Errorf("latarnia: message %d needs a title and a text", i)
		}
		for _, f := range []struct{ name, v string }{{"start", m.Start}, {"end", m.End}, {"published", m.Published}} {
			if f.v == "" {
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, f.v); err != nil {
				return fmt.Errorf("latarnia: message %d: %s %q is not an RFC 3339 time", i, f.name, f.v)
			}
		}
	}
	return nil
}

func fillMessage(m LatarniaMessage, status string, id int, now time.Time) LatarniaMessage {
	if m.ID == "" {
		m.ID = strconv.Itoa(id)
	}
	if m.EventID == 0 {
		m.EventID = id
	}
	if m.Category == "" {
		m.Category = status
	}
	if m.Type == "" {
		m.Type = messageType(m.Category)
	}
	if m.Start == "" {
		m.Start = fmtTime(now)
	}
	if m.Published == "" {
		m.Published = fmtTime(now)
	}
	if m.Version == 0 {
		m.Version = 1
	}
	return m
}

// messageType is the type of an announcement opening an event of category, as the ministry's C#
// client names them (KSeF.Client.Core/Models/Lighthouse/MessageType.cs: FAILURE_START, FAILURE_END,
// MAINTENANCE_ANNOUNCEMENT).
func messageType(category string) string {
	if category == "MAINTENANCE" {
		return "MAINTENANCE_ANNOUNCEMENT"
	}
	return "FAILURE_START"
}

func (l *latarnia) statusLocked() string {
	if l.status == "" {
		return "AVAILABLE"
	}
	return l.status
}

// endCurrentLocked closes the current announcements: their copies in /messages get an end time
// and a new version.
func (l *latarnia) endCurrentLocked(now time.Time) {
	for _, c := range l.current {
		for i := range l.all {
			if l.all[i].ID == c.ID && l.all[i].End == "" {
				l.all[i].End = fmtTime(now)
				l.all[i].Version++
			}
		}
	}
	l.current = nil
}

// withLatarnia serves the status service and its admin control ahead of the API's fault injection.
func (s *Server) withLatarnia(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/admin/latarnia":
			s.serveLatarniaAdmin(w, r)
		case strings.HasPrefix(r.URL.Path, "/latarnia/"):
			s.serveLatarnia(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func (s *Server) serveLatarnia(w http.ResponseWriter, r *http.Request) {
	l := &s.latarnia
	l.mu.Lock()
	down, html, status := l.down, l.html, l.statusLocked()
	current := append([]LatarniaMessage{}, l.current...)
	all := make([]LatarniaMessage, 0, len(l.all))
	for i := len(l.all) - 1; i >= 0; i-- {
		all = append(all, l.all[i])
	}
	l.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if down || html {
		code := http.StatusServiceUnavailable
		if !down {
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "<html><body><h1>Przerwa techniczna</h1></body></html>")
		return
	}
	switch r.URL.Path {
	case "/latarnia/status":
		writeJSON(w, http.StatusOK, map[string]any{"status": status, "messages": current})
	case "/latarnia/messages":
		writeJSON(w, http.StatusOK, all)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveLatarniaAdmin(w http.ResponseWriter, r *http.Request) {
	if ip := net.ParseIP(clientIP(r)); ip == nil || !ip.IsLoopback() {
		http.Error(w, "admin API is loopback-only", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet:
		l := &s.latarnia
		l.mu.Lock()
		c := LatarniaControl{Status: l.statusLocked(), Messages: append([]LatarniaMessage{}, l.current...), Down: l.down, HTML: l.html}
		l.mu.Unlock()
		writeJSON(w, http.StatusOK, c)
	case http.MethodPost:
		var c LatarniaControl
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			http.Error(w, `latarnia: body must be {"status": "FAILURE", "messages": [{"title": "...", "text": "..."}]}: `+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.SetLatarnia(c); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
