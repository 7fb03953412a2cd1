package ksef

import (
	"context"
	"fmt"
	"net/http"
)

// DownloadUPO fetches a UPO from a pre-signed storage URL (no token, no pacing) and verifies the
// x-ms-meta-hash header when present.
func (c *Client) DownloadUPO(ctx context.Context, url string) ([]byte, error) {
	var body []byte
	var hdr http.Header
	if err := c.do(ctx, call{method: http.MethodGet, rawURL: url, raw: &body, respHeader: &hdr}); err != nil {
		return nil, fmt.Errorf("download UPO: %w", err)
	}
	if err := checkMetaHash(hdr, body); err != nil {
		return nil, fmt.Errorf("download UPO: %w", err)
	}
	return body, nil
}

// InvoiceUPO fetches the UPO of one invoice by its reference number.
func (c *Client) InvoiceUPO(ctx context.Context, sessionRef, invoiceRef string) ([]byte, error) {
	return c.getUPO(ctx, "/sessions/"+pathEscape(sessionRef)+"/invoices/"+pathEscape(invoiceRef)+"/upo")
}

// InvoiceUPOByKsefNumber fetches the UPO of one invoice by its KSeF number.
func (c *Client) InvoiceUPOByKsefNumber(ctx context.Context, sessionRef, ksefNumber string) ([]byte, error) {
	return c.getUPO(ctx, "/sessions/"+pathEscape(sessionRef)+"/invoices/ksef/"+pathEscape(ksefNumber)+"/upo")
}

// SessionUPO fetches one collective UPO page of a session.
func (c *Client) SessionUPO(ctx context.Context, sessionRef, upoRef string) ([]byte, error) {
	return c.getUPO(ctx, "/sessions/"+pathEscape(sessionRef)+"/upo/"+pathEscape(upoRef))
}

func (c *Client) getUPO(ctx context.Context, path string) ([]byte, error) {
	var body []byte
	var hdr http.Header
	err := c.do(ctx, call{method: http.MethodGet, path: path, bearer: bearerAccess, raw: &body, respHeader: &hdr,
		header: map[string]string{"Accept": "application/xml"}})
	if err != nil {
		return nil, fmt.Errorf("get UPO: %w", err)
	}
	if err := checkMetaHash(hdr, body); err != nil {
		return nil, fmt.Errorf("get UPO: %w", err)
	}
	return body, nil
}

// checkMetaHash verifies x-ms-meta-hash (Base64 SHA-256 of the body) when the server sent it.
func checkMetaHash(hdr http.Header, body []byte) error {
	want := hdr.Get("x-ms-meta-hash")
	if want == "" {
		return nil
	}
	if got := hashB64(body); got != want {
		return fmt.Errorf("ksef: content hash mismatch (x-ms-meta-hash %s, got %s)", want, got)
	}
	return nil
}
