package ksef

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Production KSeF sometimes answers with something that is not KSeF: a load balancer's HTML 502/503/504
// page, a web application firewall's 403 "Request blocked" (CIRFMF/ksef-api #852, #617, #761, even on
// /auth/token/refresh), or a storage challenge page instead of a UPO. None of these say anything about
// our invoice or our credentials; they are weather. The types below keep them apart from KSeF's own
// answers so that nobody rejects an invoice or blames the token because of them.

// UnavailableError is an answer that did not come from the KSeF application: a 5xx (with any body),
// or a body that is not JSON where KSeF always answers JSON (an HTML page). Always transient.
type UnavailableError struct {
	HTTPStatus  int
	ContentType string
	// Excerpt is a short, tag-free start of the body for the log (never a token: KSeF does not echo
	// them, and storage URLs are never part of a body).
	Excerpt    string
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	s := fmt.Sprintf("ksef: KSeF is unavailable (HTTP %d", e.HTTPStatus)
	if e.ContentType != "" {
		s += ", " + e.ContentType
	}
	s += ")"
	if e.Excerpt != "" {
		s += ": " + e.Excerpt
	}
	return s
}

// BlockedError is KSeF's firewall refusing a request (403 {"title":"Request blocked", "security":
// {"incidentId": …}}). It is not a verdict on our credentials: the request never reached KSeF. It is
// transient, with a longer backoff; the incident number is what KSeF support asks for.
type BlockedError struct {
	HTTPStatus int
	IncidentID string
	// Held marks a request our process-wide pause after a firewall block held back (firewall_gate.go)
	// because the caller's wait limit (WithWaitLimit) is shorter than the pause: nothing was sent.
	// RetryAfter is then what is left of the pause; IncidentID is the block's.
	Held       bool
	RetryAfter time.Duration
}

func (e *BlockedError) Error() string {
	if e.Held {
		return fmt.Sprintf("ksef: KSeF's firewall appears to block this IP address (incident %s); requests to KSeF are paused for %s more; "+
			"if it persists, report the incident to KSeF support", orNone(e.IncidentID), e.RetryAfter)
	}
	if e.IncidentID == "" {
		return fmt.Sprintf("ksef: blocked by KSeF's firewall (HTTP %d); if it persists, report it to KSeF support", e.HTTPStatus)
	}
	return fmt.Sprintf("ksef: blocked by KSeF's firewall, incident %s (HTTP %d); if it persists, report the incident to KSeF support", e.IncidentID, e.HTTPStatus)
}

// AmbiguousError is a request that must not simply be repeated (it opens a batch session, starts an
// export, sends an invoice) and that failed in a way that leaves open whether KSeF received it: a 5xx,
// a dropped connection, an answer we could not read. The caller reconciles with KSeF (for batch: the
// session list; for exports: count it against the budget) before repeating anything.
type AmbiguousError struct {
	Op  string
	Err error
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("ksef: the request may have reached KSeF (reconcile before repeating): %v", e.Err)
}
func (e *AmbiguousError) Unwrap() error { return e.Err }

// UnreachableError is KSeF not answering at all: the connection was refused, the name did not resolve
// or the connection timed out. Nothing was sent, so nothing is lost.
type UnreachableError struct {
	URL    string // API base URL (never a pre-signed storage URL)
	Reason string // "connection refused", "name not found", "timed out", …
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("KSeF at %s does not answer (%s); queued invoices stay safe and are sent when it answers again. "+
		"Check the network, the firewall or proxy ([http] proxy) and [ksef] url; ksef-sync doctor tests the connection", e.URL, e.Reason)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// MayHaveReachedKSeF reports an AmbiguousError: the operation may have taken effect at KSeF.
func MayHaveReachedKSeF(err error) bool {
	var a *AmbiguousError
	return errors.As(err, &a)
}

// IsTransient reports whether the same request may succeed later without anyone changing anything:
// rate limits, 5xx, firewall blocks, HTML pages, network failures, KSeF's "cancelled by the system".
// It is IsRetriable under the name the engine uses.
func IsTransient(err error) bool { return IsRetriable(err) }

// RetryAfterHint suggests how long to wait before trying the failed operation again: exactly
// Retry-After for a 429 or a 503 that sent one, a minute for a firewall block or what is left of
// the process-wide pause after one if that is longer (it lifts slowly; hammering makes it worse),
// a few seconds for other weather, 0 when err is not transient.
func RetryAfterHint(err error) time.Duration {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return max(rl.RetryAfter, time.Second)
	}
	var b *BlockedError
	if errors.As(err, &b) {
		return max(b.RetryAfter, time.Minute)
	}
	var u *UnavailableError
	if errors.As(err, &u) && u.RetryAfter > 0 {
		return u.RetryAfter
	}
	if IsTransient(err) {
		return 5 * time.Second
	}
	return 0
}

