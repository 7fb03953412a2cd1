package ksef

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// APIError is a non-2xx answer from KSeF other than 429. Codes holds the KSeF exception codes
// (e.g. 21405, 21470) from either the legacy exception body or the problem-details body.
type APIError struct {
	HTTPStatus int
	Codes      []ErrorDetail
	Title      string
	Detail     string
	TraceID    string
	ReasonCode string // 403 problem details
	// Permissions of a 403 missing-permissions (ForbiddenProblemDetails.security): the operation
	// needs one of Required; the credentials hold Present in this context.
	Required, Present []string
}

// ErrorDetail is one KSeF exception code with its description.
type ErrorDetail struct {
	Code        int
	Description string
	Details     []string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ksef: HTTP %d", e.HTTPStatus)
	if e.Title != "" {
		fmt.Fprintf(&b, " %s", e.Title)
	}
	if e.ReasonCode != "" {
		fmt.Fprintf(&b, " (%s)", e.ReasonCode)
	}
	if len(e.Required) > 0 {
		present := strings.Join(e.Present, ", ")
		if present == "" {
			present = "none"
		}
		fmt.Fprintf(&b, ": the operation needs one of %s; these credentials hold %s in this context", strings.Join(e.Required, ", "), present)
	}
	for _, c := range e.Codes {
		fmt.Fprintf(&b, "; %d: %s", c.Code, c.Description)
		if len(c.Details) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(c.Details, "; "))
		}
	}
	if e.Detail != "" && len(e.Codes) == 0 {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

// HasCode reports whether KSeF answered with the given exception code.
func (e *APIError) HasCode(code int) bool {
	for _, c := range e.Codes {
		if c.Code == code {
			return true
		}
	}
	return false
}

// RateLimitError is a 429 answer (RetryAfter is the server's Retry-After, 0 if absent or
// unparseable; while KSeF's block lasts, what is left of it), or, with Ours, a request our own
// pacer held back because its wait was longer than the caller allows (WithWaitLimit): nothing was
// sent, and RetryAfter is when our budget has room again.
type RateLimitError struct {
	RetryAfter time.Duration
	Group      string
	Ours       bool
}

func (e *RateLimitError) Error() string {
	if e.Ours {
		return fmt.Sprintf("ksef: our share of KSeF's rate limit for group %q is used up; next request in %s", e.Group, e.RetryAfter)
	}
	return fmt.Sprintf("ksef: rate limited (group %q), retry after %s", e.Group, e.RetryAfter)
}

// AuthError is a failed authentication operation (GET /auth/{ref} status other than 100/200).
type AuthError struct {
	Code        int
	Description string
	Details     []string
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("ksef: authentication failed: %d %s", e.Code, e.Description)
	if len(e.Details) > 0 {
		s += " [" + strings.Join(e.Details, "; ") + "]"
	}
	return s
}

// IsRetriable reports whether repeating the same operation later may succeed: 5xx, network
// failures, 429 and the "cancelled by system" status 550.
func IsRetriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var rl *RateLimitError
	var blocked *BlockedError
	var unavail *UnavailableError
	var spent *SpentLoginError
	if errors.As(err, &rl) || errors.As(err, &blocked) || errors.As(err, &unavail) || errors.As(err, &spent) {
		return true
	}
	var api *APIError
	if errors.As(err, &api) {
		return api.HTTPStatus >= 500
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		return authRetriable(ae.Code)
	}
	var lp *LoginPendingError
	if errors.As(err, &lp) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status.Code == 550
	}
	return isNetworkError(err)
}

// LoginPendingError is a login KSeF has not finished (authentication status 100, "Uwierzytelnianie
// w toku") within the client's login wait (Client.SetLoginWait). It says nothing about the
// credentials: the next call that needs a token asks about the same login again.
type LoginPendingError struct {
	Ref   string    // the authentication operation's reference number
	Since time.Time // when the login was started
}

func (e *LoginPendingError) Error() string {
	return fmt.Sprintf("KSeF has not finished the login %s started at %s (authentication status 100); invoices wait until it does",
		e.Ref, e.Since.UTC().Format(time.RFC3339))
}

// SpentLoginError is KSeF refusing to go on with a login because a step of it was already used:
// a challenge answered with 21111 "Nieprawidłowe wyzwanie autoryzacyjne" (KSeF generates "unikalny
// challenge" for the one next step, open-api.json POST /auth/challenge), or the redeem of a login
// KSeF had accepted (status 200) answered with a 400, typically 21301 "Operacja uwierzytelniania …
// nie jest w stanie umożliwiającym pobranie tokenów" (CIRFMF/ksef-api #325; "Każde kolejne
// wywołanie z tym samym authenticationToken zwróci błąd 400", CIRFMF/ksef-docs
// uwierzytelnianie.md). Both follow a repeat after a lost answer (a gateway's 5xx or a dropped
// connection after KSeF did the work). Step "status" is KSeF no longer knowing the login whose
// status the client asks (GET /auth/{referenceNumber}: 401, 410 "Operacja wygasła", 400 21304
// "Brak uwierzytelnienia", open-api.json), which says as little about the credentials. The
// credentials are fine: a new login helps.
type SpentLoginError struct {
	Step string // "challenge", "redeem" or "status"
	Err  error
}

