package ksefsim

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ksef-sync/ksef-sync/ksef/xades"
)

const (
	challengeTTL    = 10 * time.Minute
	authTokenTTL    = 45 * time.Minute
	accessTokenTTL  = 15 * time.Minute
	refreshTokenTTL = 7 * 24 * time.Hour
	authRetention   = 7 * 24 * time.Hour
)

type handlerFunc func(http.ResponseWriter, *apiRequest)

func (s *Server) route(method, tmpl string) handlerFunc {
	switch method + " " + tmpl {
	case "GET /security/public-key-certificates":
		return s.handlePublicKeys
	case "POST /auth/challenge":
		return s.handleChallenge
	case "POST /auth/ksef-token":
		return s.handleKsefToken
	case "POST /auth/xades-signature":
		return s.handleXades
	case "GET /auth/{referenceNumber}":
		return s.handleAuthStatus
	case "POST /auth/token/redeem":
		return s.withAuthOp(s.handleRedeem, "authentication")
	case "POST /auth/token/refresh":
		return s.withAuthOp(s.handleRefresh, "refresh")
	case "DELETE /auth/sessions/current":
		return s.withAuthOp(s.handleRevokeCurrent, "access", "refresh")
	case "POST /sessions/online":
		return s.authed(s.handleOpenOnline)
	case "POST /sessions/online/{referenceNumber}/invoices":
		return s.authed(s.handleSendInvoice)
	case "POST /sessions/online/{referenceNumber}/close":
		return s.authed(s.handleCloseOnline)
	case "POST /sessions/batch":
		return s.authed(s.handleOpenBatch)
	case "POST /sessions/batch/{referenceNumber}/close":
		return s.authed(s.handleCloseBatch)
	case "GET /sessions":
		return s.authed(s.handleListSessions)
	case "GET /sessions/{referenceNumber}":
		return s.authed(s.handleSessionStatus)
	case "GET /sessions/{referenceNumber}/invoices":
		return s.authed(s.handleSessionInvoices(false))
	case "GET /sessions/{referenceNumber}/invoices/failed":
		return s.authed(s.handleSessionInvoices(true))
	case "GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}":
		return s.authed(s.handleInvoiceStatus)
	case "GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo":
		return s.authed(s.handleInvoiceUPO)
	case "GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo":
		return s.authed(s.handleInvoiceUPOByKsef)
	case "GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}":
		return s.authed(s.handleSessionUPO)
	case "POST /invoices/query/metadata":
		return s.authed(s.handleQueryMetadata)
	case "GET /invoices/ksef/{ksefNumber}":
		return s.authed(s.handleGetInvoice)
	case "POST /invoices/exports":
		return s.authed(s.handleCreateExport)
	case "GET /invoices/exports/{referenceNumber}":
		return s.authed(s.handleExportStatus)
	case "GET /rate-limits":
		return s.authed(s.handleRateLimits)
	case "GET /limits/context":
		return s.authed(s.handleContextLimits) // context_limits.go
	case "POST /testdata/limits/context/session":
		return s.authed(s.handleSetContextLimits)
	case "DELETE /testdata/limits/context/session":
		return s.authed(s.handleResetContextLimits)
	}
	if h := s.rateLimitsRoute(method + " " + tmpl); h != nil { // ratelimit_testdata.go
		return h
	}
	return s.attachmentRoute(method + " " + tmpl) // attachments.go
}

// authed requires a live access token.
func (s *Server) authed(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, ar *apiRequest) {
		if ar.bearer == nil || ar.bearer.Kind != "access" {
			writeProblem(w, ar.r, 401, "Unauthorized", "Access token is missing, invalid or expired.")
			return
		}
		h(w, ar)
	}
}

