// Package availability tells whether KSeF can be reached: what the ministry's status service
// ("Latarnia") announces, combined with what our own requests to KSeF observe. It gives the legal
// offline mode of an invoice claimed at a given time, so deadlines can be computed with
// internal/offline.
//
// The status service is public and needs no authentication (ksef-protocol.md §8.6):
//
//	GET {base}/status   → {"status": "AVAILABLE"|"MAINTENANCE"|"FAILURE"|"TOTAL_FAILURE", "messages": [...]}
//	GET {base}/messages → the published announcements
//
// It has itself been down for hours (CIRFMF/ksef-latarnia #31), so an unreachable or garbled status
// service is "unknown", never an error that stops anything.
package availability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Official base URLs of the status service. The ministry's C# client (ksef-client-csharp,
// KSeF.Client/DI/LighthouseEnvironmentsUris.cs, "Adresy dla środowisk Latarni") names two:
//
//	TEST = "https://api-latarnia-test.ksef.mf.gov.pl/"
//	PROD = "https://api-latarnia.ksef.mf.gov.pl/"
//
// There is no separate one for DEMO; clients map DEMO to the test service.
const (
	TestURL = "https://api-latarnia-test.ksef.mf.gov.pl"
	ProdURL = "https://api-latarnia.ksef.mf.gov.pl"
)

// BaseURL returns the official status service of a KSeF environment (test, demo, prod); empty for
// an unknown one.
func BaseURL(environment string) string {
	switch environment {
	case "test", "demo":
		return TestURL
	case "prod":
		return ProdURL
	}
	return ""
}

// Status is what the status service announces.
type Status string

// The announced states. StatusUnknown means no usable answer.
const (
	StatusUnknown      Status = ""
	StatusAvailable    Status = "AVAILABLE"
	StatusMaintenance  Status = "MAINTENANCE"
	StatusFailure      Status = "FAILURE"
	StatusTotalFailure Status = "TOTAL_FAILURE"
)

// Valid reports whether s is one of the four announced states.
func (s Status) Valid() bool {
	switch s {
	case StatusAvailable, StatusMaintenance, StatusFailure, StatusTotalFailure:
		return true
	}
	return false
}

// Message is one announcement. Identifiers are kept as text whether the service sends them as
// numbers or strings; times stay zero when absent or unreadable.
type Message struct {
	ID        Text   `json:"id"`
	EventID   Text   `json:"eventId"`
	Category  string `json:"category"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Start     Time   `json:"start"`
	End       Time   `json:"end"`
	Version   Text   `json:"version"`
	Published Time   `json:"published"`
}

// Report is the answer of GET /status.
type Report struct {
	Status   Status    `json:"status"`
	Messages []Message `json:"messages"`
}

// Text is a JSON string or number, kept as text.
type Text string

// UnmarshalJSON accepts "abc", 12 and null.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("expected a string or number, got %.20s", b)
		}
		*t = Text(n)
	}
	return nil
}

// Time is an RFC 3339 time; absent, null or unreadable values are the zero time, because one odd
// date in an announcement must not hide the announced state.
type Time struct{ time.Time }

// UnmarshalJSON never fails on a string: an unreadable one is the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expected a time string, got %.20s", b)
	}
	t.Time = time.Time{}
	if s == nil || *s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if v, err := time.Parse(layout, *s); err == nil {
			t.Time = v
			return nil
		}
	}
	return nil
}

// MarshalJSON writes RFC 3339, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Time.Format(time.RFC3339Nano))
}

// ErrGarbled is wrapped by every error for an answer that is not the documented JSON: an HTML page
// from a proxy or firewall, a truncated body, an unknown status.
var ErrGarbled = errors.New("the status service answered something that is not its JSON")

// Client reads the status service. Safe for concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	timeout time.Duration
}

// DefaultTimeout bounds one request to the status service.
const DefaultTimeout = 10 * time.Second

// maxBody bounds what we read: the real answers are a few kilobytes.
const maxBody = 1 << 20

// NewClient returns a client for the status service at base (e.g. BaseURL("prod"), or the
// simulator's ".../latarnia"). hc may be nil for a default client; each request is bounded by
// DefaultTimeout on top of ctx.
func NewClient(base string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(base, "/"), hc: hc, timeout: DefaultTimeout}
}

// Base is the status service's base URL.
func (c *Client) Base() string { return c.base }

// Status asks GET /status.
func (c *Client) Status(ctx context.Context) (Report, error) {
	var r Report
	if err := c.get(ctx, "/status", &r); err != nil {
		return Report{}, err
	}
	if !r.Status.Valid() {
		return Report{}, fmt.Errorf("status service: unknown status %q: %w", r.Status, ErrGarbled)
	}
	return r, nil
}

// Messages asks GET /messages.
func (c *Client) Messages(ctx context.Context) ([]Message, error) {
	var ms []Message
	if err := c.get(ctx, "/messages", &ms); err != nil {
		return nil, err
	}
	return ms, nil
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("status service: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("status service %s does not answer: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("status service %s: read answer: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status service %s answered HTTP %d: %w", c.base, resp.StatusCode, ErrGarbled)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return fmt.Errorf("status service %s answered %s instead of JSON: %w", c.base, describe(resp, trimmed), ErrGarbled)
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return fmt.Errorf("status service %s: %v: %w", c.base, err, ErrGarbled)
	}
	return nil
}

// describe names what came back without echoing it (it may be a long HTML page).
func describe(resp *http.Response, body []byte) string {
	if len(body) == 0 {
		return "an empty body"
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return fmt.Sprintf("%d bytes of %s", len(body), ct)
	}
	return fmt.Sprintf("%d bytes", len(body))
}