func (e *SpentLoginError) Error() string {
	return fmt.Sprintf("KSeF would not go on with the login (%s): %v", e.Reason(), e.Err)
}

// Reason says in words why the login cannot go on.
func (e *SpentLoginError) Reason() string {
	if e.Step == "status" {
		return "it no longer knows the login in progress: expired or lost"
	}
	return "its " + e.Step + " was already used; an earlier answer may have been lost"
}

func (e *SpentLoginError) Unwrap() error { return e.Err }

// authRetriable reports an authentication status that is KSeF's own failure, not a verdict on the
// credentials (open-api.json, AuthenticationOperationStatusResponse.status): 550 "Operacja została
// anulowana przez system … Spróbuj ponownie", and 500 "Nieznany błąd", which names no fault of the
// credentials (asked of the Ministry in CIRFMF/ksef-api #79, unanswered). Every other final code
// (415, 425, 450, 460, 470, 480) needs someone to fix the credentials or permissions.
func authRetriable(code int) bool { return code == 550 || code == 500 }

func isNetworkError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, errTransport)
}

// LoginError wraps every failure of the login flow, so callers can tell "KSeF refused our
// credentials" (not retriable: someone must fix them) from a failed operation.
type LoginError struct {
	Err error
	// Method is the Authenticator's method ("token", "certificate").
	Method string
}

func (e *LoginError) Error() string {
	s := "login: " + e.Err.Error()
	var ae *AuthError
	var api *APIError
	refused := !IsRetriable(e.Err) && (errors.As(e.Err, &ae) || errors.As(e.Err, &api) && api.HTTPStatus >= 400 && api.HTTPStatus < 500)
	switch {
	case noPermissions(e.Err):
		// open-api.json, authentication status 415 "Uwierzytelnianie zakończone niepowodzeniem |
		// Brak przypisanych uprawnień": the credentials are good but their owner holds no permission
		// in this context. New credentials would not help, and an office that revokes its
		// certificate on that advice locks out every other company.
		s += ": KSeF accepted the credentials but their owner has no permissions in this context: the context's owner grants them (InvoiceWrite, InvoiceRead) in the KSeF application"
	case e.Method == "token" && refused:
		// KSeF refused the token itself: name both fixes, since tokens end for everyone on a
		// fixed day (auth.token_deadline).
		s += `: KSeF refused the token. Generate a new token in the KSeF application, or switch [auth] method to "certificate" (README: Certificate login)`
	}
	return s
}

// noPermissions reports KSeF's authentication status 415: no permissions in the context.
func noPermissions(err error) bool {
	var ae *AuthError
	return errors.As(err, &ae) && ae.Code == 415
}
func (e *LoginError) Unwrap() error { return e.Err }

