package ksef

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Authenticator performs the method-specific step of a login for a fresh challenge.
type Authenticator interface {
	// Init performs the method-specific step for a fresh challenge and returns KSeF's 202 answer.
	Init(ctx context.Context, c *Client, ch Challenge) (*AuthInit, error)
	Method() string // "token" | "certificate" (for logs)
}

// Challenge is the answer of POST /auth/challenge.
type Challenge struct {
	Challenge   string    `json:"challenge"`
	Timestamp   time.Time `json:"timestamp"`
	TimestampMs int64     `json:"timestampMs"`
	ClientIP    string    `json:"clientIp"`
}

// AuthInit is the 202 answer of /auth/ksef-token and /auth/xades-signature.
type AuthInit struct {
	ReferenceNumber     string    `json:"referenceNumber"`
	AuthenticationToken TokenInfo `json:"authenticationToken"`
}

// TokenInfo is a bearer token with its expiry.
type TokenInfo struct {
	Token      string    `json:"token"`
	ValidUntil time.Time `json:"validUntil"`
}

// TokenAuth logs in with a KSeF token in the client's context.
type TokenAuth struct{ Token string }

// Method implements Authenticator.
func (TokenAuth) Method() string { return "token" }

// String hides the token from %v formatting.
func (TokenAuth) String() string { return "TokenAuth{***}" }

// Init encrypts "token|timestampMs" with the KsefTokenEncryption key and posts /auth/ksef-token.
func (a TokenAuth) Init(ctx context.Context, c *Client, ch Challenge) (*AuthInit, error) {
	// The token may come straight from a file written by a Windows tool (BOM, UTF-16).
	tok, err := DecodeTokenFile([]byte(a.Token))
	if err != nil {
		return nil, fmt.Errorf("ksef: KSeF token: %w", err)
	}
	if err := CheckToken(tok, c.contextNIP()); err != nil {
		return nil, fmt.Errorf("ksef: KSeF token: %w", err) // never sent: KSeF would not log it in here
	}
	plain := []byte(tok + "|" + strconv.FormatInt(ch.TimestampMs, 10))
	var out AuthInit
	err = c.withKeyRetry(ctx, func() error {
		enc, keyID, err := c.EncryptWithKey(ctx, UsageKsefToken, plain)
		if err != nil {
			return err
		}
		body := map[string]any{
			"challenge":         ch.Challenge,
			"contextIdentifier": map[string]string{"type": c.ctxID.Type, "value": c.ctxID.Value},
			"encryptedToken":    enc,
			"publicKeyId":       keyID,
		}
		return c.postJSON(ctx, "/auth/ksef-token", body, &out, bearerNone, "", http.StatusAccepted)
	})
	if err != nil {
		return nil, fmt.Errorf("ksef-token auth: %w", err)
	}
	return &out, nil
}

// contextNIP is the NIP of the client's context, "" for another kind of context.
func (c *Client) contextNIP() string {
	if c.ctxID.Type == "Nip" {
		return c.ctxID.Value
	}
	return ""
}

const tokenMargin = 60 * time.Second

// TokenExpiry reports when the current access and refresh tokens expire (zero if none).
func (c *Client) TokenExpiry() (access, refresh time.Time) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	return c.access.ValidUntil, c.refresh.ValidUntil
}

// accessToken returns a usable access token, refreshing or logging in as needed.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if t, ok := c.currentAccess(); ok {
		return t, nil
	}
	if err := c.authMu.lock(ctx); err != nil {
		return "", err
	}
	defer c.authMu.unlock()
	if t, ok := c.currentAccess(); ok { // another goroutine did it meanwhile
		return t, nil
	}
	if err := c.refreshAccess(ctx); err == nil {
		t, _ := c.currentAccess()
		return t, nil
	} else if ctx.Err() != nil {
		return "", ctx.Err()
	} else if IsTransient(err) && !errors.Is(err, errNoRefresh) {
		// A firewall block or an outage on /auth/token/refresh says nothing about our tokens:
		// keep the refresh token and let the caller retry later, rather than log in again.
		return "", err
	} else if !errors.Is(err, errNoRefresh) {
		c.log.Info("token refresh failed, logging in again", "err", err)
	}
	if err := c.login(ctx); err != nil {
		return "", err
	}
	t, _ := c.currentAccess()
	return t, nil
}

