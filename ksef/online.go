package ksef

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// FormCode identifies the invoice schema (note the space in SystemCode).
type FormCode struct {
	SystemCode    string `json:"systemCode"`
	SchemaVersion string `json:"schemaVersion"`
	Value         string `json:"value"`
}

// FormFA3 is the FA(3) structured invoice.
var FormFA3 = FormCode{"FA (3)", "1-0E", "FA"}

// OnlineSession is an open interactive session with its AES key.
type OnlineSession struct {
	ReferenceNumber string
	ValidUntil      time.Time
	key             symKey
}

// Status is a KSeF processing status (invoice, session, export or auth operation).
type Status struct {
	Code        int               `json:"code"`
	Description string            `json:"description"`
	Details     []string          `json:"details,omitempty"`
	Extensions  map[string]string `json:"extensions,omitempty"`
}

// Duplicate reports the original KSeF number and session of a 440 duplicate invoice. KSeF names
// them in status.extensions, but open-api.json makes extensions optional and nullable
// (InvoiceStatusInfo), and KSeF answered without it until late 2025, naming both only in the
// details text: "Duplikat faktury. Faktura o numerze KSeF: 9999999999-20251120-0E00E071034B-CF
// została już prawidłowo przesłana do systemu w sesji: 20251120-SO-20F788B000-589949A428-22"
// (CIRFMF/ksef-api #380, #80). So a value extensions does not give is read from the details.
func (s Status) Duplicate() (originalKsefNumber, originalSessionRef string, ok bool) {
	if s.Code != 440 {
		return "", "", false
	}
	num, ref := s.Extensions["originalKsefNumber"], s.Extensions["originalSessionReferenceNumber"]
	for _, d := range s.Details {
		if num == "" {
			num = ksefNumberInText.FindString(d)
		}
		if ref == "" {
			ref = sessionRefInText.FindString(d)
		}
	}
	return num, ref, true
}

// A KSeF number (open-api.json, KsefNumber: 35 characters, or 36 with the legacy hyphen) and an
// online or batch session's reference number (-SO- or -SB-) inside a sentence.
var (
	ksefNumberInText = regexp.MustCompile(`\b[1-9]\d{9}-\d{8}-[0-9A-F]{6}-?[0-9A-F]{6}-[0-9A-F]{2}\b`)
	sessionRefInText = regexp.MustCompile(`\b\d{8}-S[OB]-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}\b`)
)

// Final reports whether an invoice status will not change any more (code >= 200).
func (s Status) Final() bool { return s.Code >= 200 }

// Transient reports an invoice status that calls for re-sending in a new session (550, 405).
func (s Status) Transient() bool { return s.Code == 550 || s.Code == 405 }

// OpenOnlineSession opens an interactive session with a fresh AES key.
func (c *Client) OpenOnlineSession(ctx context.Context, form FormCode) (*OnlineSession, error) {
	k, err := newSymKey()
	if err != nil {
		return nil, err
	}
	var out struct {
		ReferenceNumber string    `json:"referenceNumber"`
		ValidUntil      time.Time `json:"validUntil"`
	}
	err = c.withEncryption(ctx, k, func(enc encryptionInfo) error {
		body := map[string]any{"formCode": form, "encryption": enc}
		return c.postJSON(ctx, "/sessions/online", body, &out, bearerAccess, "", http.StatusCreated)
	})
	if err != nil {
		return nil, fmt.Errorf("open online session: %w", err)
	}
	c.log.Info("online session opened", "session", out.ReferenceNumber)
	return &OnlineSession{ReferenceNumber: out.ReferenceNumber, ValidUntil: out.ValidUntil, key: k}, nil
}

// SendOptions are the optional fields of an online invoice submission.
type SendOptions struct {
	OfflineMode            bool
	HashOfCorrectedInvoice string
}

// SentInvoice is KSeF's acknowledgement of a submission (processing is asynchronous).
type SentInvoice struct {
	ReferenceNumber string
	InvoiceHash     string // Base64 SHA-256 of the plaintext
}