func (s *Server) handlePublicKeys(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	keys := append([]*keyPair(nil), s.st.Keys...)
	s.mu.Unlock()
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, map[string]any{
			"certificate":   base64.StdEncoding.EncodeToString(k.CertDER),
			"certificateId": k.certificateID(),
			"publicKeyId":   k.publicKeyID(),
			"validFrom":     fmtTime(k.ValidFrom),
			"validTo":       fmtTime(k.ValidTo),
			"usage":         []string{k.Usage},
		})
	}
	writeJSON(w, 200, out)
}

func (s *Server) handleChallenge(w http.ResponseWriter, ar *apiRequest) {
	now := ar.now
	c := &challenge{Value: newReferenceNumber(now, "CR"), Created: now, Timestamp: now.UnixMilli()}
	s.mu.Lock()
	for v, old := range s.st.Challenges {
		if now.Sub(old.Created) > 2*challengeTTL {
			delete(s.st.Challenges, v)
		}
	}
	s.st.Challenges[c.Value] = c
	s.pruneAuthLocked(now)
	s.markDirty()
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"challenge": c.Value, "timestamp": fmtTime(now), "timestampMs": c.Timestamp, "clientIp": ar.ip})
}

// pruneAuthLocked forgets expired tokens and auth operations past retention, so the state does
// not grow with every login of a long-running simulator.
func (s *Server) pruneAuthLocked(now time.Time) {
	for tok, b := range s.st.Bearers {
		if now.Sub(b.ValidUntil) > time.Hour {
			delete(s.st.Bearers, tok)
		}
	}
	for ref, op := range s.st.Auths {
		if now.Sub(op.Start) > 2*authRetention {
			delete(s.st.Auths, ref)
		}
	}
}

// takeChallengeLocked returns the challenge if known, unused and fresh; it is then consumed. KSeF
// "Generuje unikalny challenge wymagany w kolejnym kroku operacji uwierzytelnienia" (open-api.json,
// POST /auth/challenge), valid 10 minutes (digest §2.2); any other is answered with 21111
// "Nieprawidłowe wyzwanie autoryzacyjne" (the 400 table of POST /auth/ksef-token).
func (s *Server) takeChallengeLocked(value string, now time.Time) (*challenge, bool) {
	c := s.st.Challenges[value]
	if c == nil || c.Used || now.Sub(c.Created) > challengeTTL || now.Before(c.Created) {
		return nil, false
	}
	c.Used = true
	return c, true
}

// findKeyLocked returns the keys of usage matching publicKeyId ("" = all of that usage).
func (s *Server) findKeysLocked(usage, publicKeyID string) ([]*keyPair, bool) {
	var out []*keyPair
	now := s.now()
	for _, k := range s.st.Keys {
		// an expired certificate's key is no longer accepted unless a newer certificate (a
		// re-certification, same publicKeyId) still covers it
		if k.Usage != usage || !now.Before(k.ValidTo) && !s.keyStillCertifiedLocked(k, now) {
			continue
		}
		if publicKeyID == "" || k.publicKeyID() == publicKeyID {
			out = append(out, k)
		}
	}
	return out, len(out) > 0
}

func (s *Server) keyStillCertifiedLocked(k *keyPair, now time.Time) bool {
	id := k.publicKeyID()
	for _, o := range s.st.Keys {
		if o != k && o.Usage == k.Usage && now.Before(o.ValidTo) && o.publicKeyID() == id {
			return true
		}
	}
	return false
}

func decryptWithAny(keys []*keyPair, ct []byte) ([]byte, bool) {
	for _, k := range keys {
		if pt, err := rsaDecryptOAEP(k, ct); err == nil {
			return pt, true
		}
	}
	return nil, false
}

type contextIdentifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func (s *Server) handleKsefToken(w http.ResponseWriter, ar *apiRequest) {
	var req struct {
		Challenge         string            `json:"challenge"`
		ContextIdentifier contextIdentifier `json:"contextIdentifier"`
		EncryptedToken    string            `json:"encryptedToken"`
		PublicKeyID       *string           `json:"publicKeyId"`
	}
	if !decodeBody(w, ar, &req) {
		return
	}
	ct, ok := decodeBase64(w, ar, "encryptedToken", req.EncryptedToken)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, ok := s.findKeysLocked(usageToken, deref(req.PublicKeyID))
	if !ok {
		writeException(w, ar.r, 400, 21470, "Nieprawidłowy lub wycofany klucz publiczny.", "unknown publicKeyId")
		return
	}
	c, ok := s.takeChallengeLocked(req.Challenge, ar.now)
	if !ok {
		writeException(w, ar.r, 400, 21111, "Nieprawidłowe wyzwanie autoryzacyjne.", "challenge unknown, already used or older than 10 minutes")
		return
	}
	op := s.newAuthOpLocked(ar.now, req.ContextIdentifier, "Token", "token", "Token KSeF")
	code, details := s.checkTokenLocked(ct, keys, c, req.ContextIdentifier, op)
	op.Code, op.Description, op.Details = code, authDescription(code), details
	s.respondAuthInit(w, op, ar.now)
}

// checkTokenLocked decides a token login. The details of a 450 are KSeF's words from the table of
// AuthenticationOperationStatusResponse.status (open-api.json): "Nieprawidłowy token", "Nieprawidłowy
// czas tokena" (the timestamp in the encrypted token is not the challenge's), and so on.
func (s *Server) checkTokenLocked(ct []byte, keys []*keyPair, c *challenge, ctx contextIdentifier, op *authOp) (int, []string) {
	pt, ok := decryptWithAny(keys, ct)
	if !ok {
		return 450, []string{"Nieprawidłowy token"}
	}
	i := strings.LastIndexByte(string(pt), '|')
	if i < 0 {
		return 450, []string{"Nieprawidłowy token"}
	}
	token, msText := string(pt[:i]), string(pt[i+1:])
	ms, err := strconv.ParseInt(msText, 10, 64)
	if err != nil || ms != c.Timestamp {
		return 450, []string{"Nieprawidłowy czas tokena"}
	}
	nip, ok := s.st.Tokens[token]
	if !ok {
		return 450, []string{"Nieprawidłowy token"}
	}
	op.TokenRef = s.st.TokenRefs[token]
	if ctx.Type != "Nip" || nip != ctx.Value {
		// A token works only in the context it was generated in, whatever grants its NIP holds
		// elsewhere (grants.go; CIRFMF/ksef-api #741).
		return 450, []string{"Nieprawidłowy token"}
	}
	return 200, nil
}

func authDescription(code int) string {
	switch code {
	case 100:
		return "Uwierzytelnianie w toku"
	case 200:
		return "Uwierzytelnianie zakończone sukcesem"
	case 415:
		return "Uwierzytelnianie zakończone niepowodzeniem"
	case 425:
		return "Uwierzytelnienie unieważnione"
	case 450:
		return "Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu"
	case 460:
		return "Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu"
	case 470:
		return "Uwierzytelnianie zakończone niepowodzeniem"
	case 480:
		return "Uwierzytelnienie zablokowane"
	case 550:
		return "Operacja została anulowana przez system"
	}
	return "Nieznany błąd"
}

func (s *Server) newAuthOpLocked(now time.Time, ctx contextIdentifier, category, code, name string) *authOp {
	op := &authOp{Ref: newReferenceNumber(now, "AU"), NIP: ctx.Value, ContextType: ctx.Type, Method: category, MethodCode: code, MethodName: name, Start: now}
	s.st.Auths[op.Ref] = op
	return op
}

// respondAuthInit issues the authenticationToken for op; callers hold s.mu.
func (s *Server) respondAuthInit(w http.ResponseWriter, op *authOp, now time.Time) {
	s.takeLoginFaultLocked(op) // status_faults.go
	s.takeLoginHoldLocked(op)
	s.st.Counters.LoginsStarted++
	tok := s.newBearerLocked("authentication", op, now.Add(authTokenTTL))
	op.AuthTokenValue = tok
	s.markDirty()
	s.log.Info("authentication started", "auth", op.Ref, "method", op.Method, "result", op.Code)
	writeJSON(w, 202, map[string]any{"referenceNumber": op.Ref, "authenticationToken": tokenInfo(tok, now.Add(authTokenTTL))})
}

