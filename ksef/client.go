// Package ksef is a client for the Polish KSeF 2.0 e-invoicing API: authentication (KSeF token or a
// pluggable XAdES authenticator), online and batch sessions, UPO download, invoice retrieval
// (metadata queries and encrypted exports). Every call goes through one pacer that keeps our own
// sliding-window budget per §9 rate-limit group, one retry loop (429 → exactly Retry-After,
// 5xx/network → jittered exponential backoff) and one error parser (ParseErrorResponse).
package ksef

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// environmentHosts are the API base URL and the KOD I / KOD II link base of one KSeF environment.
type environmentHosts struct{ api, qr string }

// hostsOf names the hosts of a KSeF environment (test, demo, prod, or KSeF's codes te, tr, prd).
func hostsOf(env string) (environmentHosts, error) {
	switch strings.ToLower(env) {
	case "test", "te":
		return environmentHosts{"https://api-test.ksef.mf.gov.pl/v2", "https://qr-test.ksef.mf.gov.pl"}, nil
	case "demo", "tr":
		return environmentHosts{"https://api-demo.ksef.mf.gov.pl/v2", "https://qr-demo.ksef.mf.gov.pl"}, nil
	case "prod", "prd", "production":
		return environmentHosts{"https://api.ksef.mf.gov.pl/v2", "https://qr.ksef.mf.gov.pl"}, nil
	}
	return environmentHosts{}, fmt.Errorf("ksef: unknown environment %q (want test, demo or prod)", env)
}

// EnvironmentURL returns the API base URL of a KSeF environment (test, demo, prod).
func EnvironmentURL(env string) (string, error) {
	h, err := hostsOf(env)
	return h.api, err
}

// QRBaseURL returns the base URL used in KOD I / KOD II links for an environment.
func QRBaseURL(env string) (string, error) {
	h, err := hostsOf(env)
	return h.qr, err
}

// ContextIdentifier names the taxpayer context: Type is Nip, InternalId, NipVatUe or PeppolId.
type ContextIdentifier struct{ Type, Value string }

// Clock abstracts time so tests can drive token expiry, pacing and backoff without sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits d or returns ctx.Err() if ctx is cancelled first.
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is real time, the Clock of everything outside tests.
type WallClock struct{}

func (WallClock) Now() time.Time { return time.Now() }
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Options configure a Client.
type Options struct {
	BaseURL    string // required, e.g. http://127.0.0.1:1234/v2
	Context    ContextIdentifier
	Auth       Authenticator
	HTTPClient *http.Client // nil → default with timeouts
	Logger     *slog.Logger
	// Limits overrides ProductionLimits() per group (groups not named keep the production value).
	Limits     RateTable
	MaxRetries int   // 5xx/network/429 retries per call, default 4
	Clock      Clock // nil → real clock
	UserAgent  string
	// PageSize for session invoice lists (10..1000), default 1000.
	PageSize int
	// AuthPollInterval between GET /auth/{ref} polls, default 1 s.
	AuthPollInterval time.Duration
	// Observer, when set, hears about every request and every pacing wait (for metrics).
	Observer Observer
}

// Observer receives measurements from the client. Implementations must be fast and safe for
// concurrent use; they never see URLs, tokens or bodies.
type Observer interface {
	// Request reports one HTTP exchange: its §9 group ("storage" for pre-signed URLs), the HTTP
	// status (0 when no answer came) and how long it took.
	Request(group string, status int, d time.Duration)
	// PacerWait reports time spent waiting before a request of group: for our own rate budget or
	// for the end of a block KSeF set with a 429.
	PacerWait(group string, d time.Duration)
}

// observer is a nil-safe wrapper.
type observer struct{ o Observer }

func (o observer) request(group string, status int, d time.Duration) {
	if o.o != nil {
		o.o.Request(group, status, d)
	}
}

func (o observer) pacerWait(group string, d time.Duration) {
	if o.o != nil && d > 0 {
		o.o.PacerWait(group, d)
	}
}

