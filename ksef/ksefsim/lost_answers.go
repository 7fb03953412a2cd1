package ksefsim

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// Lost answers (issue 10 §6): KSeF did the work, and the answer never reached the client. A gateway
// timing out on a slow backend answers 504 after the backend opened the session or started the
// export; a connection reset after the request was read loses a 201 the same way. Users meet both
// (CIRFMF/ksef-api #852: 502/504 on every endpoint). The client cannot tell these from a request
// KSeF never saw, so it must not simply repeat a request that is not safe to repeat: opening a batch
// session (an orphaned session otherwise) or starting an export (a lost one still counts towards the
// 20 an hour and the 10 running at once). Redeeming a login's tokens is not safe to repeat either:
// "Tokeny można pobrać tylko raz" (open-api.json, POST /auth/token/redeem), and KSeF answers a
// second redeem with 21301 (see handleRedeem). Nor is starting a login with a challenge: a repeat
// with the same challenge gets 21111 (see takeChallengeLocked).

// Operations whose answer can be lost on demand.
const (
	LoseOpenBatch   = "openBatch"   // POST /sessions/batch
	LoseStartExport = "startExport" // POST /invoices/exports
	LoseRedeem      = "redeem"      // POST /auth/token/redeem
	LoseAuthInit    = "authInit"    // POST /auth/ksef-token, POST /auth/xades-signature
)

// How a lost answer is lost.
const (
	LoseByDrop = "drop" // the connection is closed without an answer
	LoseBy504  = "504"  // a gateway's HTML 504 instead of KSeF's answer
)

// lostAnswers is, per operation, how many of the next successful requests lose their answer, and
// how. Guarded by Server.mu.
type lostAnswers struct {
	left map[string]int
	how  map[string]string
}

// LoseAnswers makes the next n successful requests of op (LoseOpenBatch, LoseStartExport,
// LoseRedeem, LoseAuthInit) take effect at KSeF and then lose their answer, by how (LoseByDrop or LoseBy504).
func (s *Server) LoseAnswers(op string, n int, how string) error {
	switch op {
	case LoseOpenBatch, LoseStartExport, LoseRedeem, LoseAuthInit:
	default:
		return fmt.Errorf("ksefsim: lose answers: unknown operation %q (want %s, %s, %s or %s)", op,
			LoseOpenBatch, LoseStartExport, LoseRedeem, LoseAuthInit)
	}
	if how != LoseByDrop && how != LoseBy504 {
		return fmt.Errorf("ksefsim: lose answers: unknown way %q (want %s or %s)", how, LoseByDrop, LoseBy504)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost.left == nil {
		s.lost.left, s.lost.how = map[string]int{}, map[string]string{}
	}
	s.lost.left[op], s.lost.how[op] = n, how
	return nil
}

func lostOp(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	switch r.URL.Path {
	case "/v2/sessions/batch":
		return LoseOpenBatch
	case "/v2/invoices/exports":
		return LoseStartExport
	case "/v2/auth/token/redeem":
		return LoseRedeem
	case "/v2/auth/ksef-token", "/v2/auth/xades-signature":
		return LoseAuthInit
	}
	return ""
}

// takeLost reports how the answer of this request of op is to be lost ("" = it is not).
func (s *Server) takeLost(op string) string {
	if op == "" {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost.left[op] <= 0 {
		return ""
	}
	s.lost.left[op]--
	return s.lost.how[op]
}

func (s *Server) giveBackLost(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost.left[op]++
}

// withLostAnswers lets KSeF handle the request, then loses a successful answer as configured. A
// request KSeF refused is answered normally and does not use up the fault.
func (s *Server) withLostAnswers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := lostOp(r)
		how := s.takeLost(op)
		if how == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recordedAnswer{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if rec.status < 200 || rec.status > 299 {
			s.giveBackLost(op)
			rec.replay(w)
			return
		}
		s.mu.Lock()
		s.st.Counters.LostAnswers++
		s.mu.Unlock()
		s.log.Info("answer lost after KSeF did the work", "operation", op, "how", how)
		if how == LoseByDrop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusGatewayTimeout)
		fmt.Fprint(w, "<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1><hr><address>nginx</address></body></html>\n")
	})
}

// recordedAnswer holds a handler's answer so it can be lost or passed on.
type recordedAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *recordedAnswer) Header() http.Header { return a.header }
func (a *recordedAnswer) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}
func (a *recordedAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *recordedAnswer) replay(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body.Bytes())
}

// serveLoseAnswersAdmin implements POST /admin/lose-answers?op=openBatch|startExport|redeem|authInit&n=1&how=drop.
func (s *Server) serveLoseAnswersAdmin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "lose-answers: n must be a count (0 or more)", 400)
		return
	}
	how := q.Get("how")
	if how == "" {
		how = LoseByDrop
	}
	if err := s.LoseAnswers(q.Get("op"), n, how); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func batchSummary(sess *session) BatchSessionSummary {
	b := BatchSessionSummary{Ref: sess.Ref, NIP: sess.NIP, Parts: len(sess.Batch.Parts), Closed: sess.Closed, Invoices: len(sess.Invoices)}
	for _, p := range sess.Batch.Parts {
		if p.Uploaded {
			b.PartsUploaded++
		}
	}
	return b
}