// tokenInfo is the spec's TokenInfo: a token and the end of its validity.
func tokenInfo(token string, validUntil time.Time) map[string]any {
	return map[string]any{"token": token, "validUntil": fmtTime(validUntil)}
}

// newAccessTokenLocked mints an access token for op, valid for accessTokenTTL from now, as the
// TokenInfo that redeem and refresh both answer with.
func (s *Server) newAccessTokenLocked(op *authOp, now time.Time) map[string]any {
	until := now.Add(accessTokenTTL)
	return tokenInfo(s.newBearerLocked("access", op, until), until)
}

// newBearerLocked mints a JWT-looking opaque token tracked server-side.
func (s *Server) newBearerLocked(kind string, op *authOp, until time.Time) string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{"typ": kind, "ref": op.Ref, "ctx": op.ContextType + ":" + op.NIP, "exp": until.Unix(), "jti": randomHex(8)})
	sig := base64.RawURLEncoding.EncodeToString([]byte(randomHex(16)))
	tok := hdr + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + sig
	s.st.Bearers[tok] = &bearer{Kind: kind, AuthRef: op.Ref, NIP: op.NIP, ValidUntil: until}
	return tok
}

// visibleAuthCode hides the result while the operation is still "in progress".
func (s *Server) visibleAuthCode(op *authOp, now time.Time) int {
	if op.Held || now.Before(op.Start.Add(s.opts.ProcessingDelay)) {
		return 100
	}
	return op.Code
}

// bearerOneOf answers 401 unless the request carries a token of one of kinds.
func bearerOneOf(w http.ResponseWriter, ar *apiRequest, kinds ...string) bool {
	if ar.bearer == nil || !contains(kinds, ar.bearer.Kind) {
		writeProblem(w, ar.r, 401, "Unauthorized", "Token is missing, invalid or expired.")
		return false
	}
	return true
}

// withAuthOp serves the routes that act on the caller's own authentication operation (redeem,
// refresh, revoke): under s.mu it finds the operation behind a token of one of kinds, answering 401
// when there is none, and hands it to h.
func (s *Server) withAuthOp(h func(http.ResponseWriter, *apiRequest, *authOp), kinds ...string) handlerFunc {
	return func(w http.ResponseWriter, ar *apiRequest) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !bearerOneOf(w, ar, kinds...) {
			return
		}
		op := s.st.Auths[ar.bearer.AuthRef]
		if op == nil {
			writeProblem(w, ar.r, 401, "Unauthorized", "Authentication operation not found.")
			return
		}
		h(w, ar, op)
	}
}

func (s *Server) handleAuthStatus(w http.ResponseWriter, ar *apiRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !bearerOneOf(w, ar, "authentication", "access") {
		return
	}
	op := s.st.Auths[ar.params["referenceNumber"]]
	if op == nil || op.NIP != ar.bearer.NIP {
		writeException(w, ar.r, 400, 21304, "Brak uwierzytelnienia.", "authentication operation not found")
		return
	}
	if statusGone(w, ar, op.Start, authRetention, "Authentication operation") {
		return
	}
	writeJSON(w, 200, s.authStatusBody(op, ar.now))
}