// looksJSON reports whether a body is JSON at all (KSeF's API always answers JSON).
func looksJSON(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[') && json.Valid(b)
}

var (
	tagRe   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	spaceRe = regexp.MustCompile(`\s+`)
)

// excerpt turns a body (often an HTML page) into a short readable line for the log.
func excerpt(body []byte) string {
	const n = 160
	if len(body) > 8<<10 {
		body = body[:8<<10]
	}
	s := tagRe.ReplaceAllString(string(body), " ")
	s = strings.TrimSpace(spaceRe.ReplaceAllString(strings.ToValidUTF8(s, "?"), " "))
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// wafBody is the firewall's answer (CIRFMF/ksef-api #761).
type wafBody struct {
	Title    string `json:"title"`
	Security *struct {
		IncidentID string `json:"incidentId"`
	} `json:"security"`
	IncidentID string `json:"incidentId"`
}

// classifyForeign recognises answers that did not come from the KSeF application; nil means the answer
// is KSeF's own and ParseErrorResponse should read it.
func classifyForeign(status int, header http.Header, body []byte) error {
	ctype := ""
	if header != nil {
		ctype, _, _ = strings.Cut(header.Get("Content-Type"), ";")
	}
	if status == http.StatusForbidden {
		var w wafBody
		if looksJSON(body) && json.Unmarshal(body, &w) == nil {
			id := w.IncidentID
			if w.Security != nil && w.Security.IncidentID != "" {
				id = w.Security.IncidentID
			}
			if id != "" || strings.EqualFold(strings.TrimSpace(w.Title), "Request blocked") {
				return &BlockedError{HTTPStatus: status, IncidentID: id}
			}
			return nil
		}
		if len(bytes.TrimSpace(body)) > 0 {
			// KSeF's own 403s are JSON problem details; an HTML 403 is a firewall or proxy.
			return &BlockedError{HTTPStatus: status}
		}
		return nil
	}
	if status >= 500 && status != http.StatusNotImplemented {
		if looksJSON(body) {
			return nil // KSeF's own 5xx with codes: still transient (IsRetriable), but keep its detail
		}
		ra := time.Duration(0)
		if header != nil {
			if d, overADay := parseRetryAfter(header.Get("Retry-After")); !overADay {
				ra = d // a gateway's hint over a day is absurd: the backoff decides (maxRetryAfter)
			}
		}
		return &UnavailableError{HTTPStatus: status, ContentType: ctype, Excerpt: excerpt(body), RetryAfter: ra}
	}
	if status == http.StatusRequestTimeout {
		return &UnavailableError{HTTPStatus: status, ContentType: ctype, Excerpt: excerpt(body)}
	}
	if len(bytes.TrimSpace(body)) > 0 && !looksJSON(body) && strings.Contains(strings.ToLower(ctype), "html") {
		// An HTML page in place of a KSeF error (a proxy or a challenge page): not KSeF's verdict.
		return &UnavailableError{HTTPStatus: status, ContentType: ctype, Excerpt: excerpt(body)}
	}
	return nil
}

// unreachable turns a failure to connect into the plain-words UnreachableError, or returns nil.
func unreachable(base string, err error) error {
	if !notSent(err) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
			var oe *net.OpError
			if errors.As(err, &oe) && oe.Op == "dial" {
				return &UnreachableError{URL: base, Reason: "connection timed out", Err: err}
			}
		}
		return nil
	}
	reason := "cannot connect"
	var dnsErr *net.DNSError
	switch {
	case connectionRefused(err):
		reason = "connection refused"
	case errors.As(err, &dnsErr):
		reason = "host name " + dnsErr.Name + " not found"
	case networkUnreachable(err):
		reason = "network unreachable"
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			reason = "connection timed out"
		}
	}
	return &UnreachableError{URL: base, Reason: reason, Err: err}
}

// DescribeUnreachable returns the plain-words *UnreachableError for a failed connection to the KSeF
// API at base, or nil when err is not a failure to connect (for checks that dial KSeF themselves,
// such as `doctor`).
func DescribeUnreachable(base string, err error) error {
	if u := unreachable(base, err); u != nil {
		return u
	}
	return nil
}
