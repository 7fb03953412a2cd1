package ksef

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DateRange of a metadata query or export. DateType: Issue | Invoicing | PermanentStorage.
type DateRange struct {
	DateType                          string
	From                              time.Time
	To                                *time.Time
	RestrictToPermanentStorageHwmDate bool
}

// MarshalJSON always sends explicit UTC offsets (values without offset mean Warsaw time to KSeF).
func (d DateRange) MarshalJSON() ([]byte, error) {
	w := struct {
		DateType string  `json:"dateType"`
		From     string  `json:"from"`
		To       *string `json:"to,omitempty"`
		Restrict *bool   `json:"restrictToPermanentStorageHwmDate,omitempty"`
	}{DateType: d.DateType, From: d.From.UTC().Format(time.RFC3339Nano)}
	if d.To != nil {
		s := d.To.UTC().Format(time.RFC3339Nano)
		w.To = &s
	}
	if d.RestrictToPermanentStorageHwmDate {
		t := true
		w.Restrict = &t
	}
	return json.Marshal(w)
}

// AmountFilter filters by an amount. Type: Brutto | Netto | Vat.
type AmountFilter struct {
	Type string   `json:"type"`
	From *float64 `json:"from,omitempty"`
	To   *float64 `json:"to,omitempty"`
}

// BuyerIdentifier of a query. Type: Nip | VatUe | Other | None.
type BuyerIdentifier struct {
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
}

// QueryFilters is the spec's InvoiceQueryFilters. SubjectType: Subject1 | Subject2 | Subject3 | SubjectAuthorized.
type QueryFilters struct {
	SubjectType     string           `json:"subjectType"`
	DateRange       DateRange        `json:"dateRange"`
	KsefNumber      string           `json:"ksefNumber,omitempty"`
	InvoiceNumber   string           `json:"invoiceNumber,omitempty"`
	Amount          *AmountFilter    `json:"amount,omitempty"`
	SellerNip       string           `json:"sellerNip,omitempty"`
	BuyerIdentifier *BuyerIdentifier `json:"buyerIdentifier,omitempty"`
	CurrencyCodes   []string         `json:"currencyCodes,omitempty"`
	InvoicingMode   string           `json:"invoicingMode,omitempty"`
	IsSelfInvoicing *bool            `json:"isSelfInvoicing,omitempty"`
	FormType        string           `json:"formType,omitempty"`
	InvoiceTypes    []string         `json:"invoiceTypes,omitempty"`
	HasAttachment   *bool            `json:"hasAttachment,omitempty"`
}

// InvoiceMetadata is the spec's InvoiceMetadata (also the entries of an export's _metadata.json).
type InvoiceMetadata struct {
	KsefNumber             string                     `json:"ksefNumber"`
	InvoiceNumber          string                     `json:"invoiceNumber"`
	IssueDate              string                     `json:"issueDate"` // YYYY-MM-DD
	InvoicingDate          time.Time                  `json:"invoicingDate"`
	AcquisitionDate        time.Time                  `json:"acquisitionDate"`
	PermanentStorageDate   time.Time                  `json:"permanentStorageDate"`
	Seller                 MetadataSeller             `json:"seller"`
	Buyer                  MetadataBuyer              `json:"buyer"`
	NetAmount              float64                    `json:"netAmount"`
	GrossAmount            float64                    `json:"grossAmount"`
	VatAmount              float64                    `json:"vatAmount"`
	Currency               string                     `json:"currency"`
	InvoicingMode          string                     `json:"invoicingMode"`
	InvoiceType            string                     `json:"invoiceType"`
	FormCode               FormCode                   `json:"formCode"`
	IsSelfInvoicing        bool                       `json:"isSelfInvoicing"`
	HasAttachment          bool                       `json:"hasAttachment"`
	InvoiceHash            string                     `json:"invoiceHash"`
	HashOfCorrectedInvoice string                     `json:"hashOfCorrectedInvoice,omitempty"`
	ThirdSubjects          []MetadataThirdSubject     `json:"thirdSubjects,omitempty"`
	AuthorizedSubject      *MetadataAuthorizedSubject `json:"authorizedSubject,omitempty"`
}