// Client talks to one KSeF environment in one context. Safe for concurrent use.
type Client struct {
	base       *url.URL
	baseStr    string
	ctxID      ContextIdentifier
	auth       Authenticator
	hc         *http.Client
	log        *slog.Logger
	pacer      *pacer
	maxRetries int
	clock      Clock
	userAgent  string
	pageSize   int
	authPoll   time.Duration
	observer   observer
	gate       *firewallGate // shared with every Client of the process on this KSeF (firewall_gate.go)

	keysMu      sync.Mutex
	keys        []PublicKeyCertificate
	keysFetched time.Time

	authMu  authLock      // serialises login/refresh
	pending *pendingLogin // a login KSeF has not finished, polled again by the next one; guarded by authMu
	// loginWait bounds one call's wait for a login (SetLoginWait); 0: the call's context does.
	loginWait atomic.Int64
	tokMu     sync.Mutex
	access    TokenInfo
	refresh   TokenInfo
}

// New validates opts and builds a Client. It does not contact KSeF.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("ksef: Options.BaseURL is required")
	}
	u, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ksef: invalid BaseURL %q", opts.BaseURL)
	}
	c := &Client{
		base: u, baseStr: u.String(), ctxID: opts.Context, auth: opts.Auth, hc: opts.HTTPClient,
		log: opts.Logger, maxRetries: opts.MaxRetries, clock: opts.Clock, userAgent: opts.UserAgent,
		pageSize: opts.PageSize, authPoll: opts.AuthPollInterval,
		observer: observer{opts.Observer},
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "ksef")
	if c.maxRetries <= 0 {
		c.maxRetries = 4
	}
	if c.clock == nil {
		c.clock = WallClock{}
	}
	if c.userAgent == "" {
		c.userAgent = "ksef-sync"
	}
	if c.pageSize == 0 {
		c.pageSize = 1000
	}
	if c.pageSize < 10 || c.pageSize > 1000 {
		return nil, fmt.Errorf("ksef: PageSize %d outside 10..1000", c.pageSize)
	}
	if c.authPoll <= 0 {
		c.authPoll = time.Second
	}
	limits := ProductionLimits()
	for k, v := range opts.Limits {
		limits[k] = v
	}
	c.pacer = newPacer(c.clock, limits)
	c.pacer.observe = c.observer
	c.gate = firewallGateFor(c.baseStr, c.clock)
	return c, nil
}

func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 2 * time.Minute
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	// no overall Timeout: export parts may be 50 MB on slow links; callers bound calls with ctx
	return &http.Client{Transport: tr}
}

// Context returns the context identifier the client authenticates in.
func (c *Client) Context() ContextIdentifier { return c.ctxID }

// bearer modes for a call
type bearerMode int

const (
	bearerNone   bearerMode = iota
	bearerAccess            // managed access token (lazy login, refresh on 401)
	bearerFixed             // an explicit token (authentication or refresh token)
)

// call describes one API exchange.
type call struct {
	method      string
	path        string // relative to the base URL; ignored when rawURL is set
	rawURL      string // absolute pre-signed storage URL: no pacing, never a token
	query       url.Values
	header      map[string]string
	body        []byte
	contentType string
	bearer      bearerMode
	token       string // for bearerFixed
	want        []int  // accepted statuses; empty → any 2xx
	out         any    // JSON target
	raw         *[]byte
	respHeader  *http.Header
	// once marks a request that must not be repeated after it may have reached KSeF (a network
	// failure after connecting, or a 5xx): it fails with an *AmbiguousError instead. Rate limits,
	// firewall blocks and connection failures are still retried.
	once bool
	// check validates a 2xx body (a UPO is a UPO, a download matches its hash); a failure is
	// treated as weather and retried, and the body is never returned.
	check func(hdr http.Header, body []byte) error
}