func (c *Client) currentAccess() (string, bool) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.access.Token == "" || !c.clock.Now().Add(tokenMargin).Before(c.access.ValidUntil) {
		return "", false
	}
	return c.access.Token, true
}

// dropAccess forgets an access token KSeF rejected (unless it was already replaced).
func (c *Client) dropAccess(token string) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.access.Token == token {
		c.access = TokenInfo{}
	}
}

var errNoRefresh = errors.New("no usable refresh token")

func (c *Client) refreshAccess(ctx context.Context) error {
	c.tokMu.Lock()
	rt := c.refresh
	c.tokMu.Unlock()
	if rt.Token == "" || !c.clock.Now().Add(tokenMargin).Before(rt.ValidUntil) {
		return errNoRefresh
	}
	var out struct {
		AccessToken TokenInfo `json:"accessToken"`
	}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/auth/token/refresh", bearer: bearerFixed, token: rt.Token, out: &out}); err != nil {
		if IsTransient(err) {
			return fmt.Errorf("refresh access token: %w", err)
		}
		c.tokMu.Lock()
		if c.refresh.Token == rt.Token {
			c.refresh = TokenInfo{}
		}
		c.tokMu.Unlock()
		return fmt.Errorf("refresh access token: %w", err)
	}
	if out.AccessToken.Token == "" {
		return errors.New("refresh access token: empty token in answer")
	}
	c.tokMu.Lock()
	c.access = out.AccessToken
	c.tokMu.Unlock()
	c.log.Debug("access token refreshed", "valid_until", out.AccessToken.ValidUntil)
	return nil
}

// Login runs the full flow: challenge → Auth.Init → poll /auth/{ref} → redeem.
func (c *Client) Login(ctx context.Context) error {
	if err := c.authMu.lock(ctx); err != nil {
		return err
	}
	defer c.authMu.unlock()
	return c.login(ctx)
}

func (c *Client) login(ctx context.Context) error {
	if err := c.loginSteps(ctx); err != nil {
		le := &LoginError{Err: err}
		if c.auth != nil {
			le.Method = c.auth.Method()
		}
		return le
	}
	return nil
}

func (c *Client) loginSteps(ctx context.Context) error {
	if c.auth == nil {
		return errors.New("ksef: no Authenticator configured")
	}
	err := c.loginOnce(ctx)
	var spent *SpentLoginError
	if errors.As(err, &spent) {
		c.log.Warn("KSeF would not go on with the login ("+spent.Reason()+"); logging in again", "err", spent.Err)
		err = c.loginOnce(ctx)
	}
	return err
}

// loginOnce is one login: challenge (or the pending login), the method's step, waiting for
// status 200, and redeeming the tokens.
func (c *Client) loginOnce(ctx context.Context) error {
	p, resumed, err := c.startOrResume(ctx)
	if err != nil {
		return err
	}
	if err := c.waitAuth(ctx, p, resumed); err != nil {
		return err
	}
	init := p.init
	var out struct {
		AccessToken  TokenInfo `json:"accessToken"`
		RefreshToken TokenInfo `json:"refreshToken"`
	}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/auth/token/redeem", bearer: bearerFixed, token: init.AuthenticationToken.Token, out: &out}); err != nil {
		// A second redeem "zwróci błąd 400" (CIRFMF/ksef-docs uwierzytelnianie.md): the login is
		// spent. Other refusals (403 ip-not-allowed, …) stay what they are.
		if api := (*APIError)(nil); errors.As(err, &api) && api.HTTPStatus == http.StatusBadRequest {
			err = &SpentLoginError{Step: "redeem", Err: err}
		}
		return fmt.Errorf("redeem: %w", err)
	}
	c.tokMu.Lock()
	c.access, c.refresh = out.AccessToken, out.RefreshToken
	c.tokMu.Unlock()
	c.log.Info("logged in", "method", c.auth.Method(), "auth_ref", init.ReferenceNumber,
		"access_valid_until", out.AccessToken.ValidUntil, "refresh_valid_until", out.RefreshToken.ValidUntil,
		"took", c.clock.Now().Sub(p.since).Round(time.Second))
	return nil
}