// MetadataSeller is InvoiceMetadataSeller.
type MetadataSeller struct {
	Nip  string `json:"nip"`
	Name string `json:"name,omitempty"`
}

// MetadataIdentifier is a typed identifier (buyer: Nip|VatUe|Other|None; third subject adds InternalId).
type MetadataIdentifier struct {
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
}

// MetadataBuyer is InvoiceMetadataBuyer.
type MetadataBuyer struct {
	Identifier MetadataIdentifier `json:"identifier"`
	Name       string             `json:"name,omitempty"`
}

// MetadataThirdSubject is InvoiceMetadataThirdSubject.
type MetadataThirdSubject struct {
	Identifier MetadataIdentifier `json:"identifier"`
	Name       string             `json:"name,omitempty"`
	Role       int                `json:"role"`
}

// MetadataAuthorizedSubject is InvoiceMetadataAuthorizedSubject.
type MetadataAuthorizedSubject struct {
	Nip  string `json:"nip"`
	Name string `json:"name,omitempty"`
	Role int    `json:"role"`
}

// MetadataPage is one page of POST /invoices/query/metadata.
type MetadataPage struct {
	HasMore                 bool              `json:"hasMore"`
	IsTruncated             bool              `json:"isTruncated"`
	PermanentStorageHwmDate *time.Time        `json:"permanentStorageHwmDate"`
	Invoices                []InvoiceMetadata `json:"invoices"`
}

// QueryMetadata fetches one page (pageOffset is the page index; pageSize 10..250; sortOrder Asc|Desc or "").
func (c *Client) QueryMetadata(ctx context.Context, f QueryFilters, pageOffset, pageSize int, sortOrder string) (*MetadataPage, error) {
	if pageOffset < 0 || pageSize < 10 || pageSize > 250 {
		return nil, fmt.Errorf("ksef: query metadata: pageOffset %d / pageSize %d outside 0.. / 10..250", pageOffset, pageSize)
	}
	if sortOrder != "" && sortOrder != "Asc" && sortOrder != "Desc" {
		return nil, fmt.Errorf("ksef: query metadata: sortOrder %q (want Asc or Desc)", sortOrder)
	}
	q := url.Values{"pageOffset": {strconv.Itoa(pageOffset)}, "pageSize": {strconv.Itoa(pageSize)}}
	if sortOrder != "" {
		q.Set("sortOrder", sortOrder)
	}
	body, err := marshalJSON(f)
	if err != nil {
		return nil, err
	}
	var out MetadataPage
	err = c.do(ctx, call{method: http.MethodPost, path: "/invoices/query/metadata", query: q, body: body,
		contentType: "application/json", bearer: bearerAccess, out: &out})
	if err != nil {
		return nil, fmt.Errorf("query metadata: %w", err)
	}
	return &out, nil
}

// GetInvoice downloads one invoice's XML by KSeF number (low volume only: 64/h). A body that does
// not match x-ms-meta-hash, or is not XML at all (an HTML page), is retried and never returned.
func (c *Client) GetInvoice(ctx context.Context, ksefNumber string) ([]byte, error) {
	var body []byte
	err := c.do(ctx, call{method: http.MethodGet, path: "/invoices/ksef/" + pathEscape(ksefNumber), bearer: bearerAccess,
		raw: &body, check: checkInvoiceBody, header: map[string]string{"Accept": acceptXML}})
	if err != nil {
		return nil, fmt.Errorf("get invoice: %w", err)
	}
	return body, nil
}

func checkInvoiceBody(hdr http.Header, body []byte) error {
	if err := checkMetaHash(hdr, body); err != nil {
		return err
	}
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(b) == 0 || b[0] != '<' || bytes.HasPrefix(bytes.ToLower(b), []byte("<!doctype html")) || bytes.HasPrefix(bytes.ToLower(b), []byte("<html")) {
		return &UnavailableError{HTTPStatus: http.StatusOK, ContentType: "not an invoice", Excerpt: excerpt(body)}
	}
	return nil
}