func (s *Server) authStatusBody(op *authOp, now time.Time) map[string]any {
	code := s.visibleAuthCode(op, now)
	status := map[string]any{"code": code, "description": authDescription(code)}
	if code != 100 && len(op.Details) > 0 {
		status["details"] = op.Details
	}
	method := "Token"
	if op.Method == "XadesSignature" {
		method = "QualifiedSignature"
	}
	body := map[string]any{
		"startDate":                fmtTime(op.Start),
		"authenticationMethod":     method,
		"authenticationMethodInfo": map[string]any{"category": op.Method, "code": op.MethodCode, "displayName": op.MethodName},
		"status":                   status,
	}
	if op.Redeemed {
		body["isTokenRedeemed"] = true
		body["refreshTokenValidUntil"] = fmtTime(op.RefreshUntil)
	}
	if !op.LastRefresh.IsZero() {
		body["lastTokenRefreshDate"] = fmtTime(op.LastRefresh)
	}
	return body
}

func (s *Server) handleRedeem(w http.ResponseWriter, ar *apiRequest, op *authOp) {
	if op.Redeemed {
		// "Tokeny można pobrać tylko raz" (open-api.json); "Każde kolejne wywołanie z tym samym
		// authenticationToken zwróci błąd 400" (CIRFMF/ksef-docs uwierzytelnianie.md, step 4). KSeF
		// answers a redeem of an operation that cannot give tokens with 21301 and these words
		// (CIRFMF/ksef-api #325, #335).
		writeException(w, ar.r, 400, 21301, "Brak autoryzacji.",
			fmt.Sprintf("Operacja uwierzytelniania %s nie jest w stanie umożliwiającym pobranie tokenów.", op.Ref))
		return
	}
	if code := s.visibleAuthCode(op, ar.now); code != 200 {
		// KSeF's words for it (CIRFMF/ksef-api #567).
		writeException(w, ar.r, 400, 21301, "Brak autoryzacji.", fmt.Sprintf("Status uwierzytelniania (%d) nie pozwala na pobranie tokenów.", code))
		return
	}
	op.Redeemed = true
	op.RefreshUntil = ar.now.Add(refreshTokenTTL)
	access := s.newAccessTokenLocked(op, ar.now)
	op.RefreshToken = s.newBearerLocked("refresh", op, op.RefreshUntil)
	s.markDirty()
	writeJSON(w, 200, map[string]any{
		"accessToken":  access,
		"refreshToken": tokenInfo(op.RefreshToken, op.RefreshUntil),
	})
}

func (s *Server) handleRefresh(w http.ResponseWriter, ar *apiRequest, op *authOp) {
	if op.TokenRevoked {
		// open-api.json, POST /auth/token/refresh, 400: "21301 | Brak autoryzacji. | Token KSeF
		// został unieważniony." A login made with a token revoked since gets no new access token.
		writeException(w, ar.r, 400, 21301, "Brak autoryzacji.", "Token KSeF został unieważniony.")
		return
	}
	if op.Code == 425 {
		// CIRFMF/ksef-api #524: after DELETE /auth/sessions/current, "po wygaśnięciu accesstokena i
		// próbie wywołania /auth/token/refresh otrzymuję kod 400"; open-api.json, POST
		// /auth/token/refresh, 400: "21301 | Brak autoryzacji. | Status uwierzytelniania
		// ({operation.Status}) nie pozwala na odświeżenie tokenu dostępowego."
		writeException(w, ar.r, 400, 21301, "Brak autoryzacji.", "Status uwierzytelniania (425) nie pozwala na odświeżenie tokenu dostępowego.")
		return
	}
	op.LastRefresh = ar.now
	access := s.newAccessTokenLocked(op, ar.now)
	s.markDirty()
	writeJSON(w, 200, map[string]any{"accessToken": access})
}

// handleRevokeCurrent ends the login: open-api.json, DELETE /auth/sessions/current: "powiązany z nią
// refresh token przestaje działać … Aktywne access tokeny działają do czasu minięcia ich termin
// ważności." The operation moves to 425 "Uwierzytelnienie unieważnione"
// (AuthenticationOperationStatusResponse), which handleRefresh then refuses with 400 21301.
func (s *Server) handleRevokeCurrent(w http.ResponseWriter, ar *apiRequest, op *authOp) {
	op.Code, op.Description, op.Details = 425, authDescription(425), nil
	s.markDirty()
	w.WriteHeader(204)
}