// IsCredentialsProblem reports a login that KSeF refused for reasons retrying will not fix: a bad
// token or certificate, missing permissions, a rejected signature.
func IsCredentialsProblem(err error) bool {
	var le *LoginError
	return errors.As(err, &le) && !IsRetriable(le.Err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// notSent reports a failure that happened before the request could reach the server (DNS, connect),
// so repeating it cannot duplicate anything.
func notSent(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// errTransport marks failures of the HTTP exchange itself (connection reset, truncated body).
var errTransport = errors.New("ksef: transport failure")

// StatusError is an operation that finished with a non-success processing status (e.g. export 415).
type StatusError struct {
	Op     string
	Status Status
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ksef: %s: status %d %s %v", e.Op, e.Status.Code, e.Status.Description, e.Status.Details)
}

// wire forms of the error bodies (§7.2)
type exceptionBody struct {
	Exception *struct {
		ExceptionDetailList []struct {
			ExceptionCode        int      `json:"exceptionCode"`
			ExceptionDescription string   `json:"exceptionDescription"`
			Details              []string `json:"details"`
		} `json:"exceptionDetailList"`
		ReferenceNumber string `json:"referenceNumber"`
		ServiceCode     string `json:"serviceCode"`
	} `json:"exception"`
	// problem details
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	TraceID    string `json:"traceId"`
	ReasonCode string `json:"reasonCode"`
	Security   struct {
		RequiredAnyOfPermissions []string `json:"requiredAnyOfPermissions"`
		PresentPermissions       []string `json:"presentPermissions"`
	} `json:"security"`
	Errors []struct {
		Code        int      `json:"code"`
		Description string   `json:"description"`
		Details     []string `json:"details"`
	} `json:"errors"`
	// legacy 429 body
	// legacy 429 body has an object here, problem details a number
	Status json.RawMessage `json:"status"`
}

const maxErrorText = 512

// ParseErrorResponse turns any non-2xx answer into a typed error: *RateLimitError for 429,
// *BlockedError for a firewall block, *UnavailableError for an answer that did not come from KSeF
// (an HTML or otherwise non-JSON 5xx, an HTML page), *APIError otherwise. It never fails:
// unparseable bodies end up (shortened) in Detail.
func ParseErrorResponse(status int, header http.Header, body []byte) error {
	if status == http.StatusTooManyRequests {
		ra, _ := parseRetryAfter(header.Get("Retry-After"))
		return &RateLimitError{RetryAfter: ra}
	}
	if e := storageRefusal(status, body); e != nil {
		return e
	}
	if err := classifyForeign(status, header, body); err != nil {
		return err
	}
	e := &APIError{HTTPStatus: status}
	var eb exceptionBody
	if len(body) > 0 && json.Unmarshal(body, &eb) == nil {
		if eb.Exception != nil {
			for _, d := range eb.Exception.ExceptionDetailList {
				e.Codes = append(e.Codes, ErrorDetail{Code: d.ExceptionCode, Description: d.ExceptionDescription, Details: d.Details})
			}
			if e.TraceID == "" {
				e.TraceID = eb.Exception.ReferenceNumber
			}
		}
		for _, d := range eb.Errors {
			e.Codes = append(e.Codes, ErrorDetail{Code: d.Code, Description: d.Description, Details: d.Details})
		}
		e.Title, e.Detail, e.ReasonCode = eb.Title, eb.Detail, eb.ReasonCode
		e.Required, e.Present = eb.Security.RequiredAnyOfPermissions, eb.Security.PresentPermissions
		if eb.TraceID != "" {
			e.TraceID = eb.TraceID
		}
		var legacy struct {
			Description string `json:"description"`
		}
		if len(eb.Status) > 0 && eb.Status[0] == '{' && json.Unmarshal(eb.Status, &legacy) == nil && e.Detail == "" {
			e.Detail = legacy.Description
		}
		return e
	}
	if len(body) > 0 {
		e.Detail = shortText(body)
	}
	if e.Title == "" {
		e.Title = http.StatusText(status)
	}
	return e
}

func shortText(b []byte) string {
	if len(b) > maxErrorText {
		b = b[:maxErrorText]
	}
	s := strings.ToValidUTF8(string(b), "?")
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimSpace(s)
}

// maxRetryAfter bounds a Retry-After: a wait of more than a day is no pacing KSeF documents. On a
// 429 it is capped at a day (read as nothing, it made the client ask again after a second, into a
// block KSeF may lengthen); on a gateway's 5xx it is ignored and the backoff decides, so that a
// proxy's absurd hint cannot hold the invoices for a day.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter accepts delta-seconds (what KSeF sends) and HTTP-dates; 0 when there is none.
// A wait over maxRetryAfter comes back as maxRetryAfter with overADay set.
func parseRetryAfter(v string) (d time.Duration, overADay bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second)+1)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(time.Until(t), 0)
	}
	if d > maxRetryAfter {
		return maxRetryAfter, true
	}
	return d, false
}

// azureError is the error body of Azure Blob Storage, which serves KSeF's pre-signed URLs (they
// carry its SAS parameters sv, se, sr, sp, sig; a batch part upload asks for its x-ms-blob-type
// header): <?xml version="1.0" encoding="utf-8"?><Error><Code>string-value</Code>
// <Message>string-value</Message></Error> (learn.microsoft.com/rest/api/storageservices/
// status-and-error-codes2), with <AuthenticationErrorDetail> on an authentication failure.
type azureError struct {
	XMLName                   xml.Name `xml:"Error"`
	Code                      string   `xml:"Code"`
	Message                   string   `xml:"Message"`
	AuthenticationErrorDetail string   `xml:"AuthenticationErrorDetail"`
}

// storageRefusal reads a storage 4xx: a link past its expiry answers 403 AuthenticationFailed
// ("Signed expiry time … must be after signed start time", learn.microsoft.com, "Troubleshoot 403
// errors in Azure Blob Storage"). That is a refusal of this link, which no retry changes, not the
// firewall's block (an HTML page or its JSON), so it becomes an *APIError. Nil for anything else.
func storageRefusal(status int, body []byte) *APIError {
	if status < 400 || status > 499 || status == http.StatusRequestTimeout {
		return nil
	}
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if !bytes.HasPrefix(b, []byte("<?xml")) && !bytes.HasPrefix(b, []byte("<Error")) {
		return nil
	}
	var ae azureError
	if xml.Unmarshal(b, &ae) != nil || ae.Code == "" {
		return nil
	}
	msg, _, _ := strings.Cut(strings.TrimSpace(ae.Message), "\n") // then RequestId and Time lines
	if d := strings.TrimSpace(ae.AuthenticationErrorDetail); d != "" {
		msg += " (" + d + ")"
	}
	return &APIError{HTTPStatus: status, Title: ae.Code, Detail: shortText([]byte(msg))}
}
