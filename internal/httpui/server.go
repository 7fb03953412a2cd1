// Package httpui is the daemon's local HTTP surface: a status page for people (GET /), the status
// document for scripts (GET /api/status, the same as `ksef-sync status -json`), Prometheus metrics
// (GET /metrics) and a health check (GET /healthz).
package httpui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ksef-sync/ksef-sync/internal/msg"
	"github.com/ksef-sync/ksef-sync/internal/status"
)

// Options configure the server.
type Options struct {
	Listen   string // host:port
	User     string // basic auth when not empty
	Password string
	Status   func(ctx context.Context) (*status.Report, error)
	Registry *prometheus.Registry
	// Health returns nil when the daemon is healthy, otherwise the reason it is not.
	Health func(ctx context.Context) error
	Logger *slog.Logger
	// Lang is the language of the status page (the configuration's language); zero is Polish.
	Lang msg.Lang
}

// Server serves the endpoints until Shutdown.
type Server struct {
	opt  Options
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Listen binds the address; an error (port in use) is the caller's to report, the daemon goes on.
func Listen(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("status page on %s: %w", o.Listen, err)
	}
	s := &Server{opt: o, ln: ln, done: make(chan struct{})}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Warn("status page stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the address actually bound (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting and waits for requests in progress, at most until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// Handler returns the routes, behind basic auth when a user is configured.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /api/status", s.apiStatus)
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.opt.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.opt.Registry, promhttp.HandlerOpts{}))
	}
	if s.opt.User == "" {
		return mux
	}
	return basicAuth(s.opt.User, s.opt.Password, mux)
}

func basicAuth(user, password string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		// Both comparisons always run, so the answer's timing does not tell which one failed.
		uOK := subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1
		pOK := subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
		if !ok || !uOK || !pOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="ksef-sync", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) (*status.Report, bool) {
	rep, err := s.opt.Status(r.Context())
	if err != nil {
		s.opt.Logger.Warn("status page: reading the journal failed", "err", err)
		http.Error(w, "the journal cannot be read: "+err.Error(), http.StatusServiceUnavailable)
		return nil, false
	}
	return rep, true
}

// fresh sets the response's content type and keeps caches from storing it: every answer here
// describes this moment.
func fresh(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.report(w, r)
	if !ok {
		return
	}
	fresh(w, "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	fresh(w, "text/plain; charset=utf-8")
	if s.opt.Health != nil {
		if err := s.opt.Health(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err.Error())
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.report(w, r)
	if !ok {
		return
	}
	fresh(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if err := renderPage(w, rep, s.opt.Lang); err != nil {
		s.opt.Logger.Warn("status page: rendering failed", "err", err)
	}
}