// pendingLogin is a login KSeF started and has not finished (authentication status 100). The
// next login polls it again rather than start another: KSeF may be slow with every login for a
// while, and a fresh one would only queue behind the first. Guarded by authMu.
type pendingLogin struct {
	init  *AuthInit
	since time.Time
}

// pendingKeep is how long a pending login is polled again when KSeF gave no validity for its
// authenticationToken (KSeF's last about 45 minutes).
const pendingKeep = 40 * time.Minute

// usable reports whether p's authenticationToken may still be used to ask about it.
func (p *pendingLogin) usable(now time.Time) bool {
	until := p.init.AuthenticationToken.ValidUntil
	if until.IsZero() {
		until = p.since.Add(pendingKeep)
	}
	return now.Add(tokenMargin).Before(until)
}

// authFailed is the error of a login KSeF ended with status st. A 450 that blames the challenge
// ("Nieprawidłowe wyzwanie autoryzacyjne", open-api.json AuthenticationOperationStatusResponse)
// blames no credential: the challenge was used or stale, as when a start of the login is repeated
// after its answer was lost, and a new login gets a new one.
func authFailed(st Status) error {
	err := &AuthError{Code: st.Code, Description: st.Description, Details: st.Details}
	if st.Code == 450 && slices.Contains(st.Details, "Nieprawidłowe wyzwanie autoryzacyjne") {
		return &SpentLoginError{Step: "challenge", Err: err}
	}
	return err
}

// codeBadChallenge is KSeF's 21111 "Nieprawidłowe wyzwanie autoryzacyjne" (open-api.json, the
// 400 of POST /auth/ksef-token and /auth/xades-signature): the challenge is unknown, used or stale.
const codeBadChallenge = 21111

// startOrResume returns the login KSeF is still processing, while its authenticationToken lasts
// (resumed), or starts a new one: challenge, then the method's own step.
func (c *Client) startOrResume(ctx context.Context) (p *pendingLogin, resumed bool, err error) {
	if p := c.pending; p != nil {
		c.pending = nil
		if p.usable(c.clock.Now()) {
			return p, true, nil
		}
		c.log.Warn("KSeF never finished the login it started; starting a new one", "auth_ref", p.init.ReferenceNumber,
			"started", p.since)
	}
	var ch Challenge
	if err := c.do(ctx, call{method: http.MethodPost, path: "/auth/challenge", out: &ch}); err != nil {
		return nil, false, fmt.Errorf("challenge: %w", err)
	}
	init, err := c.auth.Init(ctx, c, ch)
	if api := (*APIError)(nil); errors.As(err, &api) && api.HasCode(codeBadChallenge) {
		err = &SpentLoginError{Step: "challenge", Err: err}
	}
	if err != nil {
		return nil, false, err
	}
	return &pendingLogin{init: init, since: c.clock.Now()}, false, nil
}

// loginUnknown reports KSeF answering the status of a login with what open-api.json gives for
// GET /auth/{referenceNumber} when the login is no longer there to ask about: 401 (its
// authenticationToken no longer valid), 410 "Operacja wygasła", or 400 21304 "Brak
// uwierzytelnienia" (the operation not found). None is a verdict on the credentials, which KSeF
// gives as a status code of the login (450, 415, …); a new login is the way on.
func loginUnknown(err error) bool {
	var api *APIError
	if !errors.As(err, &api) {
		return false
	}
	return api.HTTPStatus == http.StatusUnauthorized || api.HTTPStatus == http.StatusGone || api.HasCode(21304)
}