// do runs a call through pacing, retries and error parsing.
func (c *Client) do(ctx context.Context, cl call) error {
	group := GroupStorage
	if cl.rawURL == "" {
		group = c.pacer.groupOf(cl.method, cl.path) // limits_follow.go
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if cl.rawURL == "" {
			if err := c.pacer.wait(ctx, counterKey(group, cl.method, cl.path)); err != nil {
				var rl *RateLimitError
				if errors.As(err, &rl) {
					return c.fail(cl, err) // held back, not sent: named like any failed call
				}
				return err
			}
		}
		token := cl.token
		if cl.bearer == bearerAccess {
			t, err := c.accessToken(ctx)
			if err != nil {
				return err
			}
			token = t
		}
		ticket, repace, err := c.admit(ctx, cl)
		if err != nil {
			return err
		}
		if repace {
			attempt-- // a pause at the firewall gate is not a retry of the operation
			continue
		}
		started := c.clock.Now()
		status, hdr, body, err := c.exchange(ctx, cl, token)
		c.observer.request(group, status, c.clock.Now().Sub(started))
		c.settle(cl, ticket, status, hdr, body, err)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if cl.once && !notSent(err) {
				return c.fail(cl, &AmbiguousError{Op: cl.method + " " + c.describe(cl), Err: err})
			}
			// Nobody listening (refused, no such host) is not cured in seconds: one quick second
			// try, then the caller's slower retry takes over (and `auth check` answers at once).
			if attempt >= c.maxRetries || (notSent(err) && attempt >= 1) {
				return c.fail(cl, err)
			}
			c.log.Debug("network error, retrying", "op", c.describe(cl), "attempt", attempt+1, "err", err)
			if err := c.backoff(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		c.logWarnings(cl, hdr)
		if accepted(status, cl.want) {
			derr := c.decode(cl, hdr, body)
			if derr == nil {
				return nil
			}
			// A 2xx whose body is not what we asked for (an HTML challenge page in place of a UPO or
			// JSON, a body that does not match its hash) is weather, not an answer.
			if cl.once {
				return c.fail(cl, &AmbiguousError{Op: cl.method + " " + c.describe(cl), Err: derr})
			}
			if attempt >= c.maxRetries {
				return c.fail(cl, derr)
			}
			c.log.Warn("KSeF answered something unexpected; retrying", "op", c.describe(cl), "status", status, "attempt", attempt+1, "err", derr)
			if err := c.backoff(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		perr := ParseErrorResponse(status, hdr, body)
		var rl *RateLimitError
		var blocked *BlockedError
		var unavail *UnavailableError
		switch {
		case errors.As(perr, &rl):
			rl.Group = group
			wait := max(rl.RetryAfter, time.Second)
			c.log.Warn("rate limited by KSeF", "group", group, "retry_after", wait)
			if cl.rawURL != "" {
				if attempt >= c.maxRetries {
					return c.fail(cl, perr)
				}
				if err := c.clock.Sleep(ctx, wait); err != nil {
					return err
				}
				continue
			}
			// Every later call of the group waits for the block's end, not only this one's retry.
			c.pacer.block(counterKey(group, cl.method, cl.path), c.clock.Now().Add(wait))
			if limit, bounded := waitLimitOf(ctx); attempt >= c.maxRetries || (bounded && wait > limit) {
				return c.fail(cl, perr)
			}
			continue // the pacer waits out the block before the next attempt
		case errors.As(perr, &blocked):
			// The firewall stopped the request before KSeF saw it: repeating cannot duplicate
			// anything, but it must be slower than for a 5xx, or the block only grows. An API call
			// waits at the firewall gate, which settle has closed (and logged, once per process).
			c.log.Debug("blocked by KSeF's firewall, incident "+orNone(blocked.IncidentID), "op", c.describe(cl), "status", status, "attempt", attempt+1)
			if attempt >= c.maxRetries {
				return c.fail(cl, perr)
			}
			if cl.rawURL != "" {
				if err := c.backoff(ctx, attempt+2); err != nil {
					return err
				}
			}
			continue
		case status >= 500 || errors.As(perr, &unavail):
			if errors.As(perr, &unavail) {
				c.log.Warn("KSeF is unavailable", "op", c.describe(cl), "status", status, "content_type", unavail.ContentType, "excerpt", unavail.Excerpt, "attempt", attempt+1)
			}
			if cl.once && status >= 500 {
				return c.fail(cl, &AmbiguousError{Op: cl.method + " " + c.describe(cl), Err: perr})
			}
			if attempt >= c.maxRetries {
				return c.fail(cl, perr)
			}
			c.log.Debug("server error, retrying", "op", c.describe(cl), "status", status, "attempt", attempt+1)
			wait := time.Duration(0)
			if unavail != nil {
				wait = unavail.RetryAfter
			}
			if limit, bounded := waitLimitOf(ctx); bounded && wait > limit {
				return c.fail(cl, perr) // the caller honours the Retry-After (RetryAfterHint)
			}
			if wait > 0 && wait <= time.Minute {
				err = c.clock.Sleep(ctx, wait)
			} else {
				err = c.backoff(ctx, attempt)
			}
			if err != nil {
				return err
			}
			continue
		case status == http.StatusUnauthorized && cl.bearer == bearerAccess && !refreshed:
			refreshed = true
			c.dropAccess(token)
			attempt-- // a token refresh is not a retry of the operation
			continue
		}
		return c.fail(cl, perr)
	}
}

// admit passes an API call through the firewall gate (firewall_gate.go). repace says the call waited
// there and was not the probe: it goes back to the pacer, whose slot is stale, and for a token, which
// may have expired meanwhile. A call the gate holds longer than the caller's wait limit fails with a
// held *BlockedError; nothing was sent.
func (c *Client) admit(ctx context.Context, cl call) (t gateTicket, repace bool, err error) {
	if cl.rawURL != "" {
		return gateTicket{}, false, nil // pre-signed storage links are another service
	}
	t, err = c.gate.enter(ctx, c.clock)
	var held *BlockedError
	if errors.As(err, &held) {
		return t, false, c.fail(cl, err)
	}
	return t, err == nil && t.paused && !t.probe, err
}

// settle tells the firewall gate what became of an API request it let through: blocked by the
// firewall, let through (any answer from behind it), or no answer at all.
func (c *Client) settle(cl call, t gateTicket, status int, hdr http.Header, body []byte, err error) {
	if cl.rawURL != "" {
		return
	}
	var blocked *BlockedError
	switch {
	case err != nil:
		c.gate.unsettled(t)
	case status == http.StatusForbidden && errors.As(classifyForeign(status, hdr, body), &blocked):
		c.gate.blocked(t, c.clock.Now(), blocked.IncidentID, c.log, c.describe(cl))
	default:
		c.gate.passed(t, c.clock.Now(), c.log)
	}
}

// fail names the call in the final error and says "KSeF does not answer" in plain words when the
// connection could not be made.
func (c *Client) fail(cl call, err error) error {
	if u := unreachable(c.hostURL(cl), err); u != nil {
		err = u
	}
	return fmt.Errorf("%s %s: %w", cl.method, c.describe(cl), err)
}

// hostURL is the base URL for API calls and the bare host of a storage URL (never its signature).
func (c *Client) hostURL(cl call) string {
	if cl.rawURL == "" {
		return c.baseStr
	}
	if u, err := url.Parse(cl.rawURL); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return "storage"
}

func orNone(s string) string {
	if s == "" {
		return "(none given)"
	}
	return s
}

func accepted(status int, want []int) bool {
	if len(want) == 0 {
		return status >= 200 && status < 300
	}
	for _, w := range want {
		if w == status {
			return true
		}
	}
	return false
}

// describe names the call for errors without leaking pre-signed URL signatures.
func (c *Client) describe(cl call) string {
	if cl.rawURL != "" {
		if u, err := url.Parse(cl.rawURL); err == nil {
			return u.Host + u.Path
		}
		return "storage URL"
	}
	return cl.path
}

const maxResponseBody = 64 << 20

// What the client accepts. open-api.json gives some errors only as application/problem+json
// (401, 403 and 410, e.g. paths["/sessions/{referenceNumber}"].get.responses["401"]) and the
// errors of the XML downloads as JSON, so both are named: a server that negotiates strictly would
// otherwise answer 406 in their place, and a 401 would no longer lead to a token refresh.
const (
	acceptJSON = "application/json, application/problem+json"
	acceptXML  = "application/xml, " + acceptJSON
)

// exchange performs one HTTP request; a non-nil error means a transport failure.
func (c *Client) exchange(ctx context.Context, cl call, token string) (int, http.Header, []byte, error) {
	target := cl.rawURL
	if target == "" {
		target = c.baseStr + cl.path
		if len(cl.query) > 0 {
			target += "?" + cl.query.Encode()
		}
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if cl.rawURL == "" {
		req.Header.Set("Accept", acceptJSON)
	}
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	for k, v := range cl.header {
		req.Header.Set(k, v)
	}
	if token != "" && cl.rawURL == "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, transportError(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return 0, nil, nil, transportError(fmt.Errorf("read body: %w", err))
	}
	return resp.StatusCode, resp.Header, data, nil
}

func (c *Client) decode(cl call, hdr http.Header, body []byte) error {
	if cl.check != nil {
		if err := cl.check(hdr, body); err != nil {
			return err
		}
	}
	if cl.respHeader != nil {
		*cl.respHeader = hdr
	}
	if cl.raw != nil {
		*cl.raw = body
	}
	if cl.out != nil {
		if !looksJSON(body) {
			ctype, _, _ := strings.Cut(hdr.Get("Content-Type"), ";")
			return &UnavailableError{HTTPStatus: 200, ContentType: ctype, Excerpt: excerpt(body)}
		}
		if err := json.Unmarshal(body, cl.out); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
	}
	return nil
}

// backoff sleeps a jittered exponential delay: 0.5 s, 1 s, 2 s … capped at 30 s, ±50 %.
func (c *Client) backoff(ctx context.Context, attempt int) error {
	d := 500 * time.Millisecond << min(attempt, 6)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	d = d/2 + time.Duration(rand.Int64N(int64(d)))
	return c.clock.Sleep(ctx, d)
}

var warningItem = regexp.MustCompile(`\[([^\]]+)\]: ([^|]+)`)

// logWarnings logs X-System-Warning items (§13): behaviour KSeF may reject in future.
func (c *Client) logWarnings(cl call, hdr http.Header) {
	for _, v := range hdr.Values("X-System-Warning") {
		for _, m := range parseSystemWarning(v) {
			c.log.Warn("KSeF system warning", "op", c.describe(cl), "code", m[0], "message", m[1])
		}
	}
}

// parseSystemWarning splits "[code]: message | [code]: message" into (code, message) pairs.
func parseSystemWarning(v string) [][2]string {
	var out [][2]string
	for _, m := range warningItem.FindAllStringSubmatch(v, -1) {
		out = append(out, [2]string{strings.TrimSpace(m[1]), strings.TrimSpace(m[2])})
	}
	if len(out) == 0 && strings.TrimSpace(v) != "" {
		out = append(out, [2]string{"", strings.TrimSpace(v)})
	}
	return out
}

// PostXML posts an XML document to an unauthenticated endpoint (used for /auth/xades-signature)
// through the same pacing, retry and error machinery, decoding the JSON answer into out.
func (c *Client) PostXML(ctx context.Context, path string, body []byte, out any) error {
	return c.do(ctx, call{method: http.MethodPost, path: path, body: body, contentType: "application/xml", out: out})
}

// transportError marks a failed exchange as retriable and strips query strings from the URL in
// the message: pre-signed storage URLs carry their signature there.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "(redacted)"
			ue.URL = u.String()
		}
	}
	return fmt.Errorf("%w: %w", errTransport, err)
}

// pathEscape escapes one path segment supplied by callers (reference numbers, KSeF numbers).
func pathEscape(s string) string { return url.PathEscape(s) }