// handleXades verifies a signed AuthTokenRequest with package xades, then applies the trust rules.
func (s *Server) handleXades(w http.ResponseWriter, ar *apiRequest) {
	req, err := xades.VerifyAuthTokenRequest(ar.body, ar.now)
	if err != nil {
		var ve *xades.VerifyError
		if errors.As(err, &ve) {
			writeException(w, ar.r, 400, ve.Code, ve.Description)
			return
		}
		writeException(w, ar.r, 400, 21401, "Dokument nie jest zgodny ze schematem.", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.takeChallengeLocked(req.Challenge, ar.now); !ok {
		writeException(w, ar.r, 400, 21111, "Nieprawidłowe wyzwanie autoryzacyjne.", "challenge unknown, already used or older than 10 minutes")
		return
	}
	cert := req.Certificate
	if cert == nil {
		writeException(w, ar.r, 400, 9102, "Brak podpisu.", "no signing certificate")
		return
	}
	if ar.now.Before(cert.NotBefore) || ar.now.After(cert.NotAfter) {
		writeException(w, ar.r, 400, 21115, "Nieprawidłowy certyfikat.", "certificate expired/not yet valid")
		return
	}
	ctx := contextIdentifier{Type: req.ContextType, Value: req.ContextValue}
	code, msg, permitted := s.trustCertificateLocked(cert, ctx, req.SubjectIdentifierType)
	if code != 0 {
		writeException(w, ar.r, 400, code, "Nieprawidłowy certyfikat.", msg)
		return
	}
	op := s.newAuthOpLocked(ar.now, ctx, "XadesSignature", "xades.signature", "Podpis XAdES")
	op.DocumentHash = sha256B64(ar.body)
	op.GrantOwner = s.loginGrantOwnerLocked(cert, ctx) // grants.go: the permissions its requests hold
	op.Code, op.Description = 200, authDescription(200)
	if !permitted {
		// A trusted certificate whose owner holds no permission in the context: the login starts
		// and ends with 415 "Brak przypisanych uprawnień" (AuthenticationOperationStatusResponse),
		// as for any credential without permissions (grants.go).
		op.Code, op.Description, op.Details = 415, authDescription(415), []string{"Brak przypisanych uprawnień"}
	}
	s.respondAuthInit(w, op, ar.now)
}

// trustCertificateLocked decides whether KSeF trusts cert (else a 400 code and its message) and
// whether the certificate's owner holds permissions in ctx: its own NIP's context, or one whose
// owner granted them (grants.go).
func (s *Server) trustCertificateLocked(cert *x509.Certificate, ctx contextIdentifier, subjectType string) (code int, msg string, permitted bool) {
	if ctx.Type == "Nip" && s.certGrantedLocked(cert, ctx.Value) {
		return 0, "", true // an office's certificate acting for a client that granted it permissions
	}
	fp := certFingerprint(cert)
	trusted := false
	for _, c := range s.opts.TrustedCerts[ctx.Value] {
		if certFingerprint(c) == fp {
			trusted = true
		}
	}
	if subjectType == "certificateFingerprint" {
		if !trusted {
			return 21115, "certificate fingerprint " + fp + " is not registered for " + ctx.Value, false
		}
		return 0, "", true
	}
	if trusted {
		return 0, "", true
	}
	// CheckSignatureFrom would demand a CA flag that TEST self-signed certificates do not carry.
	selfSigned := bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
	nip, ok := xades.CertificateNIP(cert)
	if !s.opts.TrustAnySelfSigned || !selfSigned {
		return 21115, "certificate is not trusted", false
	}
	if !ok {
		// open-api.json: 21117 "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu."
		return 21117, "certificate subject identifier does not fit the context " + ctx.Type + " " + ctx.Value, false
	}
	return 0, "", nip == ctx.Value
}

func certFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