// SendInvoice encrypts and submits one invoice in an online session.
func (c *Client) SendInvoice(ctx context.Context, s *OnlineSession, invoiceXML []byte, opt SendOptions) (*SentInvoice, error) {
	if s == nil || len(s.key.key) == 0 {
		return nil, errors.New("ksef: send invoice: session has no key")
	}
	enc, err := encryptCBC(s.key, invoiceXML)
	if err != nil {
		return nil, err
	}
	body := map[string]any{
		"invoiceHash":             hashB64(invoiceXML),
		"invoiceSize":             len(invoiceXML),
		"encryptedInvoiceHash":    hashB64(enc),
		"encryptedInvoiceSize":    len(enc),
		"encryptedInvoiceContent": base64.StdEncoding.EncodeToString(enc),
		"offlineMode":             opt.OfflineMode,
	}
	if opt.HashOfCorrectedInvoice != "" {
		body["hashOfCorrectedInvoice"] = opt.HashOfCorrectedInvoice
	}
	var out struct {
		ReferenceNumber string `json:"referenceNumber"`
	}
	raw, err := marshalJSON(body)
	if err != nil {
		return nil, err
	}
	// once: a send whose answer was lost may already be registered. Repeating it here would be a
	// duplicate submission; the engine instead reconciles against the session's invoice list.
	err = c.do(ctx, call{method: http.MethodPost, path: "/sessions/online/" + pathEscape(s.ReferenceNumber) + "/invoices",
		body: raw, contentType: "application/json", bearer: bearerAccess, out: &out, want: []int{http.StatusAccepted}, once: true})
	if err != nil {
		return nil, fmt.Errorf("send invoice: %w", err)
	}
	return &SentInvoice{ReferenceNumber: out.ReferenceNumber, InvoiceHash: body["invoiceHash"].(string)}, nil
}

// CloseOnlineSession closes an interactive session (starts collective UPO generation).
func (c *Client) CloseOnlineSession(ctx context.Context, sessionRef string) error {
	return c.closeSession(ctx, "online", sessionRef)
}

// closeSession closes the session of kind (online, batch) at POST /sessions/{kind}/{ref}/close.
func (c *Client) closeSession(ctx context.Context, kind, sessionRef string) error {
	err := c.do(ctx, call{method: http.MethodPost, path: "/sessions/" + kind + "/" + pathEscape(sessionRef) + "/close",
		bearer: bearerAccess, want: []int{http.StatusNoContent, http.StatusOK}})
	if err != nil {
		return fmt.Errorf("close %s session: %w", kind, err)
	}
	c.log.Info(kind+" session closed", "session", sessionRef)
	return nil
}

// SessionStatus is GET /sessions/{ref}.
type SessionStatus struct {
	Status                 Status     `json:"status"`
	DateCreated            time.Time  `json:"dateCreated"`
	DateUpdated            time.Time  `json:"dateUpdated"`
	ValidUntil             *time.Time `json:"validUntil"`
	UPO                    *UPOInfo   `json:"upo"`
	InvoiceCount           int        `json:"invoiceCount"`
	SuccessfulInvoiceCount int        `json:"successfulInvoiceCount"`
	FailedInvoiceCount     int        `json:"failedInvoiceCount"`
}

// UPOInfo lists the collective UPO pages of a session.
type UPOInfo struct {
	Pages []UPOPage `json:"pages"`
}

// UPOPage is one collective UPO page with its pre-signed download URL.
type UPOPage struct {
	ReferenceNumber           string    `json:"referenceNumber"`
	DownloadURL               string    `json:"downloadUrl"`
	DownloadURLExpirationDate time.Time `json:"downloadUrlExpirationDate"`
}

// SessionStatus fetches a session's status.
func (c *Client) SessionStatus(ctx context.Context, sessionRef string) (*SessionStatus, error) {
	var out SessionStatus
	if err := c.do(ctx, call{method: http.MethodGet, path: "/sessions/" + pathEscape(sessionRef), bearer: bearerAccess, out: &out}); err != nil {
		return nil, fmt.Errorf("session status: %w", err)
	}
	return &out, nil
}