// SetLoginWait bounds how long one call waits for KSeF to finish a login (authentication status
// 100): after d, or after one more look at a login an earlier call left pending, the call fails
// with a LoginPendingError and the login is kept for the next call. A daemon sets it, so its loop
// goes on claiming and rejecting files while KSeF keeps a login at 100: production has done so for
// half an hour (CIRFMF/ksef-api #567). 0, the default, waits for as long as the call's context
// lets it, as a one-off command wants.
func (c *Client) SetLoginWait(d time.Duration) { c.loginWait.Store(int64(d)) }

// waitAuth polls GET /auth/{ref} until the status leaves 100, or until the login wait is over
// (see SetLoginWait). Whenever it gives up on a login KSeF may still finish (the wait, the
// caller's context, weather on the status request), it keeps p for the next login.
func (c *Client) waitAuth(ctx context.Context, p *pendingLogin, resumed bool) error {
	start := c.clock.Now()
	for {
		var st struct {
			Status Status `json:"status"`
		}
		err := c.do(ctx, call{method: http.MethodGet, path: "/auth/" + pathEscape(p.init.ReferenceNumber),
			bearer: bearerFixed, token: p.init.AuthenticationToken.Token, out: &st})
		switch {
		case loginUnknown(err):
			return &SpentLoginError{Step: "status", Err: fmt.Errorf("auth status: %w", err)}
		case err != nil:
			if ctx.Err() != nil || IsRetriable(err) {
				c.pending = p
			}
			return fmt.Errorf("auth status: %w", err)
		case st.Status.Code == 200:
			return nil
		case st.Status.Code != 100:
			return authFailed(st.Status)
		}
		// Read at every turn: a daemon may set the wait while a login started before is waiting.
		if wait := time.Duration(c.loginWait.Load()); wait > 0 && (resumed || c.clock.Now().Sub(start) >= wait) {
			c.pending = p
			if !resumed {
				c.log.Warn("KSeF has not finished the login yet (authentication status 100); it is asked again on the next call",
					"auth_ref", p.init.ReferenceNumber, "waited", c.clock.Now().Sub(start).Round(time.Second))
			}
			return &LoginPendingError{Ref: p.init.ReferenceNumber, Since: p.since}
		}
		if err := c.clock.Sleep(ctx, c.authPoll); err != nil {
			c.pending = p
			return err
		}
	}
}

// Logout ends the current authentication session (DELETE /auth/sessions/current) and forgets tokens.
func (c *Client) Logout(ctx context.Context) error {
	if err := c.authMu.lock(ctx); err != nil {
		return err
	}
	defer c.authMu.unlock()
	c.tokMu.Lock()
	tok := c.access.Token
	if tok == "" || !c.clock.Now().Before(c.access.ValidUntil) {
		tok = c.refresh.Token
	}
	c.access, c.refresh = TokenInfo{}, TokenInfo{}
	c.tokMu.Unlock()
	if tok == "" {
		return nil
	}
	err := c.do(ctx, call{method: http.MethodDelete, path: "/auth/sessions/current", bearer: bearerFixed, token: tok})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// postJSON is a JSON POST with the given bearer mode.
func (c *Client) postJSON(ctx context.Context, path string, in, out any, mode bearerMode, token string, want ...int) error {
	body, err := marshalJSON(in)
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodPost, path: path, body: body, contentType: "application/json",
		bearer: mode, token: token, out: out, want: want})
}

// authLock serialises login and refresh. Unlike a sync.Mutex, a caller waiting for it gives up
// when its context ends: another goroutine's login may wait minutes for KSeF's authentication
// status (it stays at 100 while KSeF is slow), and `send -timeout 5m` must end after 5 minutes,
// not when that login does. The zero value is ready to use.
type authLock struct {
	once sync.Once
	ch   chan struct{}
}

func (l *authLock) lock(ctx context.Context) error {
	l.once.Do(func() { l.ch = make(chan struct{}, 1) })
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *authLock) unlock() { <-l.ch }