// WaitSession polls the session status every interval until it leaves 100/150/170.
func (c *Client) WaitSession(ctx context.Context, sessionRef string, interval time.Duration) (*SessionStatus, error) {
	for {
		st, err := c.SessionStatus(ctx, sessionRef)
		if err != nil {
			return nil, err
		}
		switch st.Status.Code {
		case 100, 150, 170:
		default:
			return st, nil
		}
		if err := c.clock.Sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

// SessionInvoice is one invoice's processing state in a session.
type SessionInvoice struct {
	OrdinalNumber                int        `json:"ordinalNumber"`
	InvoiceNumber                string     `json:"invoiceNumber"`
	KsefNumber                   string     `json:"ksefNumber"`
	ReferenceNumber              string     `json:"referenceNumber"`
	InvoiceHash                  string     `json:"invoiceHash"`
	InvoiceFileName              string     `json:"invoiceFileName"`
	AcquisitionDate              *time.Time `json:"acquisitionDate"`
	InvoicingDate                *time.Time `json:"invoicingDate"`
	PermanentStorageDate         *time.Time `json:"permanentStorageDate"`
	UpoDownloadURL               string     `json:"upoDownloadUrl"`
	UpoDownloadURLExpirationDate *time.Time `json:"upoDownloadUrlExpirationDate"`
	InvoicingMode                string     `json:"invoicingMode"`
	Status                       Status     `json:"status"`
}

// SessionInvoice fetches one invoice's status.
func (c *Client) SessionInvoice(ctx context.Context, sessionRef, invoiceRef string) (*SessionInvoice, error) {
	var out SessionInvoice
	path := "/sessions/" + pathEscape(sessionRef) + "/invoices/" + pathEscape(invoiceRef)
	if err := c.do(ctx, call{method: http.MethodGet, path: path, bearer: bearerAccess, out: &out}); err != nil {
		return nil, fmt.Errorf("invoice status: %w", err)
	}
	return &out, nil
}

// ListSessionInvoices calls fn for every invoice of the session across all pages
// (x-continuation-token paging); failedOnly lists /failed.
func (c *Client) ListSessionInvoices(ctx context.Context, sessionRef string, failedOnly bool, fn func(SessionInvoice) error) error {
	path := "/sessions/" + pathEscape(sessionRef) + "/invoices"
	if failedOnly {
		path += "/failed"
	}
	cl := call{method: http.MethodGet, path: path, bearer: bearerAccess,
		query: url.Values{"pageSize": {strconv.Itoa(c.pageSize)}}}
	return eachContinued[SessionInvoice, sessionInvoicePage](ctx, c, "list session invoices", cl, fn)
}

type sessionInvoicePage struct {
	ContinuationToken string           `json:"continuationToken"`
	Invoices          []SessionInvoice `json:"invoices"`
}

func (p *sessionInvoicePage) page() (string, []SessionInvoice) {
	return p.ContinuationToken, p.Invoices
}

// eachContinued calls fn for every item of a list KSeF pages with x-continuation-token, asking for
// page after page (P is the page's JSON shape) until one carries no token. A token that does not
// advance is an error: KSeF would otherwise be asked for the same page for ever.
func eachContinued[T, P any, PP interface {
	*P
	page() (string, []T)
}](ctx context.Context, c *Client, what string, cl call, fn func(T) error) error {
	token := ""
	for page := 0; ; page++ {
		var out P
		cl.out, cl.header = PP(&out), nil
		if token != "" {
			cl.header = map[string]string{"x-continuation-token": token}
		}
		if err := c.do(ctx, cl); err != nil {
			return fmt.Errorf("%s (page %d): %w", what, page+1, err)
		}
		next, items := PP(&out).page()
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		if next == token {
			return fmt.Errorf("ksef: %s: continuation token did not advance", what)
		}
		token = next
	}
}

// SessionListFilter narrows ListSessions. SessionType (Online | Batch) is required.
type SessionListFilter struct {
	SessionType     string
	Statuses        []string // InProgress | Succeeded | Failed | Cancelled
	DateCreatedFrom *time.Time
	DateCreatedTo   *time.Time
}

// SessionListItem is one entry of GET /sessions.
type SessionListItem struct {
	ReferenceNumber        string     `json:"referenceNumber"`
	Status                 Status     `json:"status"`
	DateCreated            time.Time  `json:"dateCreated"`
	DateUpdated            time.Time  `json:"dateUpdated"`
	ValidUntil             *time.Time `json:"validUntil"`
	TotalInvoiceCount      int        `json:"totalInvoiceCount"`
	SuccessfulInvoiceCount int        `json:"successfulInvoiceCount"`
	FailedInvoiceCount     int        `json:"failedInvoiceCount"`
}

// ListSessions calls fn for every session matching f across all pages (used to reconcile after a
// crash: which of our sessions are still open). Rate limit is low (5/s, 10/min, 60/h).
func (c *Client) ListSessions(ctx context.Context, f SessionListFilter, fn func(SessionListItem) error) error {
	if f.SessionType != "Online" && f.SessionType != "Batch" {
		return fmt.Errorf("ksef: list sessions: sessionType %q (want Online or Batch)", f.SessionType)
	}
	q := url.Values{"sessionType": {f.SessionType}, "pageSize": {strconv.Itoa(c.pageSize)}}
	for _, s := range f.Statuses {
		q.Add("statuses", s)
	}
	if f.DateCreatedFrom != nil {
		q.Set("dateCreatedFrom", f.DateCreatedFrom.UTC().Format(time.RFC3339Nano))
	}
	if f.DateCreatedTo != nil {
		q.Set("dateCreatedTo", f.DateCreatedTo.UTC().Format(time.RFC3339Nano))
	}
	cl := call{method: http.MethodGet, path: "/sessions", query: q, bearer: bearerAccess}
	return eachContinued[SessionListItem, sessionListPage](ctx, c, "list sessions", cl, fn)
}

type sessionListPage struct {
	ContinuationToken string            `json:"continuationToken"`
	Sessions          []SessionListItem `json:"sessions"`
}

func (p *sessionListPage) page() (string, []SessionListItem) { return p.ContinuationToken, p.Sessions }
